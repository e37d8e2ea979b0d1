// Frames fanned out to many clients at once (each written as one shared wire
// frame per tick): every client, and a raw TCP reader that parses the
// WebSocket framing by hand, gets every frame whole and in order, and ends
// with the values that were ingested.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient, FeedState } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";
import { ReadingBlockBuilder } from "../protocol/reading_block.ts";

const SENSORS = 40;
const ROUNDS = 12;

/** The value sensor `s` reads in round `r`: distinct per round, so a lost frame shows. */
const valueOf = (s: number, r: number) => r * 1000 + s + 0.25;

function batch(round: number): Uint8Array<ArrayBuffer> {
  const builder = new ReadingBlockBuilder({ capacity: SENSORS });
  for (let s = 0; s < SENSORS; s++) {
    builder.begin(`fan-${s}`, `plant-${s % 3}/line-1`, 1_000 + round, "");
    builder.addValue("temperature", valueOf(s, round));
  }
  return encodeReadingBlock(builder.build());
}

/**
 * A WebSocket client with no WebSocket library: the upgrade by hand, then
 * RFC 6455 frames parsed from the byte stream. Each server frame must be
 * final, binary and unmasked; its payload goes to a FeedState.
 */
class RawReader extends FeedState {
  readonly conn: Deno.TcpConn;
  malformed: string[] = [];
  #bytes = new Uint8Array(0);
  #upgraded = false;
  readonly done: Promise<void>;

  constructor(conn: Deno.TcpConn, host: string) {
    super();
    this.conn = conn;
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    this.done = (async () => {
      await conn.write(new TextEncoder().encode(
        `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ));
      const chunk = new Uint8Array(64 * 1024);
      while (true) {
        const n = await conn.read(chunk).catch(() => null);
        if (n === null) return;
        const joined = new Uint8Array(this.#bytes.length + n);
        joined.set(this.#bytes);
        joined.set(chunk.subarray(0, n), this.#bytes.length);
        this.#bytes = joined;
        this.#parse();
      }
    })();
  }

  #parse(): void {
    if (!this.#upgraded) {
      const head = new TextDecoder().decode(this.#bytes);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!head.startsWith("HTTP/1.1 101")) this.malformed.push(head.slice(0, 40));
      this.#upgraded = true;
      this.#bytes = this.#bytes.slice(end + 4);
    }
    while (this.#bytes.length >= 2) {
      const [b0, b1] = this.#bytes;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.#bytes.length < 4) return;
        length = (this.#bytes[2] << 8) | this.#bytes[3];
        offset = 4;
      } else if (length === 127) {
        if (this.#bytes.length < 10) return;
        length = new DataView(this.#bytes.buffer, this.#bytes.byteOffset).getUint32(6);
        offset = 10;
      }
      if (this.#bytes.length < offset + length) return;
      if (b0 !== 0x82 || (b1 & 0x80) !== 0) this.malformed.push(`header ${b0} ${b1}`);
      else this.apply(this.#bytes.slice(offset, offset + length));
      this.#bytes = this.#bytes.slice(offset + length);
    }
  }
}

Deno.test("many clients each get every fanned-out frame whole and in order, and the same values", async () => {
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    tickMs: 20,
  });
  const clients = Array.from({ length: 30 }, () => new FeedClient(server.url));
  const raw = new RawReader(
    await Deno.connect({ hostname: server.url.hostname, port: Number(server.url.port) }),
    server.url.host,
  );
  try {
    await Promise.all(clients.map((c) => c.opened));
    await eventually(() => server.hubStats.sessions === 31, 5_000, "every session joined");
    for (let round = 0; round < ROUNDS; round++) {
      const response = await fetch(new URL("/api/ingest", server.url), {
        method: "POST",
        body: batch(round),
        headers: { "content-type": "application/x-flatbuffers" },
      });
      assertEquals((await response.json()).accepted, SENSORS);
      await new Promise((r) => setTimeout(r, 30)); // a tick or two between rounds
    }
    // What was ingested last, recomputed here.
    const expected = Object.fromEntries(
      Array.from({ length: SENSORS }, (_, s) => [`fan-${s}/temperature`, valueOf(s, ROUNDS - 1)])
        .sort(),
    );
    const lasts = (state: FeedState) =>
      Object.fromEntries([...state.values].map(([key, v]) => [key, v.last]).sort());
    const readers: FeedState[] = [...clients, raw];
    await eventually(
      () => readers.every((r) => JSON.stringify(lasts(r)) === JSON.stringify(expected)),
      10_000,
      "every client holds the last values ingested",
    );
    assertEquals(raw.malformed, []);
    for (const reader of readers) {
      assertEquals([reader.gaps, reader.snapshots, reader.errors], [0, 1, []]);
      assert(reader.deltas > 0, "deltas arrived");
    }
    // Every client was sent the same stream: the same last sequence number.
    assertEquals(new Set(readers.map((r) => `${r.epoch}/${r.seq}`)).size, 1);
  } finally {
    raw.conn.close();
    await raw.done;
    await Promise.all(clients.map((c) => c.close()));
    await server.shutdown();
    await server.finished;
  }
});
