import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";
import type { GroupAggregateEntry } from "../../protocol/columns.ts";
import { FeedView } from "./feed_view.ts";
import { groupAggregates } from "./group_aggregates.ts";

const GROUPS = ["a", "a/x", "a/x/y", "b", "ab"];

Deno.test("group aggregates equal a recomputation over each sensor's latest window: the newest start among the group's sensors, per metric", () => {
  const sensor = fc.record({ group: fc.constantFrom(...GROUPS) });
  const window = fc.record({
    sensor: fc.nat(11),
    metric: fc.nat(2),
    size: fc.nat(1),
    startMs: fc.constantFrom(1000, 2000, 3000),
    count: fc.integer({ min: 1, max: 5 }),
    sum: fc.integer({ min: -100, max: 100 }),
    min: fc.integer({ min: -50, max: 0 }),
    max: fc.integer({ min: 0, max: 50 }),
  });
  fc.assert(
    fc.property(
      fc.array(sensor, { minLength: 12, maxLength: 12 }),
      fc.array(fc.array(window, { maxLength: 30 }), { maxLength: 3 }),
      fc.constantFrom("", "a", "a/x", "b", "c"),
      fc.constantFrom(null, ["a/x"], ["b", "a"]),
      fc.nat(1),
      (sensors, ticks, prefix, scope, size) => {
        const view = new FeedView();
        view.apply([{
          sensors: sensors.map((s, index) => ({ index, id: `s${index}`, group: s.group })),
          metrics: [0, 1, 2].map((index) => ({ index, name: `m${index}` })),
          updates: allocateStates(0),
          windows: allocateWindowStates(0),
          late: [],
          statuses: [],
          removed: [],
        }]);
        // The model: each (sensor, metric, size)'s latest window (a later one of the same start replaces it).
        const latest = new Map<string, (typeof ticks)[number][number]>();
        for (const tick of ticks) {
          const w = allocateWindowStates(tick.length);
          tick.forEach((x, i) => {
            w.sensor[i] = x.sensor;
            w.metric[i] = x.metric;
            w.size[i] = x.size;
            w.startMs[i] = x.startMs;
            w.count[i] = x.count;
            w.sum[i] = x.sum;
            w.min[i] = x.min;
            w.max[i] = x.max;
            const key = `${x.sensor}/${x.metric}/${x.size}`;
            const held = latest.get(key);
            if (!held || held.startMs <= x.startMs) latest.set(key, x);
          });
          view.apply([{
            sensors: [],
            metrics: [],
            updates: allocateStates(0),
            windows: w,
            late: [],
            statuses: [],
            removed: [],
          }]);
        }
        const under = (group: string, p: string) => group === p || group.startsWith(p + "/");
        const expected: GroupAggregateEntry[] = [];
        for (const metric of [0, 1, 2]) {
          const held = sensors
            .map((s, index) => ({ s, w: latest.get(`${index}/${metric}/${size}`) }))
            .filter(({ s, w }) =>
              w !== undefined && (prefix === "" || under(s.group, prefix)) &&
              (scope === null || scope.some((p) => under(s.group, p)))
            )
            .map(({ w }) => w!);
          if (held.length === 0) continue;
          const newest = Math.max(...held.map((w) => w.startMs));
          const of = held.filter((w) => w.startMs === newest);
          expected.push({
            group: prefix,
            size,
            metric,
            startMs: newest,
            sensors: of.length,
            count: of.reduce((a, w) => a + w.count, 0),
            sum: of.reduce((a, w) => a + w.sum, 0),
            min: Math.min(...of.map((w) => w.min)),
            max: Math.max(...of.map((w) => w.max)),
          });
        }
        assertEquals(groupAggregates(view, prefix, size, { scope }), expected);
        // One metric asked for: that metric's entry alone.
        assertEquals(
          groupAggregates(view, prefix, size, { scope, metric: 1 }),
          expected.filter((e) => e.metric === 1),
        );
      },
    ),
    { numRuns: 300 },
  );
});
