import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";
import type { GroupAggregateEntry } from "../../protocol/columns.ts";
import { FeedView } from "./feed_view.ts";
import { groupAggregates } from "./group_aggregates.ts";
import { groupAggregatesBySize, groupAggregatesOf } from "./group_aggregates_pass.ts";

const GROUPS = ["a", "a/x", "a/x/y", "b", "ab", "b/z"];
const PREFIXES = ["", "a", "a/x", "b", "ab", "c"];

const sensorArb = fc.record({ group: fc.constantFrom(...GROUPS), present: fc.boolean() });
type SensorCase = { group: string; present: boolean };

function windowArb(maxSize: number) {
  return fc.record({
    sensor: fc.nat(15),
    metric: fc.nat(2),
    size: fc.nat(maxSize),
    startMs: fc.constantFrom(1000, 2000, 3000),
    count: fc.integer({ min: 1, max: 5 }),
    // Sums that round: the order they are combined in shows.
    sum: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    min: fc.double({ min: -1e6, max: 0, noNaN: true }),
    max: fc.double({ min: 0, max: 1e6, noNaN: true }),
  });
}
type WindowCase = {
  sensor: number;
  metric: number;
  size: number;
  startMs: number;
  count: number;
  sum: number;
  min: number;
  max: number;
};

/** A view of 16 sensor slots (some never seen: gaps) fed the ticks' windows. */
function viewOf(sensors: SensorCase[], ticks: WindowCase[][], windowSizes?: number): FeedView {
  const view = new FeedView(windowSizes ? { windowSizes } : undefined);
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
  if (first < 0) return view;
  for (const tick of ticks) {
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
  return view;
}

/** `got` equals `alone`, every field to the bit. */
function assertSameEntries(
  got: GroupAggregateEntry[],
  alone: GroupAggregateEntry[],
  label: string,
) {
  assertEquals(got.length, alone.length, label);
  alone.forEach((e, i) => {
    for (const key of Object.keys(e) as (keyof typeof e)[]) {
      assert(
        Object.is(got[i][key], e[key]),
        `${label} entry ${i} ${key}: ${got[i][key]} vs ${e[key]}`,
      );
    }
  });
}

Deno.test("group aggregates of several prefixes in one walk are each prefix's own aggregates, to the bit", () => {
  fc.assert(
    fc.property(
      fc.array(sensorArb, { minLength: 16, maxLength: 16 }),
      fc.array(fc.array(windowArb(1), { maxLength: 40 }), { maxLength: 3 }),
      fc.array(fc.constantFrom(...PREFIXES), { maxLength: 6 }),
      fc.constantFrom(null, ["a/x"], ["b", "a"], ["c"]),
      fc.nat(1),
      (sensors, ticks, prefixes, scope, size) => {
        const view = viewOf(sensors, ticks);
        const together = groupAggregatesOf(view, prefixes, size, { scope });
        assertEquals(together.length, prefixes.length);
        prefixes.forEach((prefix, p) => {
          // The independent walk: one prefix.
          assertSameEntries(
            together[p],
            groupAggregates(view, prefix, size, { scope }),
            `prefix ${prefix}`,
          );
        });
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("group aggregates of several sizes in one walk are each size's and prefix's own aggregates, to the bit", () => {
  fc.assert(
    fc.property(
      fc.array(sensorArb, { minLength: 16, maxLength: 16 }),
      fc.array(fc.array(windowArb(2), { maxLength: 40 }), { maxLength: 3 }),
      fc.array(fc.constantFrom(...PREFIXES), { maxLength: 6 }),
      fc.constantFrom(null, ["a/x"], ["b", "a"], ["c"]),
      // Sizes in any order, some not kept by the view (3) or repeated.
      fc.array(fc.nat(3), { maxLength: 4 }),
      (sensors, ticks, prefixes, scope, sizes) => {
        const view = viewOf(sensors, ticks, 3);
        const together = groupAggregatesBySize(view, prefixes, sizes, { scope });
        assertEquals(together.length, sizes.length);
        sizes.forEach((size, s) => {
          assertEquals(together[s].length, prefixes.length);
          prefixes.forEach((prefix, p) => {
            // The independent walk: one prefix, one size.
            const alone = groupAggregates(view, prefix, size, { scope });
            assertSameEntries(together[s][p], alone, `size ${size} prefix ${prefix}`);
          });
        });
      },
    ),
    { numRuns: 300 },
  );
});
