// Attacks on the feed socket's transport: a message sent in many small
// fragments, and waves of clients that complete the handshake and never read.
// @ts-types="@types/ws"
import WebSocket from "ws";
import { assert, assertEquals } from "./testing/assert.ts";
import { eventually } from "./testing/recompute.ts";
import { heldConnections } from "./testing/tcp_sockets.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import type { Config } from "../server/config/options.ts";
import { MAX_CLIENT_MESSAGE_BYTES } from "../protocol/client_messages.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";
import { ReadingBlockBuilder } from "../protocol/reading_block.ts";

async function withServer(config: Partial<Config>, run: (server: Pulseboard) => Promise<void>) {
  const server = await startPulseboard({ ...DEFAULT_CONFIG, port: 0, data: ":memory:", ...config });
  try {
    await run(server);
  } finally {
    await server.shutdown();
    await server.finished;
  }
}

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

Deno.test("a message sent in small fragments is refused with 1009 once it passes the cap, not when it is whole", async () => {
  await withServer({}, async (server) => {
    const ws = new WebSocket(new URL("/ws", server.url.href.replace("http", "ws")).href);
    ws.on("error", () => {}); // the close code is what this test reads
    await within(5_000, "open", new Promise((resolve) => ws.once("open", resolve)));
    const closed = new Promise<number>((resolve) => ws.once("close", resolve));
    const fragment = new Uint8Array(4096);
    const offered = 16 * MAX_CLIENT_MESSAGE_BYTES;
    let written = 0;
    while (written < offered && ws.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve, reject) =>
        ws.send(
          fragment,
          { binary: true, fin: false },
          (error?: Error) => error ? reject(error) : resolve(),
        )
      );
      written += fragment.byteLength;
      // A ping between fragments is answered only once the server has read
      // the fragment before it: so `written` is what the server has taken in.
      const pong = new Promise((resolve) => ws.once("pong", resolve));
      ws.ping();
      await within(10_000, "pong or close", Promise.race([pong, closed]));
    }
    assert(
      written <= MAX_CLIENT_MESSAGE_BYTES + fragment.byteLength,
      `the server took in ${written} bytes of one message without refusing it ` +
        `(cap ${MAX_CLIENT_MESSAGE_BYTES})`,
    );
    assertEquals(await within(10_000, "close", closed), 1009);
  });
});

/** Completes a WebSocket handshake by hand, checks it was accepted, then never reads again. */
async function stalledClient(url: URL): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(new TextEncoder().encode(
    `GET /ws HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const head = new Uint8Array(12);
  let got = 0;
  while (got < head.length) {
    const n = await conn.read(head.subarray(got));
    if (n === null) throw new Error("the server closed the handshake");
    got += n;
  }
  const status = new TextDecoder().decode(head);
  if (status !== "HTTP/1.1 101") {
    conn.close();
    throw new Error(`the handshake was refused: ${status}`);
  }
  return conn;
}

/** Reads until the server ends the connection: EOF or a reset. Returns how it ended. */
async function readToEnd(conn: Deno.TcpConn): Promise<"eof" | "reset"> {
  const buffer = new Uint8Array(1 << 20);
  try {
    while ((await conn.read(buffer)) !== null) { /* the frames queued before the abort */ }
    return "eof";
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset) return "reset";
    throw error;
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

function batch(round: number): Uint8Array<ArrayBuffer> {
  const builder = new ReadingBlockBuilder({ capacity: 1000 });
  for (let i = 0; i < 1000; i++) {
    const sensor = (round * 1000 + i) % 6000;
    builder.begin(`sensor_with_a_long_name_${sensor}`, `plant-${sensor % 7}`, round, "");
    builder.addValue("temperature", round + i / 1000);
    builder.addValue("humidity", i);
    builder.addValue("pressure", -i);
  }
  return encodeReadingBlock(builder.build());
}

Deno.test("stalled readers closed with 4008 are aborted, so waves of them never stack past the per-address limit", async () => {
  const perAddress = 2;
  await withServer({
    maxConnectionsPerAddress: perAddress,
    maxBufferedBytes: 64 * 1024,
    slowCloseMs: 300,
  }, async (server) => {
    const port = Number(server.url.port);
    let round = 0;
    for (let wave = 1; wave <= 3; wave++) {
      // A full set of the address's connections: each wave is accepted only if the last one's are gone.
      const stalled = [];
      for (let i = 0; i < perAddress; i++) stalled.push(await stalledClient(server.url));
      const clientPorts = stalled.map((c) => (c.localAddr as Deno.NetAddr).port);
      assertEquals(heldConnections(port, clientPorts), perAddress, `wave ${wave} is connected`);
      // Large deltas until every stalled client of this wave has been closed as slow.
      const deadline = Date.now() + 30_000;
      while (server.hubStats.slowCloses < wave * perAddress && Date.now() < deadline) {
        const response = await fetch(new URL("/api/ingest", server.url), {
          method: "POST",
          body: batch(round++),
          headers: { "content-type": "application/x-flatbuffers" },
        });
        assertEquals((await response.json()).accepted, 1000);
      }
      assertEquals(server.hubStats.slowCloses, wave * perAddress, `wave ${wave} closed as slow`);
      // Without reading a byte, the clients see the server let go of their connections.
      await eventually(
        () => heldConnections(port, clientPorts) === 0,
        10_000,
        `the server to abort wave ${wave}'s connections (4008 cannot reach a client that never reads)`,
      );
      for (const conn of stalled) {
        const ending = await within(10_000, "end of the connection", readToEnd(conn));
        assert(ending === "eof" || ending === "reset");
      }
    }
    const health = await (await fetch(new URL("/healthz", server.url))).json();
    assertEquals(health.transport?.feedSockets, 0, "the server counts no open feed socket");
  });
});
