import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { ShardBehavior } from "./shard.ts";
import { Router } from "./router.ts";
import type { ShardChanges } from "./shard_messages.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import type { MetricStates, WindowStates } from "../../protocol/columns.ts";

// A shard in this isolate (`reuseColumns`) hands over one of two changes
// objects, its columns whole with a `length`: what counts is the first
// `length` entries, and those must be what the readings say.

const WINDOW = 3;
const spec = { sizesMs: [1_000, 10_000], graceMs: 2_000 };

function flush(shard: ShardBehavior): ShardChanges {
  let changes: ShardChanges | null = null;
  shard.receive({ type: "flush", reply: (c) => (changes = c) });
  return changes!;
}

/** The first `length` update rows, by name, sorted. */
function updateRows(u: MetricStates, router: Router): string[] {
  return Array.from(
    { length: u.length },
    (_, j) =>
      [
        router.sensorId(u.sensor[j]),
        router.metricName(u.metric[j]),
        u.last[j],
        u.avg[j],
        u.min[j],
        u.max[j],
        u.timeMs[j],
      ].join(),
  ).sort();
}

/** The first `length` window rows, sorted. */
function windowRows(w: WindowStates): string[] {
  return Array.from(
    { length: w.length },
    (_, j) =>
      [
        w.sensor[j],
        w.metric[j],
        w.size[j],
        w.flags[j],
        w.startMs[j],
        w.count[j],
        w.sum[j],
        w.min[j],
        w.max[j],
        w.std[j],
      ].join(),
  ).sort();
}

const reading = fc.record({
  sensor: fc.integer({ min: 0, max: 12 }),
  metric: fc.constantFrom("t", "h"),
  tenths: fc.integer({ min: -500, max: 500 }),
  dtMs: fc.integer({ min: -3_000, max: 400 }),
});
const batch = fc.record({
  advanceMs: fc.integer({ min: 0, max: 1_500 }),
  readings: fc.array(reading, { maxLength: 30 }),
});

Deno.test("with reused columns each flush's first `length` updates are the latest state of every sensor metric read since the last flush (newest event time's value, the last 3 values' mean, min and max), recomputed from the readings", () => {
  fc.assert(
    fc.property(fc.array(batch, { minLength: 1, maxLength: 10 }), (batches) => {
      const router = new Router(1);
      const shard = new ShardBehavior({
        window: WINDOW,
        windowSpec: spec,
        names: router,
        reuseColumns: true,
      });
      // The recomputation: per sensor metric, its values in arrival order and its newest reading.
      const values = new Map<string, number[]>();
      const newest = new Map<string, { timeMs: number; tenths: number }>();
      let clock = 1_000_000;
      for (const b of batches) {
        clock += b.advanceMs;
        const touched = new Set<string>();
        for (const r of b.readings) {
          const key = `s${r.sensor},${r.metric}`;
          const timeMs = clock + r.dtMs;
          const list = values.get(key) ?? [];
          list.push(r.tenths);
          values.set(key, list);
          const n = newest.get(key);
          if (!n || timeMs >= n.timeMs) newest.set(key, { timeMs, tenths: r.tenths });
          touched.add(key);
        }
        if (b.readings.length > 0) {
          const rows = router.split(blockFromReadings(b.readings.map((r) => ({
            sensorId: `s${r.sensor}`,
            timeMs: clock + r.dtMs,
            values: { [r.metric]: r.tenths / 10 },
          }))))[0]!;
          shard.receive({ type: "readings", rows, from: 0, to: rows.length });
        }
        const expected = [...touched].map((key) => {
          const last = values.get(key)!.slice(-WINDOW);
          const sum = last.reduce((a, v) => a + v, 0);
          const n = newest.get(key)!;
          return [
            key,
            n.tenths / 10,
            sum / (10 * last.length),
            Math.min(...last) / 10,
            Math.max(...last) / 10,
            n.timeMs,
          ].join();
        }).sort();
        assertEquals(updateRows(flush(shard).updates, router), expected);
      }
    }),
    { numRuns: 60 },
  );
});

Deno.test("with reused columns a shard hands out the same two changes objects in turn, columns whole, and the same windows as a shard with fresh columns fed the same readings", () => {
  fc.assert(
    fc.property(fc.array(batch, { minLength: 3, maxLength: 10 }), (batches) => {
      const router = new Router(1);
      const make = (reuseColumns: boolean) =>
        new ShardBehavior({ window: WINDOW, windowSpec: spec, names: router, reuseColumns });
      const reused = make(true), fresh = make(false);
      const handed: ShardChanges[] = [];
      let clock = 1_000_000;
      for (const b of batches) {
        clock += b.advanceMs;
        if (b.readings.length > 0) {
          const rows = router.split(blockFromReadings(b.readings.map((r) => ({
            sensorId: `s${r.sensor}`,
            timeMs: clock + r.dtMs,
            values: { [r.metric]: r.tenths / 10 },
          }))))[0]!;
          for (const shard of [reused, fresh]) {
            shard.receive({ type: "readings", rows, from: 0, to: rows.length });
          }
        }
        const a = flush(reused), b2 = flush(fresh);
        handed.push(a);
        assertEquals(windowRows(a.windows), windowRows(b2.windows));
        assertEquals(updateRows(a.updates, router), updateRows(b2.updates, router));
        // Fresh columns are exactly `length` long; reused ones at least.
        assertEquals(b2.updates.sensor.length, b2.updates.length);
        assert(a.updates.sensor.length >= a.updates.length);
        assert(a.windows.startMs.length >= a.windows.length);
      }
      assert(handed[0] !== handed[1], "two objects");
      for (let k = 2; k < handed.length; k++) assert(handed[k] === handed[k - 2], `flush ${k}`);
    }),
    { numRuns: 60 },
  );
});
