import { assertEquals } from "../../../tests/testing/assert.ts";
import fc from "fast-check";
import { shardChanges } from "../../../tests/shard_changes.ts";
import { allocateStates } from "../../../protocol/columns.ts";
import { FeedView } from "../feed_view.ts";
import type { TickChanges } from "../feed_view.ts";
import { SortKeys } from "./sort_keys.ts";
import type { KeyColumn } from "./sort_keys.ts";
import { SparkPoints } from "./spark_points.ts";
import { UpdateOrder } from "./update_order.ts";

/** The same order by the runtime's stable sort of the indexes. */
function expected(sensor: number[]): number[] {
  return sensor.map((_, i) => i).sort((a, b) => sensor[a] - sensor[b]);
}

Deno.test("UpdateOrder.of sorts the indexes by sensor, stably, as a stable comparison sort does", () => {
  const order = new UpdateOrder();
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(fc.nat(30), fc.nat(5_000), fc.nat(4_194_303), fc.constant(0xffff_ffff)),
        { maxLength: 3_000 },
      ),
      fc.boolean(),
      (drawn, inOrder) => {
        // Some already in order (the sort is then skipped).
        const sensors = inOrder ? [...drawn].sort((a, b) => a - b) : drawn;
        assertEquals([...order.of(Uint32Array.from(sensors))], expected(sensors));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("UpdateOrder.of takes only the first `length` entries, and its arrays are reused", () => {
  const order = new UpdateOrder();
  const sensor = Uint32Array.from([9, 3, 9, 1, 3, 0, 7]);
  assertEquals([...order.of(sensor, 5)], [3, 1, 4, 0, 2]);
  assertEquals([...order.of(sensor)], [5, 3, 1, 4, 6, 0, 2]);
  assertEquals([...order.of(new Uint32Array(0))], []);
  // Already in order (no sort needed): the indexes as they are.
  assertEquals([...order.of(Uint32Array.from([0, 0, 1, 5, 5, 9]))], [0, 1, 2, 3, 4, 5]);
  assertEquals([...order.of(Uint32Array.from([2, 1]))], [1, 0]);
});

Deno.test("SortKeys and SparkPoints take a tick in sensor order exactly as in the updates' own order", () => {
  // Updates with repeats of a (sensor, metric) (the last must win), sensors that come and go.
  const update = fc.record({
    sensor: fc.nat(40),
    metric: fc.nat(2),
    last: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constant(NaN)),
    avg: fc.integer({ min: -5, max: 5 }),
    dt: fc.nat(2_500),
  });
  const tick = fc.record({
    updates: fc.array(update, { maxLength: 60 }),
    removed: fc.array(fc.nat(40), { maxLength: 3 }),
  });
  fc.assert(
    fc.property(fc.array(tick, { minLength: 1, maxLength: 8 }), (ticks) => {
      const feed = new FeedView();
      const sensor = (index: number) => ({ index, id: `s${index}`, group: `g${index % 3}` });
      const ids = Array.from({ length: 30 }, (_, i) => i);
      feed.apply([shardChanges({ sensors: ids.map(sensor), metrics: ["a", "b", "c"] })]);
      const sorted = new SortKeys(feed), own = new SortKeys(feed);
      const columnsOf = new Map<SortKeys, KeyColumn[]>();
      for (const keys of [sorted, own]) {
        columnsOf.set(keys, [
          keys.seen,
          keys.use({ kind: "metric", metric: 0, field: "last" })!,
          keys.use({ kind: "metric", metric: 1, field: "avg" })!,
          keys.use({ kind: "metric", metric: 2, field: "last" })!,
        ]);
      }
      const sortedSparks = new SparkPoints({ points: 4 }),
        ownSparks = new SparkPoints({ points: 4 });
      const order = new UpdateOrder();
      let clock = 1_000;
      for (const t of ticks) {
        // Sensors 30..40 come with their first update; removed ones go.
        const came = [...new Set(t.updates.map((u) => u.sensor).filter((s) => s >= 30))];
        const changes = feed.apply([
          shardChanges({ sensors: came.map(sensor), removed: t.removed }),
        ])!;
        const updates = allocateStates(t.updates.length);
        t.updates.forEach((u, i) => {
          clock += u.dt;
          updates.sensor[i] = u.sensor;
          updates.metric[i] = u.metric;
          updates.last[i] = u.last;
          updates.avg[i] = u.avg;
          updates.min[i] = updates.max[i] = u.last;
          updates.timeMs[i] = clock;
        });
        // What the keys and points read of a tick (the mirror would merge repeats away).
        const tickChanges = {
          sensors: changes?.sensors ?? [],
          removed: changes?.removed ?? [],
          restarted: [],
          updates,
        } as unknown as TickChanges;
        const bySensor = order.of(updates.sensor, updates.length);
        sorted.apply(tickChanges, bySensor);
        own.apply(tickChanges);
        sortedSparks.apply(tickChanges, bySensor);
        ownSparks.apply(tickChanges);
        const columns = (keys: SortKeys) =>
          columnsOf.get(keys)!.map((c) => ({
            values: [...c.values],
            moved: [...c.moved],
            movedCount: c.movedCount,
            changedAt: c.changedAt,
          }));
        assertEquals(columns(sorted), columns(own));
        assertEquals([...sorted.touched], [...own.touched]);
        const a = new Float32Array(4), b = new Float32Array(4);
        for (let s = 0; s <= 40; s++) {
          for (let m = 0; m < 3; m++) {
            const n = sortedSparks.read(s, m, a);
            assertEquals(n, ownSparks.read(s, m, b));
            assertEquals([...a.subarray(0, n)], [...b.subarray(0, n)]);
            assertEquals(sortedSparks.newestMs(s, m), ownSparks.newestMs(s, m));
          }
        }
      }
    }),
    { numRuns: 150 },
  );
});
