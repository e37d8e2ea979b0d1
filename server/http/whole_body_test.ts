import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { serve } from "./server.ts";
import { jsonResponse } from "./errors.ts";

/** One raw HTTP/1.1 exchange on a fresh connection: the head's lines and the body's bytes. */
async function exchange(port: number, method: string, path: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`,
    ),
  );
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65_536);
  for (let n; (n = await conn.read(buffer)) !== null;) parts.push(buffer.slice(0, n));
  conn.close();
  const all = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.byteLength) - p.byteLength);
  const text = new TextDecoder("latin1").decode(all);
  const split = text.indexOf("\r\n\r\n");
  const head = text.slice(0, split).split("\r\n");
  const headers = new Map(
    head.slice(1).map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
    }),
  );
  return { status: Number(head[0].split(" ")[1]), headers, body: all.subarray(split + 4) };
}

Deno.test("a JSON answer goes out whole with its byte length, and a streamed one still streams", async () => {
  let value: unknown = null;
  const server = await serve((request) => {
    if (new URL(request.url).pathname === "/stream") {
      return new Response(ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]));
    }
    return jsonResponse(value, { status: 201, headers: { "x-a": "1" } });
  }, { port: 0, hostname: "127.0.0.1" });
  try {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (v) => {
        value = v;
        const expected = new TextEncoder().encode(JSON.stringify(v));
        const got = await exchange(server.port, "GET", "/json");
        assertEquals(got.status, 201);
        assertEquals(got.headers.get("content-length"), String(expected.byteLength));
        assertEquals(got.headers.get("transfer-encoding"), undefined);
        assertEquals(got.headers.get("x-a"), "1");
        assertEquals([...got.body], [...expected]);
        // HEAD: the same length, no body.
        const head = await exchange(server.port, "HEAD", "/json");
        assertEquals(head.headers.get("content-length"), String(expected.byteLength));
        assertEquals(head.body.byteLength, 0);
      }),
      { numRuns: 25 },
    );
    const streamed = await fetch(`http://127.0.0.1:${server.port}/stream`);
    assertEquals([...new Uint8Array(await streamed.arrayBuffer())], [1, 2, 3]);
  } finally {
    await server.shutdown(0);
    await server.finished;
  }
});
