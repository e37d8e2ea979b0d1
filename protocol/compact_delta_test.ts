import fc from "fast-check";
import { inflateSync } from "fflate";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { decodeCompactDelta, encodeCompactDelta } from "./compact_delta.ts";
import type { BaseValues } from "./compact_delta.ts";
import { encodeDelta, encodeSnapshot } from "./server_frames.ts";
import type { DeltaFrame, MetricStates, SensorEntry } from "./server_frames.ts";
import { compressFrame } from "./compression.ts";
import { decodeServerFrame as decodeFrame } from "./server_frames.ts";
import { SensorStore } from "../web/src/lib/feed/sensor_store.ts";
import { flatcJson } from "../tests/testing/flatc_json.ts";

interface Values {
  last: number;
  avg: number;
  min: number;
  max: number;
}

interface Update extends Values {
  sensor: number;
  metric: number;
  timeMs: number;
}

function states(updates: readonly Update[]): MetricStates {
  const n = updates.length;
  const s: MetricStates = {
    length: n,
    sensor: new Uint32Array(n),
    metric: new Uint16Array(n),
    last: new Float64Array(n),
    avg: new Float64Array(n),
    min: new Float64Array(n),
    max: new Float64Array(n),
    timeMs: new Float64Array(n),
  };
  updates.forEach((u, i) => {
    s.sensor[i] = u.sensor;
    s.metric[i] = u.metric;
    s.last[i] = u.last;
    s.avg[i] = u.avg;
    s.min[i] = u.min;
    s.max[i] = u.max;
    s.timeMs[i] = u.timeMs;
  });
  return s;
}

function rowsOf(s: MetricStates): Update[] {
  return Array.from({ length: s.length }, (_, i) => ({
    sensor: s.sensor[i],
    metric: s.metric[i],
    last: s.last[i],
    avg: s.avg[i],
    min: s.min[i],
    max: s.max[i],
    timeMs: s.timeMs[i],
  }));
}

const key = (sensor: number, metric: number) => sensor * 65_536 + metric;

/** Bases held in a Map, as plain columns: what a client would hold. */
function mapBase(values: ReadonlyMap<number, Values>): BaseValues {
  const slots = new Map<number, number>();
  const columns = {
    last: [] as number[],
    avg: [] as number[],
    min: [] as number[],
    max: [] as number[],
  };
  for (const [k, v] of values) {
    slots.set(k, columns.last.length);
    columns.last.push(v.last);
    columns.avg.push(v.avg);
    columns.min.push(v.min);
    columns.max.push(v.max);
  }
  return { slot: (sensor, metric) => slots.get(key(sensor, metric)) ?? -1, columns: () => columns };
}

/** Within the declared precision of `digits` decimals (exact when no digits or not scalable). */
function avgMatches(decoded: number, sent: number, digits: number | undefined): boolean {
  if (digits === undefined || !Number.isFinite(sent) || Math.abs(sent * 10 ** digits) > 2 ** 53) {
    return Object.is(decoded, sent);
  }
  return Math.abs(decoded - sent) <= 0.5 / 10 ** digits * (1 + 1e-9) + Math.abs(sent) * 2 ** -50;
}

function frameOf(updates: readonly Update[], extra: Partial<DeltaFrame> = {}): DeltaFrame {
  return {
    epoch: 7,
    seq: 42,
    serverTimeMs: 1_767_225_600_100,
    sensors: [],
    metrics: [],
    removed: [],
    updates: states(updates),
    ...extra,
  };
}

// ---- Arbitraries ----

/** Values on a decimal grid (what sensors report), arbitrary doubles and float32s. */
const value = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: -2_000_000, max: 2_000_000 }), fc.nat(4)) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.float() },
).map((v) => (Array.isArray(v) ? v[0] / 10 ** v[1] : v));

const time = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map((d) => 1_767_225_600_000 + d),
  fc.integer({ min: -1e12, max: 1e13 }),
  fc.double(),
);

/** A base near the value (a small difference), another value, or the value itself (unchanged). */
function baseFor(v: number) {
  return fc.oneof(
    fc.integer({ min: -300, max: 300 }).map((d) => v + d / 10),
    value,
    fc.constant(v),
  );
}

const update = fc.record({
  sensor: fc.oneof(
    { weight: 5, arbitrary: fc.nat(3000) },
    { weight: 1, arbitrary: fc.constant(0xffff_ffff) },
  ),
  metric: fc.oneof({ weight: 5, arbitrary: fc.nat(4) }, {
    weight: 1,
    arbitrary: fc.constant(65_535),
  }),
  last: value,
  avg: fc.oneof(value, fc.double({ min: -1e6, max: 1e6, noNaN: true })),
  min: value,
  max: value,
  timeMs: time,
}).chain((u) =>
  fc.record({
    u: fc.constant(u),
    // No base: the update is fresh.
    base: fc.option(
      fc.record({
        last: baseFor(u.last),
        avg: baseFor(u.avg),
        min: baseFor(u.min),
        max: baseFor(u.max),
      }),
      { freq: 4 },
    ),
  })
);

/** Well-formed Unicode (FlatBuffers strings are UTF-8). */
const text = fc.string({ unit: "grapheme", maxLength: 8 });

const frameCase = fc.record({
  entries: fc.uniqueArray(update, {
    maxLength: 60,
    selector: ({ u }) => key(u.sensor, u.metric),
  }),
  /** Bases looked up per update, aligned with the updates, or none (every update fresh). */
  baseForm: fc.constantFrom("lookup", "aligned", "none"),
  avgDigits: fc.option(fc.nat(6)),
  removed: fc.uniqueArray(fc.nat(5000), { maxLength: 5 }),
  sensors: fc.array(
    fc.record({ index: fc.nat(5000), id: text, group: text }).map((e) => ({ ...e })),
    { maxLength: 3 },
  ),
  metrics: fc.array(
    fc.record({ index: fc.nat(65_535), name: text }).map((e) => ({ ...e })),
    { maxLength: 3 },
  ),
});

// ---- Round trips ----

Deno.test("decode(encode(frame, base)) gives back every update: last, min, max, time exactly, avg within its declared precision", () => {
  fc.assert(
    fc.property(frameCase, (c) => {
      const bases = new Map<number, Values>();
      if (c.baseForm !== "none") {
        for (const { u, base } of c.entries) if (base) bases.set(key(u.sensor, u.metric), base);
      }
      const updates = c.entries.map((e) => e.u);
      const frame = frameOf(updates, {
        removed: c.removed,
        sensors: c.sensors,
        metrics: c.metrics,
      });
      const avgDigits = c.avgDigits ?? undefined;
      const base = c.baseForm === "none" ? undefined : mapBase(bases);
      const column = (f: keyof Values) => c.entries.map((e) => e.base?.[f] ?? 0);
      const previous = {
        has: c.entries.map((e) => (e.base ? 1 : 0)),
        last: column("last"),
        avg: column("avg"),
        min: column("min"),
        max: column("max"),
      };
      const bytes = c.baseForm === "aligned"
        ? encodeCompactDelta(frame, { previous, avgDigits })
        : encodeCompactDelta(frame, { base, avgDigits });
      const decoded = decodeCompactDelta(bytes, { base });

      assertEquals(decoded.epoch, 7);
      assertEquals(decoded.seq, 42);
      assertEquals(decoded.serverTimeMs, 1_767_225_600_100);
      assertEquals(decoded.removed, c.removed);
      assertEquals(decoded.sensors, c.sensors);
      assertEquals(decoded.metrics, c.metrics);
      const got = new Map(rowsOf(decoded.updates).map((u) => [key(u.sensor, u.metric), u]));
      assertEquals(got.size, updates.length);
      for (const u of updates) {
        const d = got.get(key(u.sensor, u.metric));
        assert(d, `update of sensor ${u.sensor} metric ${u.metric} is missing`);
        for (const field of ["last", "min", "max"] as const) {
          assert(Object.is(d[field], u[field]), `${field}: sent ${u[field]}, got ${d[field]}`);
        }
        // A time is an instant: -0 ms and 0 ms are the same one (times travel as offsets).
        assert(
          d.timeMs === u.timeMs || Object.is(d.timeMs, u.timeMs),
          `timeMs: sent ${u.timeMs}, got ${d.timeMs}`,
        );
        assert(avgMatches(d.avg, u.avg, avgDigits), `avg: sent ${u.avg}, got ${d.avg}`);
      }
    }),
    { numRuns: 1500 },
  );
});

Deno.test("an empty compact frame carries its dictionaries, removals, windows, aggregates, late counts and attention", () => {
  const frame = frameOf([], {
    sensors: [{ index: 3, id: "sensor_3", group: "plant-a/line-1" }],
    metrics: [{ index: 2, name: "pressure" }],
    removed: [9, 4],
    windows: {
      length: 1,
      sensor: Uint32Array.of(3),
      metric: Uint16Array.of(2),
      size: Uint8Array.of(1),
      flags: Uint8Array.of(3),
      startMs: Float64Array.of(1000),
      count: Float64Array.of(10),
      sum: Float64Array.of(10_130),
      min: Float64Array.of(1012.5),
      max: Float64Array.of(1013.5),
      std: Float64Array.of(0.25),
    },
    aggregates: [{
      group: "plant-a",
      size: 1,
      metric: 2,
      startMs: 1000,
      sensors: 4,
      count: 40,
      sum: 40_520,
      min: 1012,
      max: 1014,
    }],
    late: [[3, 5]],
    attention: [[3, 5], [4, 2]],
  });
  const decoded = decodeCompactDelta(encodeCompactDelta(frame));
  assertEquals(decoded.updates.length, 0);
  assertEquals(decoded.sensors, frame.sensors);
  assertEquals(decoded.metrics, frame.metrics);
  assertEquals(decoded.removed, [9, 4]);
  assertEquals(decoded.windows, frame.windows);
  assertEquals(decoded.aggregates, frame.aggregates);
  assertEquals(decoded.late, [[3, 5]]);
  assertEquals(decoded.attention, [[3, 5], [4, 2]]);
});

Deno.test("the encoder refuses a sensor's metric listed twice, and encodes the next frame correctly", () => {
  const u = { metric: 1, last: 1, avg: 1, min: 1, max: 1, timeMs: 5 };
  let error: unknown;
  try {
    encodeCompactDelta(frameOf([{ sensor: 4, ...u }, { sensor: 2, ...u }, { sensor: 4, ...u }]));
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError, `threw ${error}`);
  assertEquals(
    (error as Error).message,
    "Cannot encode a compact delta: sensor 4 metric 1 appears twice",
  );
  const next = decodeCompactDelta(encodeCompactDelta(frameOf([{ sensor: 8, ...u, metric: 1 }])));
  assertEquals(rowsOf(next.updates), [{ sensor: 8, ...u }]);
});

Deno.test("a sensor's metric listed twice is refused wherever it sits, in small frames and large", () => {
  const u = { last: 1, avg: 1, min: 1, max: 1, timeMs: 5 };
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ sensor: fc.nat(30), metric: fc.nat(3) }), {
        minLength: 1,
        maxLength: 120,
        selector: (k) => key(k.sensor, k.metric),
      }),
      fc.nat(),
      fc.nat(),
      (keys, which, where) => {
        const twice = keys[which % keys.length];
        const listed = [...keys];
        listed.splice(where % (listed.length + 1), 0, twice);
        let error: unknown;
        try {
          encodeCompactDelta(frameOf(listed.map((k) => ({ ...k, ...u }))));
        } catch (e) {
          error = e;
        }
        assert(error instanceof RangeError, `threw ${error}`);
        assertEquals(
          (error as Error).message,
          `Cannot encode a compact delta: sensor ${twice.sensor} metric ${twice.metric} appears twice`,
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("a frame whose update needs a base the client does not hold is refused with a RangeError", () => {
  const bases = new Map([[key(5, 0), { last: 21.3, avg: 21.3, min: 20, max: 22 }]]);
  const bytes = encodeCompactDelta(
    frameOf([{ sensor: 5, metric: 0, last: 21.4, avg: 21.3, min: 20, max: 22, timeMs: 1 }]),
    { base: mapBase(bases) },
  );
  let error: unknown;
  try {
    decodeCompactDelta(bytes, { base: mapBase(new Map()) });
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError, `threw ${error}`);
  assertEquals(
    (error as Error).message,
    "Cannot decode compact delta: no base for sensor 5 metric 0",
  );
});

Deno.test("frames that are not compact deltas are refused with a TypeError", () => {
  for (const bytes of [encodeDelta(frameOf([])), new Uint8Array(3), new Uint8Array(64)]) {
    let error: unknown;
    try {
      decodeCompactDelta(bytes);
    } catch (e) {
      error = e;
    }
    assert(error instanceof TypeError, `threw ${error}`);
  }
});

// ---- Chains ----

/** One tick: updates of sensors 0..19 (new ones join the dictionary), removals of others. */
const tick = fc.record({
  updates: fc.uniqueArray(
    fc.record({
      sensor: fc.nat(19),
      metric: fc.nat(2),
      last: fc.oneof(
        { weight: 5, arbitrary: fc.integer({ min: -4000, max: 12_000 }).map((n) => n / 10) },
        { weight: 1, arbitrary: fc.double({ noNaN: true }) },
      ),
      avg: fc.double({ min: -1000, max: 1000, noNaN: true }),
      minMoves: fc.boolean(),
      maxMoves: fc.boolean(),
      bound: fc.integer({ min: -4000, max: 12_000 }).map((n) => n / 10),
      timeMs: fc.integer({ min: 0, max: 200 }).map((d) => 1_767_225_600_000 + d),
    }),
    { maxLength: 40, selector: (u) => key(u.sensor, u.metric) },
  ),
  removed: fc.uniqueArray(fc.nat(19), { maxLength: 3 }),
});

Deno.test("a client applying compact frames to a snapshot holds what a client applying the full frames holds", () => {
  fc.assert(
    fc.property(
      fc.array(tick, { minLength: 1, maxLength: 12 }),
      fc.nat(8),
      fc.option(fc.nat(4)),
      (ticks, initial, digits) => {
        const avgDigits = digits ?? undefined;
        const metrics = [0, 1, 2].map((index) => ({ index, name: `m${index}` }));
        const entry = (s: number): SensorEntry => ({ index: s, id: `sensor_${s}`, group: "g" });
        // The hub's mirror: (sensor, metric) → values and time; and the sensors it knows.
        const mirror = new Map<number, Values & { timeMs: number }>();
        const known = new Set<number>();
        for (let s = 0; s < initial; s++) {
          known.add(s);
          for (let m = 0; m < 3; m++) {
            mirror.set(key(s, m), { last: s + m / 10, avg: s, min: s - 1, max: s + 1, timeMs: 1 });
          }
        }
        const snapshotRows = [...mirror].map(([k, v]) => ({
          sensor: Math.floor(k / 65_536),
          metric: k % 65_536,
          ...v,
        }));
        const snapshot = decodeFrame(encodeSnapshot({
          epoch: 7,
          seq: 0,
          serverTimeMs: 0,
          sensors: [...known].map(entry),
          metrics,
          values: states(snapshotRows),
        }));
        const full = new SensorStore();
        const compact = new SensorStore();
        full.apply(snapshot, 0);
        compact.apply(snapshot, 0);

        ticks.forEach((t, i) => {
          const touched = new Set(t.updates.map((u) => u.sensor));
          const removed = t.removed.filter((s) => known.has(s) && !touched.has(s));
          const joined = [...touched].filter((s) => !known.has(s));
          const updates: Update[] = t.updates.map((u) => {
            const before = mirror.get(key(u.sensor, u.metric));
            return {
              sensor: u.sensor,
              metric: u.metric,
              last: u.last,
              avg: u.avg,
              min: before && !u.minMoves ? before.min : u.bound - 1,
              max: before && !u.maxMoves ? before.max : u.bound + 1,
              timeMs: u.timeMs,
            };
          });
          const frame = frameOf(updates, { seq: i + 1, sensors: joined.map(entry), removed });
          // The encoder's bases: the mirror before this tick's merge.
          const base = mapBase(mirror);
          const event = decodeFrame(encodeDelta(frame));
          assertEquals(full.apply(event, 0), "applied");
          const sent = encodeCompactDelta(frame, { base, avgDigits });
          assertEquals(compact.apply(decodeFrame(sent, { base: compact }), 0), "applied");
          for (const u of updates) mirror.set(key(u.sensor, u.metric), u);
          for (const s of joined) known.add(s);
          for (const s of removed) {
            known.delete(s);
            for (let m = 0; m < 3; m++) mirror.delete(key(s, m));
          }
        });

        assertEquals(compact.seq, full.seq);
        assertEquals(compact.ids, full.ids);
        for (let m = 0; m < 3; m++) {
          const a = full.metrics[m]!, b = compact.metrics[m]!;
          for (let s = 0; s < full.capacity; s++) {
            assertEquals(b.has[s], a.has[s], `has of sensor ${s} metric ${m}`);
            if (!a.has[s]) continue;
            for (const field of ["last", "min", "max", "timeMs"] as const) {
              assert(Object.is(b[field][s], a[field][s]), `${field} of sensor ${s} metric ${m}`);
            }
            assert(
              avgMatches(b.avg[s], a.avg[s], avgDigits),
              `avg of sensor ${s} metric ${m}: ${a.avg[s]} vs ${b.avg[s]}`,
            );
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

// ---- flatc ----

Deno.test("flatc decodes a compact frame: rows gap-coded, values as byte differences from the bases", async () => {
  // Sensors 10, 11 and 15 at 0.1 °C steps; the client holds 21.3 for each.
  const bases = new Map<number, Values>();
  for (const s of [10, 11, 15]) bases.set(key(s, 0), { last: 21.3, avg: 21.3, min: 20, max: 25 });
  const at = 1_767_225_600_000;
  const bytes = encodeCompactDelta(
    frameOf([
      { sensor: 15, metric: 0, last: 21.1, avg: 21.26, min: 20, max: 25, timeMs: at },
      { sensor: 10, metric: 0, last: 21.5, avg: 21.31, min: 20, max: 25, timeMs: at },
      { sensor: 11, metric: 0, last: 25.3, avg: 21.4, min: 20, max: 25.3, timeMs: at + 20 },
    ]),
    { base: mapBase(bases), avgDigits: 2 },
  );
  const json = await flatcJson(bytes) as {
    body_type: string;
    body: Record<string, unknown> & { columns: Record<string, unknown>[] };
  };
  assertEquals(json.body_type, "CompactDelta");
  assertEquals(json.body.epoch, 7);
  assertEquals(json.body.seq, 42);
  assertEquals(json.body.base_time_ms, at);
  // Rows 10, 11, 15: first the index, then each gap minus one.
  assertEquals(json.body.row_sensor_type, "U8Column");
  assertEquals(json.body.row_sensor, { v: [10, 0, 3] });
  // Row times as ms after the base time.
  assertEquals(json.body.row_time, { v: [0, 20, 0] });
  const column = json.body.columns[0];
  assertEquals(column.metric ?? 0, 0);
  // last at 0.1: 215 - 213, 253 - 213, 211 - 213.
  assertEquals(column.last_scale, 1);
  assertEquals(column.last_type, "I8Column");
  assertEquals(column.last, { v: [2, 40, -2] });
  // avg at 0.01: 2131 - 2130, 2140 - 2130, 2126 - 2130.
  assertEquals(column.avg_scale, 2);
  assertEquals(column.avg, { v: [1, 10, -4] });
  // Only sensor 11's max moved (update 1): 253 - 250.
  assertEquals(column.min_at, undefined);
  assertEquals(column.max_at, { v: [1] });
  assertEquals(column.max, { v: [3] });
});

Deno.test("flatc decodes a compressed frame's envelope", async () => {
  const updates = Array.from({ length: 300 }, (_, i) => ({
    sensor: i,
    metric: 0,
    last: 20,
    avg: 20,
    min: 20,
    max: 20,
    timeMs: 1000,
  }));
  const inner = encodeDelta(frameOf(updates));
  const bytes = compressFrame(inner);
  assert(bytes.byteLength < inner.byteLength / 4, `${bytes.byteLength} of ${inner.byteLength}`);
  const json = await flatcJson(bytes) as { body_type: string; body: Record<string, unknown> };
  assertEquals(json.body_type, "Compressed");
  assertEquals(json.body.codec, 1);
  assertEquals(json.body.size, inner.byteLength);
  // The payload is raw DEFLATE of the inner frame.
  assertEquals(inflateSync(Uint8Array.from(json.body.payload as number[])), inner);
});
