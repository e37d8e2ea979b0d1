import { assertEquals } from "../tests/testing/assert.ts";
import { buildPost, RawHttpConnection } from "./raw_http.ts";

/** A TCP server that answers each request (read up to its headers' end) with the next canned bytes. */
function cannedServer(answers: Uint8Array[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(65_536);
    let seen = "";
    for (const answer of answers) {
      while (!seen.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) return;
        seen += new TextDecoder().decode(buffer.subarray(0, n));
      }
      seen = seen.slice(seen.indexOf("\r\n\r\n") + 4);
      await conn.write(answer);
    }
    conn.close();
  })();
  return { listener, served, port: (listener.addr as Deno.NetAddr).port };
}

Deno.test("a raw connection joins a character split across two chunks, and reads past trailers to the next answer", async () => {
  const text = (t: string) => new TextEncoder().encode(t);
  const e = text("é"); // two bytes, one in each chunk
  const split = new Uint8Array([
    ...text(`HTTP/1.1 422 Unprocessable\r\ntransfer-encoding: chunked\r\n\r\n1\r\n`),
    e[0],
    ...text(`\r\n1\r\n`),
    e[1],
    ...text(`\r\n0\r\nx-t: 1\r\nx-u: 2\r\n\r\n`),
  ]);
  const next = text(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`);
  const { listener, served, port } = cannedServer([split, next]);
  const url = new URL(`http://127.0.0.1:${port}/api/ingest`);
  const connection = new RawHttpConnection(url);
  const { bytes } = buildPost(url, new Uint8Array(8), { "content-type": "text/plain" });
  const signal = new AbortController().signal;
  const first = await connection.post(bytes, 5_000, signal);
  assertEquals(first.status, 422);
  assertEquals(first.text, "é");
  const second = await connection.post(bytes, 5_000, signal);
  assertEquals([second.status, second.text], [200, "ok"]);
  connection.close();
  await served;
  listener.close();
});
