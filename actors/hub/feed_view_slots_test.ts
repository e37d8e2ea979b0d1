import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { FeedView } from "./feed_view.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";

const METRICS = 3;

/** One shard flush: sensors (re-)added, updates [sensor, metric, last], removals. */
function flush(o: {
  added: number[];
  updates: [number, number, number][];
  removed: number[];
}): ShardChanges {
  const updates = allocateStates(o.updates.length);
  o.updates.forEach(([sensor, metric, last], i) => {
    updates.sensor[i] = sensor;
    updates.metric[i] = metric;
    updates.last[i] = last;
    updates.avg[i] = last + 0.5;
    updates.min[i] = last - 1;
    updates.max[i] = last + 1;
    updates.timeMs[i] = 1000 + i;
  });
  return {
    sensors: o.added.map((index) => ({ index, id: `s${index}`, group: "g" })),
    metrics: Array.from({ length: METRICS }, (_, index) => ({ index, name: `m${index}` })),
    updates,
    windows: allocateWindowStates(0),
    late: [],
    statuses: [],
    removed: o.removed,
  };
}

Deno.test("through updates, removals (slots moved into holes) and re-adds, every slot's sensor, metric and values are the latest of that pair, as a map model keeps them", () => {
  const tick = fc.record({
    removed: fc.uniqueArray(fc.nat(24), { maxLength: 6 }),
    updates: fc.array(
      fc.tuple(fc.nat(24), fc.nat(METRICS - 1), fc.integer({ min: -99, max: 99 })),
      { maxLength: 40 },
    ),
  });
  fc.assert(
    fc.property(fc.array(tick, { minLength: 1, maxLength: 12 }), (ticks) => {
      const view = new FeedView();
      const model = new Map<string, number>(); // "sensor/metric" → last
      const known = new Set<number>();
      for (const t of ticks) {
        // Removals first (as the view applies them); a sensor updated is (re-)added.
        for (const s of t.removed) {
          known.delete(s);
          for (let m = 0; m < METRICS; m++) model.delete(`${s}/${m}`);
        }
        const added = [...new Set(t.updates.map(([s]) => s))].filter((s) => !known.has(s));
        for (const s of added) known.add(s);
        for (const [s, m, last] of t.updates) model.set(`${s}/${m}`, last);
        view.apply([flush({ added, updates: t.updates, removed: t.removed })]);
        const v = view.values;
        const held = new Map<string, number>();
        for (let slot = 0; slot < view.valueCount; slot++) {
          const key = `${v.sensor(slot)}/${v.metric(slot)}`;
          assertEquals(held.has(key), false, `one slot per pair (${key})`);
          held.set(key, v.last(slot));
          assertEquals(view.valueSlot(v.sensor(slot), v.metric(slot)), slot);
          assertEquals([v.avg(slot), v.min(slot), v.max(slot)], [
            v.last(slot) + 0.5,
            v.last(slot) - 1,
            v.last(slot) + 1,
          ]);
        }
        assertEquals(held, model);
      }
    }),
    { numRuns: 300 },
  );
});
