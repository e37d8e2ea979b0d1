import { assertEquals } from "../tests/testing/assert.ts";
import { buildPost, RawHttpConnection } from "./raw_http.ts";
import type { Connect } from "./raw_http.ts";
import { postRaw } from "./replay.ts";

/** A listener that accepts and reads but never answers; `bytes` counts what reached it. */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { bytes: 0 };
  const conns: Deno.Conn[] = [];
  const served = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buffer = new Uint8Array(4096);
        try {
          for (let n; (n = await conn.read(buffer)) !== null;) state.bytes += n;
        } catch {
          // closed by the test
        }
      })();
    }
  })();
  const stop = async () => {
    listener.close();
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await served.catch(() => {});
  };
  return {
    state,
    stop,
    url: new URL(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/api/ingest`),
  };
}

/** A connect that never completes (a host that drops the SYN) until its signal aborts. */
const hangingConnect: Connect = (options) =>
  new Promise((_, reject) => {
    options.signal?.addEventListener("abort", () => reject(options.signal?.reason), {
      once: true,
    });
  });

Deno.test("a replay post whose connect times out says nothing was sent, and may be retried", async () => {
  const server = silentServer();
  try {
    const connection = new RawHttpConnection(server.url, { connect: hangingConnect });
    const { bytes } = buildPost(server.url, new Uint8Array(8), {});
    const result = await postRaw(connection, bytes, 50, new AbortController().signal);
    assertEquals(result, { ok: false, cause: "connect timed out (nothing sent)", retry: true });
    assertEquals(server.state.bytes, 0);
    connection.close();
  } finally {
    await server.stop();
  }
});

Deno.test("a replay post that timed out after its request was written still has an unknown outcome", async () => {
  const server = silentServer();
  try {
    const connection = new RawHttpConnection(server.url);
    const { bytes } = buildPost(server.url, new Uint8Array(8), {});
    const result = await postRaw(connection, bytes, 200, new AbortController().signal);
    assertEquals(result, { ok: false, cause: "timed out (outcome unknown)", retry: false });
    connection.close();
  } finally {
    await server.stop();
  }
});
