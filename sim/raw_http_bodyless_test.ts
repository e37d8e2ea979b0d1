import { rejects } from "node:assert/strict";
import { assertEquals } from "../tests/testing/assert.ts";
import { buildPost, RawHttpConnection } from "./raw_http.ts";

const text = (t: string) => new TextEncoder().encode(t);

/**
 * A TCP server that answers each request (read up to its headers' end) with
 * the next canned bytes; `null` closes the connection and takes the next one.
 * `requests` counts the request heads it read.
 */
function cannedServer(answers: (Uint8Array | null)[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { requests: 0 };
  const served = (async () => {
    let conn = await listener.accept();
    const buffer = new Uint8Array(65_536);
    let seen = "";
    for (const answer of answers) {
      if (answer === null) {
        conn.close();
        conn = await listener.accept();
        seen = "";
        continue;
      }
      while (!seen.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) return;
        seen += new TextDecoder().decode(buffer.subarray(0, n));
      }
      state.requests++;
      seen = seen.slice(seen.indexOf("\r\n\r\n") + 4);
      await conn.write(answer);
    }
    conn.close();
  })();
  return { listener, served, state, port: (listener.addr as Deno.NetAddr).port };
}

function post(port: number) {
  const url = new URL(`http://127.0.0.1:${port}/api/ingest`);
  const { bytes } = buildPost(url, new Uint8Array(8), { "content-type": "text/plain" });
  return { connection: new RawHttpConnection(url), bytes };
}

Deno.test("a raw connection reads 204 and 304 answers, which have no body, and the answer after them", async () => {
  const { listener, served, port } = cannedServer([
    text("HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n"),
    text('HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n'),
    text("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
  ]);
  const { connection, bytes } = post(port);
  const signal = new AbortController().signal;
  const got = [];
  for (let i = 0; i < 3; i++) {
    const answer = await connection.post(bytes, 5_000, signal);
    got.push([answer.status, answer.text]);
  }
  assertEquals(got, [[204, ""], [304, ""], [200, "ok"]]);
  connection.close();
  await served;
  listener.close();
});

Deno.test("a raw connection skips interim 1xx answers and returns the final one", async () => {
  const { listener, served, port } = cannedServer([
    text(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" +
        "HTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nnew",
    ),
    text("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
  ]);
  const { connection, bytes } = post(port);
  const signal = new AbortController().signal;
  const first = await connection.post(bytes, 5_000, signal);
  assertEquals([first.status, first.text, first.headers.get("link")], [201, "new", undefined]);
  const second = await connection.post(bytes, 5_000, signal);
  assertEquals([second.status, second.text], [200, "ok"]);
  connection.close();
  await served;
  listener.close();
});

Deno.test("a raw connection reads an HTTP/1.0 answer without a length to the close, then connects again", async () => {
  const { listener, served, state, port } = cannedServer([
    text("HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end"),
    null,
    text("HTTP/1.0 202 Accepted\r\ncontent-length: 4\r\n\r\nnext"),
    null,
    text("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
  ]);
  const { connection, bytes } = post(port);
  const signal = new AbortController().signal;
  const got = [];
  for (let i = 0; i < 3; i++) {
    const answer = await connection.post(bytes, 5_000, signal);
    got.push([answer.status, answer.text]);
  }
  // An HTTP/1.0 answer ends its connection unless it says keep-alive, even
  // with a length: the third post went over a new connection.
  assertEquals(got, [[200, "until the end"], [202, "next"], [200, "ok"]]);
  assertEquals(state.requests, 3);
  connection.close();
  await served;
  listener.close();
});

Deno.test("a raw connection given an aborted signal sends nothing, not even on a fresh connection", async () => {
  const { listener, served, state, port } = cannedServer([
    text("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
  ]);
  const { connection, bytes } = post(port);
  const controller = new AbortController();
  controller.abort();
  await rejects(connection.post(bytes, 5_000, controller.signal));
  assertEquals(state.requests, 0);
  // The connection is still usable with a live signal.
  const answer = await connection.post(bytes, 5_000, new AbortController().signal);
  assertEquals([answer.status, answer.text, state.requests], [200, "ok", 1]);
  connection.close();
  await served;
  listener.close();
});
