import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";
import { FeedView } from "./feed_view.ts";
import { groupAggregates } from "./group_aggregates.ts";
import { groupAggregatesBySize } from "./group_aggregates_pass.ts";

const GROUPS = ["a", "a/x", "a/x/y", "b", "ab", "b/z"];
const PREFIXES = ["", "a", "a/x", "b", "ab", "c"];

Deno.test("group aggregates of several sizes in one walk are each size's and prefix's own aggregates, to the bit", () => {
  const sensor = fc.record({ group: fc.constantFrom(...GROUPS), present: fc.boolean() });
  const window = fc.record({
    sensor: fc.nat(15),
    metric: fc.nat(2),
    size: fc.nat(2),
    startMs: fc.constantFrom(1000, 2000, 3000),
    count: fc.integer({ min: 1, max: 5 }),
    // Sums that round: the order they are combined in shows.
    sum: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    min: fc.double({ min: -1e6, max: 0, noNaN: true }),
    max: fc.double({ min: 0, max: 1e6, noNaN: true }),
  });
  fc.assert(
    fc.property(
      fc.array(sensor, { minLength: 16, maxLength: 16 }),
      fc.array(fc.array(window, { maxLength: 40 }), { maxLength: 3 }),
      fc.array(fc.constantFrom(...PREFIXES), { maxLength: 6 }),
      fc.constantFrom(null, ["a/x"], ["b", "a"], ["c"]),
      // Sizes in any order, some not kept by the view (3) or repeated.
      fc.array(fc.nat(3), { maxLength: 4 }),
      (sensors, ticks, prefixes, scope, sizes) => {
        const view = new FeedView({ windowSizes: 3 });
        view.apply([{
          sensors: sensors.flatMap((s, index) =>
            s.present ? [{ index, id: `s${index}`, group: s.group }] : []
          ),
          metrics: [0, 1, 2].map((index) => ({ index, name: `m${index}` })),
          updates: allocateStates(0),
          windows: allocateWindowStates(0),
          late: [],
          statuses: [],
          removed: [],
        }]);
        const first = sensors.findIndex((s) => s.present);
        for (const tick of ticks) {
          if (first < 0) break;
          const w = allocateWindowStates(tick.length);
          tick.forEach((x, i) => {
            w.sensor[i] = sensors[x.sensor].present ? x.sensor : first;
            w.metric[i] = x.metric;
            w.size[i] = x.size;
            w.startMs[i] = x.startMs;
            w.count[i] = x.count;
            w.sum[i] = x.sum;
            w.min[i] = x.min;
            w.max[i] = x.max;
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
        const together = groupAggregatesBySize(view, prefixes, sizes, { scope });
        assertEquals(together.length, sizes.length);
        sizes.forEach((size, s) => {
          assertEquals(together[s].length, prefixes.length);
          prefixes.forEach((prefix, p) => {
            // The independent walk: one prefix, one size.
            const alone = groupAggregates(view, prefix, size, { scope });
            assertEquals(together[s][p].length, alone.length, `size ${size} prefix ${prefix}`);
            alone.forEach((e, i) => {
              const got = together[s][p][i];
              for (const key of Object.keys(e) as (keyof typeof e)[]) {
                assert(
                  Object.is(got[key], e[key]),
                  `size ${size} prefix ${prefix} entry ${i} ${key}: ${got[key]} vs ${e[key]}`,
                );
              }
            });
          });
        });
      },
    ),
    { numRuns: 300 },
  );
});
