import fc from "fast-check";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { flatcJson } from "../tests/testing/flatc_json.ts";
import { decodeViewFrame, encodeViewFrame } from "./view_frames.ts";
import type { ViewFrameInput, ViewFrameKind } from "./view_frames.ts";
import { decodeServerFrame } from "./server_frames.ts";
import type { BaseValues } from "./compact_delta.ts";
import { allocateStates } from "./columns.ts";
import type { MetricStates } from "./columns.ts";

interface Values {
  last: number;
  avg: number;
  min: number;
  max: number;
}

const key = (sensor: number, metric: number) => sensor * 65_536 + metric;

/** Values on a decimal grid (what sensors report), or any double. */
const value = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.integer({ min: -200_000, max: 200_000 }), fc.nat(3)) },
  { weight: 1, arbitrary: fc.double({ noNaN: true }) },
).map((v) => (Array.isArray(v) ? v[0] / 10 ** v[1] : v));

const values = fc.record({ last: value, avg: value, min: value, max: value });
const time = fc.integer({ min: 0, max: 5_000 }).map((d) => 1_767_225_600_000 + d);

const frameCase = fc.record({
  metrics: fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 3 }),
  /** Sensor indexes: the first `enteredCount` enter, the rest stay. */
  sensors: fc.uniqueArray(fc.nat(5_000), { minLength: 0, maxLength: 30 }),
  enteredShare: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.array(fc.tuple(values, values, time, fc.boolean()), { minLength: 90, maxLength: 90 }),
  points: fc.array(
    fc.oneof(
      fc.integer({ min: -10_000, max: 10_000 }).map((n) => n / 100),
      fc.float({ noNaN: true, noDefaultInfinity: true }),
    ),
    { minLength: 61, maxLength: 61 },
  ),
  counts: fc.array(fc.nat(60), { minLength: 30, maxLength: 30 }),
  ages: fc.array(fc.integer({ min: -5, max: 200 }), { minLength: 30, maxLength: 30 }),
  rows: fc.boolean(),
  kind: fc.constantFrom<ViewFrameKind>("tick", "join", "whole"),
  onStream: fc.boolean(),
  epoch: fc.nat(0xffff_ffff),
  seq: fc.nat(),
  total: fc.nat(200_000),
  matching: fc.nat(200_000),
  offset: fc.nat(200_000),
  interval: fc.constantFrom(100, 200, 500, 1000),
  statuses: fc.array(fc.constantFrom("ok", "warn", "fault", ""), { minLength: 30, maxLength: 30 }),
  attentionCounts: fc.option(fc.array(fc.nat(0xffff_ffff), { maxLength: 6 })),
  seen: fc.array(
    fc.tuple(fc.nat(0xffff_ffff), fc.double({ min: 0, max: 4e12, noNaN: true })),
    { maxLength: 5 },
  ),
});

type ReturnTypeOfCase = typeof frameCase extends fc.Arbitrary<infer T> ? T : never;

/** Builds the frame's input and the client's bases from a case. */
function frameFrom(c: ReturnTypeOfCase): { input: ViewFrameInput; bases: Map<number, Values> } {
  const enteredCount = Math.floor(c.sensors.length * c.enteredShare);
  const entered = c.sensors.slice(0, enteredCount);
  const staying = c.sensors.slice(enteredCount);
  const rows: { sensor: number; metric: number; v: Values; base: Values | null; t: number }[] = [];
  let k = 0;
  for (const sensor of c.sensors) {
    const enters = entered.includes(sensor);
    for (const metric of c.metrics) {
      const [v, base, t, present] = c.seed[k++ % c.seed.length];
      // An entering row may lack a metric; a staying row changed only some.
      if (!present) continue;
      rows.push({ sensor, metric, v, base: enters ? null : base, t });
    }
  }
  const updates = allocateStates(rows.length);
  const previous = {
    has: new Uint8Array(rows.length),
    last: new Float64Array(rows.length),
    avg: new Float64Array(rows.length),
    min: new Float64Array(rows.length),
    max: new Float64Array(rows.length),
  };
  const bases = new Map<number, Values>();
  rows.forEach((r, i) => {
    setRow(updates, i, r.sensor, r.metric, r.v, r.t);
    if (r.base) {
      previous.has[i] = 1;
      previous.last[i] = r.base.last;
      previous.avg[i] = r.base.avg;
      previous.min[i] = r.base.min;
      previous.max[i] = r.base.max;
      bases.set(key(r.sensor, r.metric), r.base);
    }
  });
  const serverTimeMs = 1_767_225_605_000;
  const sparks = c.metrics.map((metric, m) => {
    const counts = entered.map((_, r) => c.counts[(r + m) % 30]);
    const total = counts.reduce((a, b) => a + b, 0);
    return {
      metric,
      counts,
      newestBucket: entered.map((_, r) => Math.floor(serverTimeMs / 1000) - c.ages[r]),
      points: Array.from({ length: total }, (_, i) => c.points[(i * 7 + m) % c.points.length]),
    };
  });
  return {
    input: {
      epoch: c.epoch,
      seq: c.seq,
      serverTimeMs,
      onStream: c.onStream,
      kind: c.kind,
      total: c.total,
      matching: c.matching,
      offset: c.offset,
      rows: c.rows ? Uint32Array.from(c.sensors) : null,
      entered: entered.map((index) => ({ index, id: `s${index}`, group: `g/${index % 7}` })),
      metrics: c.metrics.map((index) => ({ index, name: `m${index}` })),
      updates,
      previous,
      avgDigits: 2,
      statuses: staying.concat(entered).map((sensor, i) => [sensor, c.statuses[i]] as const),
      attention: entered.map((sensor, i) => [sensor, i % 6] as const),
      sparkBucketMs: 1000,
      sparks,
      intervalMs: c.interval,
      attentionCounts: c.attentionCounts,
      seen: c.seen,
    },
    bases,
  };
}

function setRow(
  u: MetricStates,
  i: number,
  sensor: number,
  metric: number,
  v: Values,
  t: number,
): void {
  u.sensor[i] = sensor;
  u.metric[i] = metric;
  u.last[i] = v.last;
  u.avg[i] = v.avg;
  u.min[i] = v.min;
  u.max[i] = v.max;
  u.timeMs[i] = t;
}

function mapBase(bases: Map<number, Values>): BaseValues {
  const slots = new Map<number, number>();
  const columns = {
    last: [] as number[],
    avg: [] as number[],
    min: [] as number[],
    max: [] as number[],
  };
  for (const [k, v] of bases) {
    slots.set(k, columns.last.length);
    columns.last.push(v.last);
    columns.avg.push(v.avg);
    columns.min.push(v.min);
    columns.max.push(v.max);
  }
  return { slot: (s, m) => slots.get(key(s, m)) ?? -1, columns: () => columns };
}

/** Within `digits` decimals (a declared precision), or exact where the value does not scale. */
function within(decoded: number, sent: number, digits: number): boolean {
  if (!Number.isFinite(sent) || Math.abs(sent * 10 ** digits) > 2 ** 53) {
    return Object.is(decoded, sent) || Object.is(decoded, Math.fround(sent));
  }
  return Math.abs(decoded - sent) <= 0.5 / 10 ** digits * (1 + 1e-9) + Math.abs(sent) * 2 ** -23;
}

Deno.test("decode(encode(frame)) is the frame: rows, counts, entering rows whole, staying rows against the client's values, sparklines within 2 decimals", () => {
  fc.assert(
    fc.property(frameCase, (c) => {
      const { input, bases } = frameFrom(c);
      const bytes = encodeViewFrame(input);
      const event = decodeViewFrame(bytes, { base: mapBase(bases) });
      assertEquals(
        [
          event.epoch,
          event.seq,
          event.serverTimeMs,
          event.onStream,
          event.kind,
          event.total,
          event.matching,
          event.offset,
          event.intervalMs,
        ],
        [
          input.epoch,
          input.seq,
          input.serverTimeMs,
          input.onStream,
          input.kind,
          input.total,
          input.matching,
          input.offset,
          input.intervalMs,
        ],
      );
      assertEquals(
        event.rows === null ? null : Array.from(event.rows),
        input.rows && Array.from(input.rows),
      );
      assertEquals(event.entered, input.entered);
      assertEquals(event.metrics, input.metrics);
      assertEquals(event.statuses, input.statuses.map(([s, t]) => [s, t]));
      assertEquals(event.attention, (input.attention ?? []).map(([s, code]) => [s, code]));
      assertEquals(event.attentionCounts, c.attentionCounts);
      assertEquals(event.seen, c.seen);
      // Values: every update, by (sensor, metric).
      const sent = new Map<number, number>();
      for (let i = 0; i < input.updates.length; i++) {
        sent.set(key(input.updates.sensor[i], input.updates.metric[i]), i);
      }
      const u = event.updates;
      assertEquals(u.length, input.updates.length);
      for (let j = 0; j < u.length; j++) {
        const i = sent.get(key(u.sensor[j], u.metric[j]));
        assert(i !== undefined, `update ${u.sensor[j]}/${u.metric[j]} was sent`);
        const s = input.updates;
        assert(Object.is(u.last[j], s.last[i]), `last ${u.last[j]} vs ${s.last[i]}`);
        assert(Object.is(u.min[j], s.min[i]) && Object.is(u.max[j], s.max[i]), "min and max");
        assert(Object.is(u.timeMs[j], s.timeMs[i]), "time");
        assert(within(u.avg[j], s.avg[i], 2), `avg ${u.avg[j]} vs ${s.avg[i]}`);
      }
      // Sparklines.
      assertEquals(event.sparks.map((s) => s.metric), input.sparks.map((s) => s.metric));
      event.sparks.forEach((got, m) => {
        const want = input.sparks[m];
        assertEquals(Array.from(got.counts), Array.from(want.counts));
        for (let r = 0; r < want.counts.length; r++) {
          if (want.counts[r] > 0) assertEquals(got.newestBucket[r], want.newestBucket[r]);
        }
        assertEquals(got.points.length, want.points.length);
        for (let p = 0; p < want.points.length; p++) {
          assert(
            within(got.points[p], want.points[p], 2),
            `point ${got.points[p]} vs ${want.points[p]}`,
          );
        }
      });
      // The same through the one decoder every client uses.
      const again = decodeServerFrame(bytes, { base: mapBase(bases) });
      assertEquals(again.type, "view");
    }),
    { numRuns: 200 },
  );
});

Deno.test("a staying row whose values the client does not hold cannot be decoded: a RangeError names it", () => {
  const updates = allocateStates(1);
  setRow(updates, 0, 7, 0, { last: 1, avg: 1, min: 1, max: 1 }, 1000);
  const bytes = encodeViewFrame({
    epoch: 1,
    seq: 1,
    serverTimeMs: 0,
    onStream: true,
    kind: "tick",
    total: 1,
    matching: 1,
    offset: 0,
    rows: null,
    entered: [],
    metrics: [],
    updates,
    previous: { has: [1], last: [0.5], avg: [0.5], min: [0.5], max: [0.5] },
    statuses: [],
    sparkBucketMs: 1000,
    sparks: [],
    intervalMs: 100,
  });
  let message = "";
  try {
    decodeViewFrame(bytes, { base: mapBase(new Map()) });
  } catch (error) {
    assert(error instanceof RangeError, String(error));
    message = error.message;
  }
  assertEquals(message, "Cannot decode compact delta: no base for sensor 7 metric 0");
});

Deno.test("flatc decodes a view frame: its rows, counts, the entering row's values and its sparkline as byte differences", async () => {
  const updates = allocateStates(2);
  // Sensor 4 enters at 21.5; sensor 9 stays and moves from 20.0 to 20.25.
  setRow(updates, 0, 4, 0, { last: 21.5, avg: 21.4, min: 20, max: 22 }, 1_767_225_600_000);
  setRow(updates, 1, 9, 0, { last: 20.25, avg: 20.1, min: 19, max: 21 }, 1_767_225_600_000);
  const bytes = encodeViewFrame({
    epoch: 3,
    seq: 17,
    serverTimeMs: 1_767_225_600_500,
    onStream: true,
    kind: "tick",
    total: 100_000,
    matching: 5_000,
    offset: 50,
    rows: Uint32Array.from([9, 4]),
    entered: [{ index: 4, id: "sensor_4", group: "plant-a/line-1" }],
    metrics: [],
    updates,
    previous: { has: [0, 1], last: [0, 20], avg: [0, 20.1], min: [0, 19], max: [0, 21] },
    avgDigits: 2,
    statuses: [[4, "ok"]],
    sparkBucketMs: 1000,
    sparks: [{
      metric: 0,
      counts: [3],
      newestBucket: [1_767_225_600],
      points: [21.25, 21.5, 21.5],
    }],
    intervalMs: 100,
  });
  const json = await flatcJson(bytes) as {
    body_type: string;
    body: Record<string, unknown> & {
      values: { columns: Record<string, unknown>[] };
      sparks: Record<string, unknown>[];
    };
  };
  assertEquals(json.body_type, "ViewFrame");
  const b = json.body;
  assertEquals([b.epoch, b.seq, b.on_stream, b.total, b.matching, b.offset], [
    3,
    17,
    true,
    100_000,
    5_000,
    50,
  ]);
  assertEquals(b.rows, [9, 4]);
  assertEquals(b.entered, [{ index: 4, id: "sensor_4", group: "plant-a/line-1" }]);
  assertEquals([b.status_sensor, b.status], [[4], ["ok"]]);
  // Values: row 4 fresh (the first), row 9 against 20.00 at 0.01: 2025 - 2000.
  const column = b.values.columns[0];
  assertEquals(column.fresh, { v: [0] });
  assertEquals(column.last_scale, 2);
  assertEquals(column.last, { v: [2150, 25] });
  // The sparkline: 3 points, newest in the frame's own second; each the
  // difference to the one before, the first to the row's last (21.50).
  const spark = b.sparks[0];
  assertEquals(spark.counts, { v: [3] });
  assertEquals(spark.ages, { v: [0] });
  assertEquals(spark.scale, 2);
  assertEquals(spark.points_type, "I8Column");
  assertEquals(spark.points, { v: [-25, 25, 0] });
});

Deno.test("a view frame's bytes do not depend on the frames encoded before it; ids, groups and statuses in any script, far sensor indexes and a repeated spark metric decode as sent", () => {
  const text = fc.oneof(fc.string(), fc.string({ unit: "binary" }));
  fc.assert(
    fc.property(
      frameCase,
      frameCase,
      fc.array(text, { minLength: 61, maxLength: 61 }),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      (a, b, names, far, repeat, drop) => {
        // Past 2^22 the encoder looks spark predictors up in a Map instead of its scratch.
        const shifted = { ...a, sensors: a.sensors.map((s) => s + (far ? 4_194_300 : 0)) };
        const { input, bases } = frameFrom(shifted);
        const frame: ViewFrameInput = {
          ...input,
          entered: input.entered.map((e, i) => ({
            ...e,
            id: names[i],
            group: names[60 - i],
          })),
          statuses: input.statuses.map(([s], i) => [s, names[(i * 7) % 61]] as const),
          // Points for some metrics only (the updates have all): none may take another's predictor.
          sparks: [
            ...input.sparks.slice(drop ? 1 : 0),
            ...(repeat && input.sparks.length > 0 ? [input.sparks.at(-1)!] : []),
          ],
        };
        encodeViewFrame(frameFrom(b).input);
        const first = encodeViewFrame(frame);
        encodeViewFrame(frameFrom(b).input);
        assertEquals(encodeViewFrame(frame), first);
        const event = decodeViewFrame(first, { base: mapBase(bases) });
        // What UTF-8 carries of each string (a lone surrogate comes back as U+FFFD).
        const utf8 = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));
        assertEquals(
          event.entered,
          frame.entered.map((e) => ({ index: e.index, id: utf8(e.id), group: utf8(e.group) })),
        );
        assertEquals(event.statuses, frame.statuses.map(([s, t]) => [s, utf8(t)]));
        assertEquals(event.sparks.map((s) => s.metric), frame.sparks.map((s) => s.metric));
        event.sparks.forEach((got, m) => {
          const want = frame.sparks[m];
          assertEquals(Array.from(got.counts), Array.from(want.counts));
          assertEquals(got.points.length, want.points.length);
          for (let p = 0; p < want.points.length; p++) {
            assert(
              within(got.points[p], want.points[p], 2),
              `point ${got.points[p]} vs ${want.points[p]}`,
            );
          }
        });
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("a frame's sparkline points decode as sent after a frame with points for other metrics (no predictor taken from it)", () => {
  const frame = (
    entered: number[],
    rows: [number, number, number][],
    sparks: { metric: number; counts: number[]; points: number[] }[],
  ): ViewFrameInput => {
    const updates = allocateStates(rows.length);
    rows.forEach(([sensor, metric, last], i) =>
      setRow(updates, i, sensor, metric, { last, avg: last, min: last, max: last }, 1_000)
    );
    return {
      epoch: 1,
      seq: 1,
      serverTimeMs: 10_000,
      onStream: true,
      kind: "tick",
      total: 2,
      matching: 2,
      offset: 0,
      rows: null,
      entered: entered.map((index) => ({ index, id: `s${index}`, group: "g" })),
      metrics: [0, 1, 2].map((index) => ({ index, name: `m${index}` })),
      updates,
      statuses: [],
      sparkBucketMs: 1000,
      sparks: sparks.map((s) => ({ ...s, newestBucket: s.counts.map(() => 9) })),
      intervalMs: 100,
    };
  };
  // Points for metrics 0, 1 and 2; then a frame with points for metric 2 only, whose second
  // row has no metric 2 value (its first point has no predictor) but the first has metric 1.
  encodeViewFrame(frame([10, 20], [[10, 0, 1], [10, 1, 2], [10, 2, 3], [20, 0, 4]], [
    { metric: 0, counts: [1, 1], points: [1, 4] },
    { metric: 1, counts: [1, 0], points: [2] },
    { metric: 2, counts: [1, 0], points: [3] },
  ]));
  const second = frame([10, 20], [[10, 1, 5], [10, 2, 3], [20, 0, 7]], [
    { metric: 2, counts: [1, 1], points: [3.5, 8.25] },
  ]);
  const event = decodeViewFrame(encodeViewFrame(second));
  assertEquals(event.sparks.map((s) => [s.metric, Array.from(s.points)]), [[2, [3.5, 8.25]]]);
});
