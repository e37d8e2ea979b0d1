import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { ValueRecords } from "./value_records.ts";
import { FeedView } from "./feed_view.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import type { MetricStates } from "../../protocol/columns.ts";

/** A record as a plain object: what the interleaved layout must give back. */
interface Plain {
  sensor: number;
  metric: number;
  last: number;
  avg: number;
  min: number;
  max: number;
  timeMs: number;
}

const value = fc.oneof(fc.double(), fc.constantFrom(-0, 0, NaN, Infinity, -Infinity));
const plain = fc.record({
  sensor: fc.nat(0xffff_ffff),
  metric: fc.nat(0xffff),
  last: value,
  avg: value,
  min: value,
  max: value,
  timeMs: value,
});

function statesOf(rows: readonly Plain[]) {
  const s = allocateStates(rows.length);
  rows.forEach((r, i) => {
    s.sensor[i] = r.sensor;
    s.metric[i] = r.metric;
    s.last[i] = r.last;
    s.avg[i] = r.avg;
    s.min[i] = r.min;
    s.max[i] = r.max;
    s.timeMs[i] = r.timeMs;
  });
  return s;
}

function rowOf(s: MetricStates, i: number): Plain {
  return {
    sensor: s.sensor[i],
    metric: s.metric[i],
    last: s.last[i],
    avg: s.avg[i],
    min: s.min[i],
    max: s.max[i],
    timeMs: s.timeMs[i],
  };
}

function read(v: ValueRecords, slot: number): Plain {
  return {
    sensor: v.sensor(slot),
    metric: v.metric(slot),
    last: v.last(slot),
    avg: v.avg(slot),
    min: v.min(slot),
    max: v.max(slot),
    timeMs: v.timeMs(slot),
  };
}

Deno.test("value records give back each slot's fields as an array of plain objects keeps them, through stores, swaps, moves and growth", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("store" as const), slot: fc.nat(40), row: plain }),
    fc.record({ kind: fc.constant("swap" as const), slot: fc.nat(40), row: plain }),
    fc.record({ kind: fc.constant("move" as const), from: fc.nat(40), to: fc.nat(40) }),
    fc.record({ kind: fc.constant("grow" as const), by: fc.nat(20) }),
  );
  fc.assert(
    fc.property(
      fc.array(plain, { maxLength: 8 }),
      fc.array(op, { maxLength: 60 }),
      (first, ops) => {
        const v = new ValueRecords(Math.max(1, first.length));
        v.fill(statesOf(first), first.length);
        const model: Plain[] = first.map((r) => ({ ...r }));
        const zero = { sensor: 0, metric: 0, last: 0, avg: 0, min: 0, max: 0, timeMs: 0 };
        while (model.length < v.capacity) model.push({ ...zero });
        for (const o of ops) {
          if (o.kind === "grow") {
            const used = model.length;
            v.grow(v.capacity + o.by, used);
            while (model.length < v.capacity) model.push({ ...zero });
            continue;
          }
          if (o.kind === "move") {
            if (o.from >= v.capacity || o.to >= v.capacity) continue;
            v.move(o.from, o.to);
            model[o.to] = { ...model[o.from] };
            continue;
          }
          if (o.slot >= v.capacity) continue;
          const from = statesOf([o.row]);
          const was = model[o.slot];
          if (o.kind === "swap") {
            const previous = {
              last: new Float64Array(1),
              avg: new Float64Array(1),
              min: new Float64Array(1),
              max: new Float64Array(1),
            };
            v.swap(o.slot, from, 0, previous);
            assertEquals(
              [previous.last[0], previous.avg[0], previous.min[0], previous.max[0]],
              [was.last, was.avg, was.min, was.max],
            );
          } else {
            v.own(o.slot, o.row.sensor, o.row.metric);
            v.store(o.slot, from, 0);
            was.sensor = o.row.sensor;
            was.metric = o.row.metric;
          }
          // Sensor and metric are the slot's own (`own`), not a swap's.
          Object.assign(was, {
            last: o.row.last,
            avg: o.row.avg,
            min: o.row.min,
            max: o.row.max,
            timeMs: o.row.timeMs,
          });
        }
        for (let slot = 0; slot < v.capacity; slot++) assertEquals(read(v, slot), model[slot]);
        const columns = v.columns(v.capacity);
        const copied = allocateStates(v.capacity);
        for (let slot = 0; slot < v.capacity; slot++) v.copyInto(copied, slot, slot);
        assertEquals(copied, columns);
        for (let slot = 0; slot < v.capacity; slot++) {
          assertEquals(rowOf(columns, slot), model[slot]);
          for (const field of ["last", "avg", "min", "max"] as const) {
            assertEquals(v.field(slot, field), model[slot][field]);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("the mirror's values, the previous values a merge hands back and its snapshot match a map of plain objects, past the records' first growth", () => {
  const update = fc.tuple(fc.nat(599), fc.nat(2), plain);
  const tick = fc.record({
    removed: fc.uniqueArray(fc.nat(599), { maxLength: 20 }),
    // Enough for more than the records' first 1,024 slots in most runs (fast-check's arrays stay short unless told).
    updates: fc.array(update, { minLength: 150, maxLength: 400 }),
  });
  fc.assert(
    fc.property(fc.array(tick, { minLength: 3, maxLength: 8 }), (ticks) => {
      const view = new FeedView();
      const model = new Map<string, Plain>();
      const known = new Set<number>();
      for (const t of ticks) {
        for (const s of t.removed) {
          if (!known.delete(s)) continue;
          for (let m = 0; m < 3; m++) model.delete(`${s}/${m}`);
        }
        const added = [...new Set(t.updates.map(([s]) => s))].filter((s) => !known.has(s));
        for (const s of added) known.add(s);
        const rows = t.updates.map(([sensor, metric, r]) => ({ ...r, sensor, metric }));
        // What each update replaced, in merge order (a pair twice in a flush: the first is the second's base).
        const expected = rows.map((r) => {
          const key = `${r.sensor}/${r.metric}`;
          const was = model.get(key);
          model.set(key, r);
          return was === undefined ? null : [was.last, was.avg, was.min, was.max];
        });
        const merged = view.apply([flushOf(added, rows, t.removed)]);
        if (merged === null) {
          assertEquals(rows.length + added.length, 0);
          continue;
        }
        const p = merged.previous;
        assertEquals(
          rows.map((_, i) => p.has[i] === 0 ? null : [p.last[i], p.avg[i], p.min[i], p.max[i]]),
          expected,
        );
        assertEquals(view.valueCount, model.size);
        for (const [key, r] of model) {
          const slot = view.valueSlot(r.sensor, r.metric);
          assertEquals(slot >= 0 ? read(view.values, slot) : null, r, key);
        }
        const { values } = view.snapshot();
        const snapped = new Map<string, Plain>();
        for (let i = 0; i < values.length; i++) {
          const r = rowOf(values, i);
          snapped.set(`${r.sensor}/${r.metric}`, r);
        }
        assertEquals(snapped, model);
      }
    }),
    // No shrinking: a failure over these long ticks would take minutes to shrink.
    { numRuns: 40, endOnFailure: true },
  );
});

function flushOf(added: number[], rows: Plain[], removed: number[]): ShardChanges {
  return {
    sensors: added.map((index) => ({ index, id: `s${index}`, group: "g" })),
    metrics: [0, 1, 2].map((index) => ({ index, name: `m${index}` })),
    updates: statesOf(rows),
    windows: allocateWindowStates(0),
    late: [],
    statuses: [],
    removed,
  };
}
