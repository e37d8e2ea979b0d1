// `deno run -A bench/compact_bytes.ts`: bytes and CPU of the full and the
// compact delta encodings for a full-fleet stream. The simulated fleet
// (sim/fleet.ts, batches as the simulator posts them) goes through the real
// ingest decoder, Router, ShardBehavior and FeedView; every 100 ms tick is
// encoded with each encoding and decoded by a client whose SensorStore
// (the dashboard's) supplies the compact decoder's bases. Simulated time: the
// numbers do not depend on wall-clock pacing, only the CPU columns on the
// machine. Prints one table per load.
import { parseArgs } from "node:util";
import { encodeDelta, encodeSnapshot } from "../protocol/server_frames.ts";
import type { DeltaFrame, GroupAggregateEntry } from "../protocol/server_frames.ts";
import { decodeCompactDelta, encodeCompactDelta } from "../protocol/compact_delta.ts";
import { compressFrame, inflateFrame } from "../protocol/compression.ts";
import { groupAggregates } from "../actors/hub/group_aggregates.ts";
import { WINDOW_CHANGED } from "../protocol/columns.ts";
import { decodeServerFrame as decodeFrame } from "../protocol/server_frames.ts";
import { SensorStore } from "../web/src/lib/feed/sensor_store.ts";
import { renderTable } from "./table.ts";
import { SimFeed, START_MS, TICK_MS } from "./sim_feed.ts";

const USAGE = `Usage: deno run -A bench/compact_bytes.ts [options]
  --sensors <n>      simulated sensors (default: two runs, 5000 at 10000/s and 100000 at 50000/s)
  --rate <n>         readings/s over the fleet (with --sensors; default 10000)
  --seconds <s>      measured simulated seconds (default 10)
  --warmup <s>       simulated seconds before measuring (default: one full count window of 50 readings)
  --avg-digits <k>   decimal digits of the average in compact frames (default 2)
  --shards <n>       shard actors (default 16)`;

const flags = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        sensors: { type: "string" },
        rate: { type: "string", default: "10000" },
        seconds: { type: "string", default: "10" },
        warmup: { type: "string" },
        "avg-digits": { type: "string", default: "2" },
        shards: { type: "string", default: "16" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
})();
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}

const WINDOW = 50; // the server's default count window (config.ts)

interface Variant {
  name: string;
  bytes: number;
  encodeMs: number;
  decodeMs: number;
}

/** Runs `fn` REPS times; the fastest run stands for its CPU cost (others were preempted). */
const REPS = 5;

function timed<T>(fn: () => T): { value: T; ms: number } {
  let value = fn();
  let ms = Infinity;
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    value = fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { value, ms };
}

async function timedAsync<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  let value = await fn();
  let ms = Infinity;
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    value = await fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { value, ms };
}

async function deflateAsync(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function inflateAsync(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function run(sensors: number, rate: number) {
  const seconds = Number(flags.seconds);
  const warmupS = flags.warmup !== undefined ? Number(flags.warmup) : (WINDOW * sensors) / rate;
  const avgDigits = Number(flags["avg-digits"]);
  const feed = new SimFeed({ sensors, rate, shards: Number(flags.shards), window: WINDOW });
  const { view } = feed;
  // JIT warm-up happens in the last seconds before measuring: the client follows from there.
  const warmupEnd = START_MS + warmupS * 1000;
  const clientFrom = Math.max(START_MS, warmupEnd - 3000);
  const warmupStarted = performance.now();
  while (feed.now < clientFrom) feed.tick();
  const warmupWallS = (performance.now() - warmupStarted) / 1000;

  // The client starts from a snapshot, as after Subscribe.
  const fullClient = new SensorStore();
  const compactClient = new SensorStore();
  const snapshot = view.snapshot();
  const snapshotBytes = encodeSnapshot({ epoch: 1, seq: 0, serverTimeMs: feed.now, ...snapshot });
  fullClient.apply(decodeFrame(snapshotBytes), 0);
  compactClient.apply(decodeFrame(snapshotBytes), 0);
  const clientBase = compactClient;

  const variants: Record<string, Variant> = {};
  let record = false;
  const add = (name: string, bytes: number, encodeMs: number, decodeMs: number) => {
    if (!record) return;
    const v = (variants[name] ??= { name, bytes: 0, encodeMs: 0, decodeMs: 0 });
    v.bytes += bytes;
    v.encodeMs += encodeMs;
    v.decodeMs += decodeMs;
  };
  let ticks = 0, sensorUpdates = 0, metricUpdates = 0, readings = 0, seq = 0;
  let maxCompactFrame = 0;
  const end = warmupEnd + seconds * 1000;
  while (feed.now < end) {
    record = feed.now >= warmupEnd;
    const { merged, readings: read } = feed.tick();
    if (!merged) continue;
    seq++;
    if (record) {
      readings += read;
      ticks++;
      metricUpdates += merged.updates.length;
      sensorUpdates += new Set(merged.updates.sensor).size;
    }
    // The aggregates of the whole fleet for the window sizes that ended or were revised.
    const sizes = new Set<number>();
    for (let i = 0; i < merged.windows.length; i++) {
      if (merged.windows.flags[i] & WINDOW_CHANGED) sizes.add(merged.windows.size[i]);
    }
    const aggregates: GroupAggregateEntry[] = [...sizes].flatMap((size) =>
      groupAggregates(view, "", size)
    );
    const frame: DeltaFrame = {
      epoch: 1,
      seq,
      serverTimeMs: feed.now,
      sensors: merged.sensors,
      metrics: merged.metrics,
      updates: merged.updates,
      removed: merged.removed,
      aggregates,
      late: merged.late,
    };

    const full = timed(() => encodeDelta(frame));
    const fullEvent = timed(() => decodeFrame(full.value));
    add("full (today)", full.value.byteLength, full.ms, fullEvent.ms);
    fullClient.apply(fullEvent.value, 0);

    const fullZ = timed(() => compressFrame(full.value, { level: 1 }));
    const fullZDecode = timed(() => decodeFrame(inflateFrame(fullZ.value)));
    add("full + deflate 1 (fflate)", fullZ.value.byteLength, full.ms + fullZ.ms, fullZDecode.ms);

    const compact = timed(() => encodeCompactDelta(frame, { previous: feed.previous, avgDigits }));
    if (record) maxCompactFrame = Math.max(maxCompactFrame, compact.value.byteLength);
    const decoded = timed(() => decodeCompactDelta(compact.value, { base: clientBase }));
    add("compact", compact.value.byteLength, compact.ms, decoded.ms);

    for (const level of [1, 6] as const) {
      const z = timed(() => compressFrame(compact.value, { level }));
      const zDecode = timed(() => decodeCompactDelta(inflateFrame(z.value), { base: clientBase }));
      add(
        `compact + deflate ${level} (fflate)`,
        z.value.byteLength,
        compact.ms + z.ms,
        zDecode.ms,
      );
    }

    // A stream without bases (sent at a lower rate): every update absolute.
    const absolute = timed(() => encodeCompactDelta(frame, { avgDigits }));
    const absoluteDecode = timed(() => decodeCompactDelta(absolute.value));
    add("compact, absolute (no bases)", absolute.value.byteLength, absolute.ms, absoluteDecode.ms);
    const absoluteZ = timed(() => compressFrame(absolute.value, { level: 1 }));
    const absoluteZDecode = timed(() => decodeCompactDelta(inflateFrame(absoluteZ.value)));
    add(
      "compact, absolute + deflate 1",
      absoluteZ.value.byteLength,
      absolute.ms + absoluteZ.ms,
      absoluteZDecode.ms,
    );

    // The asynchronous, native alternative (the envelope adds about 40 bytes).
    const streamZ = await timedAsync(() => deflateAsync(compact.value));
    const streamDecode = await timedAsync(async () =>
      decodeCompactDelta(await inflateAsync(streamZ.value), { base: clientBase })
    );
    add(
      "compact + deflate (CompressionStream)",
      streamZ.value.byteLength + 40,
      compact.ms + streamZ.ms,
      streamDecode.ms,
    );

    // The dashboard's own path: the compact frame decoded as the delta it stands for.
    compactClient.apply(decodeFrame(compact.value, { base: compactClient }), 0);
  }

  // The compact client must hold what the full client holds: last, min, max and
  // time exactly, the average within its declared precision.
  let mismatches = 0, worstAvg = 0;
  for (let m = 0; m < fullClient.metrics.length; m++) {
    const a = fullClient.metrics[m], b = compactClient.metrics[m];
    if (!a || !b) continue;
    for (let s = 0; s < fullClient.capacity; s++) {
      if (a.has[s] !== b.has[s]) mismatches++;
      if (!a.has[s]) continue;
      if (
        !Object.is(a.last[s], b.last[s]) || !Object.is(a.min[s], b.min[s]) ||
        !Object.is(a.max[s], b.max[s]) || !Object.is(a.timeMs[s], b.timeMs[s])
      ) mismatches++;
      worstAvg = Math.max(worstAvg, Math.abs(a.avg[s] - b.avg[s]));
    }
  }

  const simulated = seconds;
  const full = variants["full (today)"];
  const header = [
    "encoding",
    "B/sensor update",
    "B/metric update",
    "KB/s per client",
    "encode µs/tick",
    "decode µs/tick",
    "extra encode µs per KB saved",
  ];
  const compact = variants["compact"];
  const rows = Object.values(variants).map((v) => {
    const saved = (compact.bytes - v.bytes) / 1000;
    const extra = v.name.startsWith("compact +") && saved > 0
      ? ((v.encodeMs - compact.encodeMs) * 1000 / saved).toFixed(1)
      : "";
    return [
      v.name,
      (v.bytes / sensorUpdates).toFixed(2),
      (v.bytes / metricUpdates).toFixed(2),
      (v.bytes / simulated / 1000).toFixed(1),
      (v.encodeMs * 1000 / ticks).toFixed(0),
      (v.decodeMs * 1000 / ticks).toFixed(0),
      extra,
    ];
  });
  console.log(
    `\n${sensors} sensors, ${rate} readings/s: ${ticks} ticks of ${TICK_MS} ms over ${simulated} s ` +
      `(after ${warmupS.toFixed(0)} s warm-up, ${warmupWallS.toFixed(1)} s of wall time); ` +
      `CPU: fastest of ${REPS} runs per tick, mean over ticks; ` +
      `${readings} readings, ${sensorUpdates} sensor updates, ${metricUpdates} metric updates; ` +
      `largest compact frame ${maxCompactFrame} B; avg sent with ${avgDigits} digits`,
  );
  console.log(renderTable(header, rows));
  console.log(
    `compact vs full: ${(full.bytes / compact.bytes).toFixed(1)}x smaller; ` +
      `the compact client matches the full one: ${
        mismatches === 0 ? "yes" : `NO (${mismatches} values differ)`
      }, ` +
      `largest avg difference ${worstAvg.toExponential(2)}`,
  );
  if (mismatches > 0) Deno.exitCode = 1;
}

if (flags.sensors !== undefined) {
  await run(Number(flags.sensors), Number(flags.rate));
} else {
  await run(5_000, 10_000);
  await run(100_000, 50_000);
}
