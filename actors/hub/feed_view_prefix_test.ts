import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { FeedView } from "./feed_view.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import {
  allocateStates,
  allocateWindowStates,
  prefixStates,
  prefixWindowStates,
} from "../../protocol/columns.ts";

// A shard in this isolate hands over its reused columns whole: the view must
// take the first `length` entries of each and nothing past them.

const update = fc.record({
  sensor: fc.integer({ min: 0, max: 30 }),
  metric: fc.integer({ min: 0, max: 2 }),
  last: fc.integer({ min: -1000, max: 1000 }),
  timeMs: fc.integer({ min: 0, max: 1e6 }),
});
const window = fc.record({
  sensor: fc.integer({ min: 0, max: 30 }),
  metric: fc.integer({ min: 0, max: 2 }),
  size: fc.integer({ min: 0, max: 1 }),
  startMs: fc.integer({ min: 0, max: 100 }).map((k) => k * 1_000),
  count: fc.integer({ min: 1, max: 50 }),
});
const shard = fc.record({
  updates: fc.uniqueArray(update, { selector: (u) => `${u.sensor}/${u.metric}`, maxLength: 12 }),
  windows: fc.uniqueArray(window, {
    selector: (w) => `${w.sensor}/${w.metric}/${w.size}`,
    maxLength: 12,
  }),
  spare: fc.nat({ max: 20 }),
});

/** A flush whose columns run `spare` entries past `length`, those filled with junk. */
function changes(s: {
  updates: { sensor: number; metric: number; last: number; timeMs: number }[];
  windows: { sensor: number; metric: number; size: number; startMs: number; count: number }[];
  spare: number;
}): ShardChanges {
  const u = allocateStates(s.updates.length + s.spare);
  u.sensor.fill(99);
  u.last.fill(-7);
  s.updates.forEach((r, i) => {
    u.sensor[i] = r.sensor;
    u.metric[i] = r.metric;
    u.last[i] =
      u.avg[i] =
      u.min[i] =
      u.max[i] =
        r.last;
    u.timeMs[i] = r.timeMs;
  });
  const w = allocateWindowStates(s.windows.length + s.spare);
  w.sensor.fill(98);
  w.count.fill(-3);
  s.windows.forEach((r, i) => {
    w.sensor[i] = r.sensor;
    w.metric[i] = r.metric;
    w.size[i] = r.size;
    w.startMs[i] = r.startMs;
    w.count[i] =
      w.sum[i] =
      w.min[i] =
      w.max[i] =
        r.count;
  });
  const sensors = [...new Set([...s.updates, ...s.windows].map((r) => r.sensor))]
    .map((index) => ({ index, id: `s${index}`, group: "" }));
  return {
    sensors,
    metrics: [0, 1, 2].map((index) => ({ index, name: `m${index}` })),
    updates: Object.assign(prefixStates(u), { length: s.updates.length }),
    windows: Object.assign(prefixWindowStates(w), { length: s.windows.length }),
    late: [],
    statuses: [],
    removed: [],
  };
}

Deno.test("FeedView.apply merges only the first `length` entries of shard columns that run longer: the tick's updates and windows are the shards' rows in shard order, none of the junk past them", () => {
  fc.assert(
    fc.property(fc.array(shard, { minLength: 1, maxLength: 4 }), (shards) => {
      // One sensor per shard's rows: shards own disjoint sensors.
      const owned = shards.map((s, k) => ({
        ...s,
        updates: s.updates.map((r) => ({ ...r, sensor: r.sensor * 4 + k })),
        windows: s.windows.map((r) => ({ ...r, sensor: r.sensor * 4 + k })),
      }));
      const view = new FeedView({ windowSizes: 2 });
      const merged = view.apply(owned.map(changes));
      const expectedUpdates = owned.flatMap((s) =>
        s.updates.map((r) => [r.sensor, r.metric, r.last, r.timeMs])
      );
      const expectedWindows = owned.flatMap((s) =>
        s.windows.map((r) => [r.sensor, r.metric, r.size, r.startMs, r.count])
      );
      const u = merged!.updates, w = merged!.windows;
      assertEquals(
        Array.from(
          { length: u.length },
          (_, i) => [u.sensor[i], u.metric[i], u.last[i], u.timeMs[i]],
        ),
        expectedUpdates,
      );
      assertEquals(
        Array.from(
          { length: w.length },
          (_, i) => [w.sensor[i], w.metric[i], w.size[i], w.startMs[i], w.count[i]],
        ),
        expectedWindows,
      );
    }),
    { numRuns: 100 },
  );
});
