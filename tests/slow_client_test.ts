// A client that never reads: the server skips its deltas, then closes it as
// slow, while a normal client keeps a gap-free feed.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";
import { ReadingBlockBuilder } from "../protocol/reading_block.ts";

/** Opens a WebSocket by hand and then never reads from the connection. */
async function stalledClient(url: URL): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(new TextEncoder().encode(
    `GET /ws HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  return conn;
}

function batch(round: number): Uint8Array<ArrayBuffer> {
  const builder = new ReadingBlockBuilder({ capacity: 1000 });
  for (let i = 0; i < 1000; i++) {
    const sensor = (round * 1000 + i) % 6000;
    builder.begin(
      `sensor_with_a_long_name_${sensor}`,
      `plant-${sensor % 7}/line-${sensor % 11}`,
      round,
      "",
    );
    builder.addValue("temperature", round + i / 1000);
    builder.addValue("humidity", i);
    builder.addValue("pressure", -i);
  }
  return encodeReadingBlock(builder.build());
}

Deno.test("a client that stops reading is skipped, then closed as slow; others keep a gap-free feed", async () => {
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    maxBufferedBytes: 64 * 1024,
    // A lagging session is offered frames at its slowest rate only (every 10th tick): give
    // it several such ticks over the cap before the close, even when ticks run late.
    tickMs: 50,
    slowCloseMs: 3_000,
  });
  const stalled = await stalledClient(server.url);
  const good = new FeedClient(server.url);
  try {
    await good.opened;
    await eventually(() => server.hubStats.sessions === 2, 5_000, "both sessions joined");
    // Ingest enough that every tick's delta is large, until the stalled client is closed.
    let round = 0;
    const deadline = Date.now() + 20_000;
    while (server.hubStats.slowCloses === 0 && Date.now() < deadline) {
      const response = await fetch(new URL("/api/ingest", server.url), {
        method: "POST",
        body: batch(round++),
        headers: { "content-type": "application/x-flatbuffers" },
      });
      assertEquals((await response.json()).accepted, 1000);
    }
    assert(server.hubStats.skippedFrames > 0, "deltas were skipped for the stalled client");
    assertEquals(server.hubStats.slowCloses, 1);
    assertEquals(server.hubStats.sessions, 1, "the stalled session is gone from the hub");
    // Bounded: nothing is queued for a client over the cap, so its unsent bytes
    // never exceed the cap plus the one frame that crossed it (snapshots included).
    const bound = 64 * 1024 + Math.max(server.hubStats.largestFrameBytes, 2 ** 20);
    assert(
      server.hubStats.peakBufferedBytes <= bound,
      `peak unsent ${server.hubStats.peakBufferedBytes} bytes > ${bound}`,
    );
    await eventually(() => good.deltas > 0, 5_000, "good client deltas");
    assertEquals(good.gaps, 0);
    assertEquals(good.snapshots, 1);
  } finally {
    stalled.close();
    await good.close();
    await server.shutdown();
    await server.finished;
  }
});

Deno.test("a client that never answers pings is dropped with 4001; one that answers stays", async () => {
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    tickMs: 20,
    pingIntervalMs: 50,
    silenceLimitMs: 300,
  });
  const silent = new WebSocket(new URL("/ws", server.url.href.replace("http", "ws")));
  const answering = new FeedClient(server.url);
  try {
    const closed = new Promise<CloseEvent>((resolve) => (silent.onclose = resolve));
    const event = await closed;
    assertEquals(event.code, 4001);
    assertEquals(answering.socket.readyState, WebSocket.OPEN);
    await eventually(
      () => server.hubStats.sessions === 1,
      5_000,
      "the silent session is forgotten",
    );
    assertEquals(server.hubStats.silentCloses, 1);
  } finally {
    await answering.close();
    await server.shutdown();
    await server.finished;
  }
});
