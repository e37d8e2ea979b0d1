// Inbound frames from outside: a million mutated and truncated ones must
// each be refused with a TypeError/RangeError or decode consistently,
// never crash, never hang.
import { assert } from "../tests/testing/assert.ts";
import { decodeClientMessage, encodeClientStats, encodeViewSubscribe } from "./client_messages.ts";
import { decodeIngestBatch, encodeReadingBlock } from "./ingest_codec.ts";
import { encodeDelta, encodePong } from "./mod.ts";
import { blockFromReadings } from "./reading_block.ts";
import { decodeCompactDelta, encodeCompactDelta } from "./compact_delta.ts";
import { compressFrame, inflateFrame } from "./compression.ts";
import { decodeViewFrame, encodeViewFrame } from "./view_frames.ts";
import { allocateStates } from "./columns.ts";

function mutator(seed: number) {
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  return (valid: Uint8Array): Uint8Array => {
    const kind = next() % 5;
    if (kind === 0) return valid.slice(0, next() % valid.length); // truncated
    const out = kind === 4 ? new Uint8Array(valid.length + (next() % 64)) : valid.slice();
    if (kind === 4) out.set(valid);
    const edits = 1 + (next() % 4);
    for (let e = 0; e < edits; e++) {
      const at = next() % out.length;
      if (kind === 1) out[at] ^= 1 << (next() % 8); // bit flip
      else if (kind === 2) out[at] = next() & 0xff; // byte
      else { // a plausible but wrong 32-bit offset
        const aligned = at & ~3;
        if (aligned + 4 <= out.length) {
          new DataView(out.buffer).setInt32(aligned, (next() % 512) - 256, true);
        }
      }
    }
    return out;
  };
}

function fuzz(
  name: string,
  valid: Uint8Array[],
  count: number,
  decode: (bytes: Uint8Array) => void,
) {
  const mutate = mutator(name.length * 7919);
  let slowest = 0;
  let accepted = 0;
  for (let i = 0; i < count; i++) {
    const bytes = mutate(valid[i % valid.length]);
    const started = performance.now();
    try {
      decode(bytes);
      accepted++;
    } catch (error) {
      if (!(error instanceof TypeError || error instanceof RangeError)) {
        throw new Error(
          `${name}: frame ${i} threw ${(error as Error)?.name}: ${(error as Error)?.message}`,
        );
      }
    }
    slowest = Math.max(slowest, performance.now() - started);
  }
  // A hang detector, not a benchmark: a pathological frame would take seconds to
  // minutes; GC pauses on a loaded CI machine reach about half a second.
  assert(slowest < 3_000, `${name}: slowest frame took ${slowest.toFixed(1)} ms`);
  return accepted;
}

Deno.test("a million mutated and truncated client frames are refused cleanly or decoded", () => {
  const valid = [
    encodePong(1),
    encodePong(0xffffffff),
    encodeDelta({
      epoch: 1,
      seq: 2,
      serverTimeMs: 3,
      sensors: [{ index: 0, id: "s", group: "g" }],
      metrics: [{ index: 0, name: "t" }],
      updates: {
        length: 1,
        sensor: new Uint32Array(1),
        metric: new Uint16Array(1),
        last: new Float64Array(1),
        avg: new Float64Array(1),
        min: new Float64Array(1),
        max: new Float64Array(1),
        timeMs: new Float64Array(1),
      },
      removed: [],
    }),
  ];
  const accepted = fuzz("client", valid, 1_000_000, (bytes) => {
    const message = decodeClientMessage(bytes);
    assert(message.type === "pong" && Number.isInteger(message.nonce));
  });
  assert(accepted > 0 && accepted < 1_000_000, `${accepted} decoded`);
});

Deno.test("mutated and truncated ViewSubscribe and ClientStats frames are refused cleanly or decode to a request within the message's bounds", () => {
  const valid = [
    encodeViewSubscribe({ offset: 0, limit: 50 }),
    encodeViewSubscribe({
      subscriptions: [{ id: 1, group: "plant-a" }, { id: 2, sensors: ["s1", "s2"] }],
      sort: { key: "metric", metric: "temperature", field: "avg", direction: "desc" },
      filter: { idSubstring: "s1", groupPrefix: "plant-a/line-1", status: [0, 2] },
      offset: 1_000,
      limit: 60,
      order: "hold",
      resume: { epoch: 7, seq: 99 },
      hiddenMetrics: ["humidity", "pressure"],
    }),
    encodeClientStats(12.5, 40),
  ];
  const accepted = fuzz("view", valid, 200_000, (bytes) => {
    const message = decodeClientMessage(bytes);
    if (message.type === "stats") {
      assert(Number.isFinite(message.frameP95Ms) && message.frameP95Ms >= 0);
      return;
    }
    if (message.type !== "view") return; // a mutated body type that still verifies
    const r = message.request;
    assert(["id", "group", "seen", "metric", "status"].includes(r.sort.key));
    assert(["last", "avg", "min", "max"].includes(r.sort.field));
    assert(["keep", "hold", "release", "resort"].includes(r.order));
    assert(r.subscriptions.length <= 64 && (r.filter.status?.length ?? 0) <= 256);
    assert(Number.isInteger(r.offset) && Number.isInteger(r.limit));
    assert(r.hiddenMetrics.length <= 1024 && r.hiddenMetrics.every((n) => typeof n === "string"));
  });
  assert(accepted > 0 && accepted < 200_000, `${accepted} decoded`);
});

Deno.test("mutated and truncated ingest batches are refused cleanly or decode to a consistent block", () => {
  const valid = [1, 5, 40].map((n) =>
    encodeReadingBlock(blockFromReadings(Array.from({ length: n }, (_, i) => ({
      sensorId: `sensor_${i}`,
      group: "plant-a/line-1",
      timeMs: 1_700_000_000_000 + i,
      values: { temperature: i, humidity: -i },
    }))))
  );
  fuzz("ingest", valid, 200_000, (bytes) => {
    const { block } = decodeIngestBatch(bytes, { maxReadings: 10_000 });
    for (const column of [block.sensor, block.group, block.status, block.metric]) {
      for (let i = 0; i < column.length; i++) {
        if (column[i] >= block.strings.length) throw new Error("index past the string table");
      }
    }
    if (block.metricStart[block.length] !== block.value.length) {
      throw new Error("inconsistent values");
    }
  });
});

Deno.test("mutated and truncated compact deltas and compressed frames are refused cleanly or decode consistently", () => {
  const at = 1_767_225_600_000;
  // Sensors 0..11 with three metrics, some with two; grid values, a few arbitrary doubles,
  // moved min/max and other times here and there.
  const rows: [number, number][] = [];
  for (let s = 0; s < 12; s++) for (let m = 0; m < (s % 4 === 3 ? 2 : 3); m++) rows.push([s, m]);
  const n = rows.length;
  const column = (f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
  const frame = {
    epoch: 1,
    seq: 2,
    serverTimeMs: at,
    sensors: [{ index: 11, id: "sensor_11", group: "plant-a" }],
    metrics: [{ index: 2, name: "pressure" }],
    updates: {
      length: n,
      sensor: Uint32Array.from(rows, ([s]) => s),
      metric: Uint16Array.from(rows, ([, m]) => m),
      last: column((i) => (i % 7 === 0 ? Math.PI * i : 200 + i / 10)),
      avg: column((i) => 21 + i / 7),
      min: column((i) => (i % 5 === 0 ? 1 : 20)),
      max: column((i) => (i % 4 === 0 ? 90 : 30)),
      timeMs: column((i) => at + (i % 6 === 0 ? i * 0.5 : 0)),
    },
    removed: [15],
    late: [[3, 1]] as [number, number][],
  };
  const bases = {
    last: new Float64Array(64).fill(200),
    avg: new Float64Array(64).fill(21),
    min: new Float64Array(64).fill(20),
    max: new Float64Array(64).fill(30),
  };
  // Sensors below 10 have bases; 10 and 11 are fresh.
  const base = { slot: (s: number, m: number) => (s < 10 ? s * 3 + m : -1), columns: () => bases };
  const compact = encodeCompactDelta(frame, { base, avgDigits: 2 });
  const valid = [
    compact,
    encodeCompactDelta(frame),
    compressFrame(compact, { minBytes: 0, minSaving: -1 }),
  ];
  const accepted = fuzz("compact", valid, 60_000, (bytes) => {
    let d;
    try {
      d = decodeCompactDelta(inflateFrame(bytes, { maxBytes: 1 << 20 }), { base });
    } catch (error) {
      // Only the decoder's own refusals count as clean, not a TypeError from reading null.
      if (/^(Invalid|Cannot decode)/.test((error as Error).message)) throw error;
      throw new Error(`unexpected ${(error as Error).name}: ${(error as Error).message}`);
    }
    const u = d.updates;
    for (const c of [u.sensor, u.metric, u.last, u.avg, u.min, u.max, u.timeMs]) {
      if (c.length !== u.length) throw new Error("columns of different lengths");
    }
    const keys = new Set<number>();
    for (let i = 0; i < u.length; i++) keys.add(u.sensor[i] * 65_536 + u.metric[i]);
    if (keys.size !== u.length) throw new Error("a sensor's metric decoded twice");
  });
  assert(accepted > 0 && accepted < 60_000, `${accepted} decoded`);
});

Deno.test("mutated and truncated view frames are refused cleanly or decode to a consistent window", () => {
  const frame = (rows: number, counts: number[] | null) => {
    const updates = allocateStates(rows * 2);
    for (let i = 0; i < updates.length; i++) {
      updates.sensor[i] = i >> 1;
      updates.metric[i] = i & 1;
      updates.last[i] =
        updates.avg[i] =
        updates.min[i] =
        updates.max[i] =
          i * 1.5;
      updates.timeMs[i] = 1_767_225_600_000 + i;
    }
    const entered = Array.from({ length: rows }, (_, index) => ({
      index,
      id: `s${index}`,
      group: "plant-a/line-1",
    }));
    return encodeViewFrame({
      epoch: 7,
      seq: 3,
      serverTimeMs: 1_767_225_601_000,
      onStream: true,
      kind: "whole",
      total: 100,
      matching: rows,
      offset: 0,
      rows: Uint32Array.from(entered, (e) => e.index),
      entered,
      metrics: [{ index: 0, name: "t" }, { index: 1, name: "h" }],
      updates,
      statuses: entered.map((e) => [e.index, "ok"] as const),
      attention: entered.map((e) => [e.index, e.index % 6] as const),
      sparkBucketMs: 1000,
      sparks: [{
        metric: 0,
        counts: entered.map(() => 3),
        newestBucket: entered.map(() => 1_767_225_601),
        points: Array.from({ length: rows * 3 }, (_, i) => i / 4),
      }],
      intervalMs: 100,
      attentionCounts: counts,
    });
  };
  const valid = [frame(1, null), frame(5, [0, 90, 4, 3, 2, 1]), frame(20, [1, 2, 3, 4, 5, 6])];
  const accepted = fuzz("viewframe", valid, 100_000, (bytes) => {
    const f = decodeViewFrame(bytes);
    for (const spark of f.sparks) assert(spark.counts.length === f.entered.length);
    assert((f.attentionCounts?.length ?? 0) <= 256);
    for (const [sensor, code] of f.attention) assert(Number.isInteger(sensor) && code <= 255);
    for (const [sensor, status] of f.statuses) {
      assert(Number.isInteger(sensor) && typeof status === "string");
    }
    // Every column holds an entry per update (a client reads them up to its length).
    const u = f.updates;
    for (const column of [u.sensor, u.metric, u.last, u.avg, u.min, u.max, u.timeMs]) {
      assert(column.length >= u.length);
    }
  });
  assert(accepted > 0 && accepted < 100_000, `${accepted} decoded`);
});
