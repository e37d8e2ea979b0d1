// History from rollups reaches the newest reading, end to end: a real server
// on port 0 with a Deno KV file, readings posted through the API, then no
// more. The last `--grace` seconds never close, so they are not rollups yet:
// the answer serves them from the shard's open windows and says from where
// they are provisional. Every figure is compared with a recomputation from
// the readings posted.
import { assert, assertEquals } from "./testing/assert.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";
import { blockFromReadings } from "../protocol/reading_block.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

async function post(url: URL, readings: PlainReading[]): Promise<void> {
  const response = await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: encodeReadingBlock(blockFromReadings(readings)),
    headers: { "content-type": "application/x-flatbuffers" },
  });
  assertEquals(response.status, 200);
  await response.body?.cancel();
}

async function getJson(url: URL, path: string): Promise<{ status: number; body: Json }> {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: await response.json() };
}

/** Fetches until `done` holds for the answer; fails after `timeoutMs`. */
async function pollJson(url: URL, path: string, done: (body: Json) => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await getJson(url, path);
    if (done(answer.body)) return answer.body;
    if (Date.now() > deadline) throw new Error(`${path}: gave up waiting, last ${answer.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Buckets of every reading whose window (of `sizeMs`) overlaps [from, to). */
function expectedBuckets(
  readings: readonly PlainReading[],
  query: { from: number; to: number; sizeMs: number; bucketMs: number },
): number[][] {
  const buckets = new Map<number, { count: number; sum: number; min: number; max: number }>();
  for (const r of readings) {
    const value = r.values.temperature;
    const start = r.timeMs - (r.timeMs % query.sizeMs);
    if (value === undefined || start + query.sizeMs <= query.from || start >= query.to) continue;
    const t = r.timeMs - (r.timeMs % query.bucketMs);
    const b = buckets.get(t) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
    b.count++;
    b.sum += value;
    b.min = Math.min(b.min, value);
    b.max = Math.max(b.max, value);
    buckets.set(t, b);
  }
  return [...buckets].sort(([a], [b]) => a - b).map(([t, b]) => [t, b.count, b.min, b.max, b.sum]);
}

/** The answer's points in `expectedBuckets`' shape (sums rounded: the values are quarters). */
function pointsOf(body: Json): number[][] {
  return body.points.map((
    p: { t: number; count: number; min: number; max: number; avg: number },
  ) => [p.t, p.count, p.min, p.max, Math.round(p.avg * p.count * 4) / 4]);
}

Deno.test("history from rollups reaches the newest reading once ingest stops, marks the open part provisional, and the same query agrees once it closes", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-history-tail-" });
  // One shard: a reading of another sensor moves the watermark past s0's windows.
  const config = {
    ...DEFAULT_CONFIG,
    port: 0,
    data: `${dir}/pulseboard.kv`,
    tickMs: 20,
    shards: 1,
    rollupFlushMs: 100,
  };
  const server = await startPulseboard(config);
  try {
    // Whole minutes, five minutes ago: inside every retention, far from the future limit.
    const base = Math.floor((Date.now() - 300_000) / 60_000) * 60_000;
    const readings: PlainReading[] = [];
    for (let at = base; at < base + 150_000; at += 250) {
      readings.push({
        sensorId: "s0",
        timeMs: at,
        values: { temperature: 20 + ((at / 250) % 23) / 4 },
      });
    }
    for (let i = 0; i < readings.length; i += 400) {
      await post(server.url, readings.slice(i, i + 400));
    }
    const newest = readings[readings.length - 1].timeMs;
    // Ingest stops: the shards have taken every reading once the feed shows the newest.
    await pollJson(server.url, "/api/sensors?q=s0", (b) => b.sensors?.[0]?.lastSeenMs === newest);
    const watermark = newest - config.graceMs;
    const queries = [
      // 1 s rollups (2 s buckets), `from` off the grid, `to` past the newest reading.
      { from: base + 10_500, to: base + 200_000, maxPoints: 100, sizeMs: 1_000, label: "1s" },
      // 1 min rollups (2 min buckets) over a longer range.
      {
        from: base - 3_600_000,
        to: base + 180_000,
        maxPoints: 40,
        sizeMs: 60_000,
        label: "1m",
      },
    ];
    const path = (q: (typeof queries)[number]) =>
      `/api/sensors/s0/history?metric=temperature&from=${q.from}&to=${q.to}&maxPoints=${q.maxPoints}`;
    const first: Json[] = [];

    await t.step(
      "at once, the answer holds every reading, the open windows marked provisional",
      async () => {
        for (const q of queries) {
          const { status, body } = await getJson(server.url, path(q));
          assertEquals(status, 200);
          assertEquals([body.resolution, body.bounded], [q.label, false]);
          assertEquals(body.bucketMs % q.sizeMs, 0);
          assertEquals(
            pointsOf(body),
            expectedBuckets(readings, { ...q, bucketMs: body.bucketMs }),
          );
          // The first window the watermark has not passed: its end is after the watermark.
          const open = Math.floor(watermark / q.sizeMs) * q.sizeMs;
          assert(open + q.sizeMs > watermark && open <= watermark);
          assertEquals(body.provisionalFrom, open, q.label);
          assertEquals(body.missingFrom, undefined);
          assert(/provisional/.test(body.note ?? ""), body.note);
          first.push(body);
        }
      },
    );

    await t.step(
      "once the watermark passes them, the same queries give the same points, final",
      async () => {
        await post(server.url, [{
          sensorId: "s1",
          timeMs: newest + 70_000,
          values: { temperature: 0 },
        }]);
        for (const [i, q] of queries.entries()) {
          const body = await pollJson(server.url, path(q), (b) => b.provisionalFrom === undefined);
          assertEquals(pointsOf(body), pointsOf(first[i]), q.label);
          assertEquals(body.note, undefined);
        }
      },
    );
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
