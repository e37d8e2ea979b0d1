import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { shardChanges } from "../../../tests/shard_changes.ts";
import { FeedView } from "../feed_view.ts";
import { ColumnOrder, reverseOrder, SORT_COST } from "./column_order.ts";
import { RadixScratch } from "./radix_order.ts";
import { SortKeys } from "./sort_keys.ts";
import type { SortKey } from "./view_spec.ts";

/** Descending by a plain comparator: NaN last, -0 equals 0, ties by item (the id order here). */
function descending(keys: Float64Array): number[] {
  return [...keys.keys()].sort((a, b) => {
    const x = keys[a], y = keys[b];
    const xMissing = Number.isNaN(x), yMissing = Number.isNaN(y);
    if (xMissing !== yMissing) return xMissing ? 1 : -1;
    if (!xMissing && x !== y) return x < y ? 1 : -1;
    return a - b;
  });
}

function ascending(keys: Float64Array): Uint32Array {
  return Uint32Array.from([...keys.keys()].sort((a, b) => {
    const x = keys[a], y = keys[b];
    const xMissing = Number.isNaN(x), yMissing = Number.isNaN(y);
    if (xMissing !== yMissing) return xMissing ? 1 : -1;
    if (!xMissing && x !== y) return x < y ? -1 : 1;
    return a - b;
  }));
}

Deno.test("the descending order made from the ascending one keeps ties in id order and missing values last", () => {
  const key = fc.constantFrom(NaN, 0, -0, 1, 1, 2, -Infinity, Infinity, 0.5);
  fc.assert(
    fc.property(fc.array(key, { maxLength: 60 }), (values) => {
      const keys = Float64Array.from(values);
      const into = new Uint32Array(keys.length);
      reverseOrder(ascending(keys), { keys, into });
      assertEquals([...into], descending(keys));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("without keys (the id order) the descending order is the reversal", () => {
  const into = new Uint32Array(4);
  reverseOrder(Uint32Array.from([3, 0, 2, 1]), { keys: null, into });
  assertEquals([...into], [1, 2, 0, 3]);
});

Deno.test("an order re-sorted from the last one equals a whole sort of the same keys, ties by id", () => {
  // Ticks of sensors coming (some reusing an index under another id), going,
  // changing group and taking new values (few distinct ones: many ties, and
  // NaN); a sort after some of them. Every sort, incremental or whole, must
  // equal the live sensors sorted by a comparator, ties in id order.
  const tick = fc.record({
    come: fc.array(fc.tuple(fc.nat(29), fc.nat(40), fc.nat(2)), { maxLength: 4 }),
    go: fc.array(fc.nat(29), { maxLength: 2 }),
    values: fc.array(
      fc.tuple(fc.nat(29), fc.nat(1), fc.constantFrom(NaN, -0, 0, 1, 1.5, 2, 3, -1, Infinity)),
      { maxLength: 6 },
    ),
    sort: fc.boolean(),
  });
  const sortKeys: SortKey[] = [
    { kind: "metric", metric: 0, field: "last" },
    { kind: "metric", metric: 1, field: "last" },
    { kind: "seen" },
    { kind: "group" },
  ];
  let incremental = 0;
  fc.assert(
    fc.property(fc.array(tick, { minLength: 1, maxLength: 40 }), (ticks) => {
      const feed = new FeedView();
      feed.apply([shardChanges({ metrics: ["a", "b"] })]);
      const keys = new SortKeys(feed);
      const scratch = new RadixScratch();
      const orders = sortKeys.map((key) => new ColumnOrder(key, keys.use(key)));
      let clock = 1_000;
      for (const t of ticks) {
        const changes = feed.apply([shardChanges({
          sensors: t.come.map(([index, id, group]) => ({
            index,
            id: `s-${id}`,
            group: `g${group}`,
          })),
          removed: t.go,
          updates: t.values.map(([sensor, metric, last]) => ({
            sensor,
            metric,
            last,
            timeMs: clock + (sensor % 3) * 1_000, // seen: ties too
          })),
        })]);
        clock += 1_000;
        keys.apply(changes);
        if (!t.sort) continue;
        const live = [...keys.idOrder.order];
        for (const order of orders) {
          const work = order.sortNow(keys, { now: clock, scratch });
          if (work < SORT_COST * live.length) incremental++;
          const values = order.column!.values;
          const expected = [...live].sort((a, b) => {
            const x = values[a], y = values[b];
            const xMissing = Number.isNaN(x), yMissing = Number.isNaN(y);
            if (xMissing !== yMissing) return xMissing ? 1 : -1;
            if (!xMissing && x !== y) return x < y ? -1 : 1;
            return live.indexOf(a) - live.indexOf(b);
          });
          assertEquals([...order.order(order.version, "asc")!], expected, order.name);
        }
      }
    }),
    { numRuns: 300 },
  );
  assert(incremental > 300, `only ${incremental} sorts were incremental`);
});
