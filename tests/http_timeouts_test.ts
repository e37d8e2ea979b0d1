// Connections that never finish: headers sent a byte at a time (slowloris),
// an ingest body that stops arriving, an idle keep-alive connection. Each is
// cut after its timeout; an open feed socket is not.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import { heldConnections } from "./testing/tcp_sockets.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

const TIMEOUTS = { headerTimeoutMs: 1_500, bodyTimeoutMs: 1_000, idleTimeoutMs: 1_000 };

async function withServer(run: (server: Pulseboard) => Promise<void>) {
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    ...TIMEOUTS,
  });
  try {
    await run(server);
  } finally {
    await server.shutdown();
    await server.finished;
  }
}

const encoder = new TextEncoder();

async function connect(server: Pulseboard): Promise<Deno.TcpConn> {
  return await Deno.connect({ hostname: server.url.hostname, port: Number(server.url.port) });
}

/** Everything the server sends until it ends the connection (null if it is still open at `limitMs`). */
async function readUntilClosed(conn: Deno.TcpConn, limitMs: number): Promise<string | null> {
  const chunks: string[] = [];
  const buffer = new Uint8Array(4096);
  const decoder = new TextDecoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) =>
    timer = setTimeout(() => resolve("expired"), limitMs)
  );
  try {
    while (true) {
      const n = await Promise.race([conn.read(buffer).catch(() => null), expired]);
      if (n === "expired") return null;
      if (n === null) return chunks.join("");
      chunks.push(decoder.decode(buffer.subarray(0, n)));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

Deno.test("a client that sends its headers a byte at a time is cut after the header timeout", async () => {
  await withServer(async (server) => {
    const conn = await connect(server);
    await conn.write(
      encoder.encode(`GET /healthz HTTP/1.1\r\nHost: ${server.url.host}\r\nX-Slow: `),
    );
    let sent = 0;
    // One more header byte every 200 ms: the connection is never idle, the headers never end.
    const drip = setInterval(() => {
      conn.write(encoder.encode("a")).then(() => sent++, () => clearInterval(drip));
    }, 200);
    try {
      const answer = await readUntilClosed(conn, 4 * TIMEOUTS.headerTimeoutMs);
      assert(answer !== null, "the connection was still open well after the header timeout");
      assert(sent >= 3, `the client kept sending (${sent} bytes) while it was cut`);
      assert(!answer.includes("200 OK"), "the request was never served");
    } finally {
      clearInterval(drip);
    }
  });
});

Deno.test("an ingest body that stops arriving gets 408 with a JSON error after the body timeout", async () => {
  await withServer(async (server) => {
    const conn = await connect(server);
    const port = (conn.localAddr as Deno.NetAddr).port;
    await conn.write(encoder.encode(
      `POST /api/ingest HTTP/1.1\r\nHost: ${server.url.host}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"sensorId":',
    ));
    const answer = await readUntilClosed(conn, 4 * TIMEOUTS.bodyTimeoutMs);
    assert(answer !== null, "the connection was still open well after the body timeout");
    assert(answer.startsWith("HTTP/1.1 408 "), `answer: ${answer.slice(0, 80)}`);
    // The JSON error, whether the body came with a length or in chunks.
    const body = JSON.parse(answer.slice(answer.indexOf("{"), answer.lastIndexOf("}") + 1));
    assertEquals(body.error, "request_timeout");
    assert(/body/i.test(body.detail), body.detail);
    await eventually(
      () => heldConnections(Number(server.url.port), [port]) === 0,
      2_000,
      "the server to close the connection",
    );
  });
});

Deno.test("an idle keep-alive connection is closed after the idle timeout; an open feed socket is not", async () => {
  await withServer(async (server) => {
    const feed = new FeedClient(server.url);
    await feed.opened;
    const conn = await connect(server);
    await conn.write(encoder.encode(`GET /healthz HTTP/1.1\r\nHost: ${server.url.host}\r\n\r\n`));
    const answer = await readUntilClosed(conn, 4 * TIMEOUTS.idleTimeoutMs);
    assert(answer !== null, "the idle connection was still open well after the idle timeout");
    assert(answer.startsWith("HTTP/1.1 200 "), "the request before the idle time was served");
    // The feed socket has been open longer than every HTTP timeout, and is still served.
    await new Promise((r) => setTimeout(r, TIMEOUTS.headerTimeoutMs));
    assertEquals(feed.socket.readyState, WebSocket.OPEN);
    const response = await fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      body: JSON.stringify([{ sensorId: "late-feed", timestamp: Date.now(), reading: { v: 1 } }]),
      headers: { "content-type": "application/json" },
    });
    assertEquals((await response.json()).accepted, 1);
    await eventually(() => feed.values.has("late-feed/v"), 5_000, "the feed still delivers");
    await feed.close();
  });
});
