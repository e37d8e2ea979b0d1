import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { mergeMoved } from "./merge_order.ts";

/** The rule, by a plain comparator: ascending, NaN last, -0 equals 0, then rank. */
function compare(keys: Float64Array, rank: number[]) {
  return (a: number, b: number): number => {
    const x = keys[a], y = keys[b];
    const xMissing = Number.isNaN(x), yMissing = Number.isNaN(y);
    if (xMissing !== yMissing) return xMissing ? 1 : -1;
    if (!xMissing && x !== y) return x < y ? -1 : 1;
    return rank[a] - rank[b];
  };
}

const value = fc.oneof(
  fc.constantFrom(NaN, 0, -0, Infinity, -Infinity, 21.5),
  fc.integer({ min: -3, max: 3 }).map((n) => n / 10),
  fc.double({ noNaN: false }),
);

Deno.test("merging the moved items back equals a full sort by key and rank, for any keys", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(value, value, fc.boolean(), fc.boolean()), { maxLength: 200 }),
      fc.integer(),
      (items, seed) => {
        const n = items.length;
        // Ranks: a shuffle of 0..n-1 (the id order).
        const rank = items.map((_, i) => i);
        let s = seed >>> 0;
        for (let i = n - 1; i > 0; i--) {
          s = (s * 1664525 + 1013904223) >>> 0;
          const j = s % (i + 1);
          [rank[i], rank[j]] = [rank[j], rank[i]];
        }
        // The order as sorted before, by the old keys.
        const old = Float64Array.from(items.map(([before]) => before));
        const all = items.map((_, i) => i);
        const sorted = [...all].sort(compare(old, rank));
        // Now: some keys moved (new value), some items are gone.
        const keys = Float64Array.from(
          items.map(([before, after, moves]) => moves ? after : before),
        );
        const drop = new Uint8Array(n);
        const live = all.filter((i) => !items[i][3]);
        const moved = live.filter((i) => items[i][2]).sort(compare(keys, rank));
        for (const i of all) if (items[i][2] || items[i][3]) drop[i] = 1;
        const out = new Uint32Array(n);
        const length = mergeMoved(Uint32Array.from(sorted), Uint32Array.from(moved), {
          keys,
          rank,
          drop,
          out,
        });
        assertEquals([...out.subarray(0, length)], [...live].sort(compare(keys, rank)));
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("merging into an empty order, or nothing moved, keeps what is there", () => {
  const keys = Float64Array.from([3, 1, 2]);
  const rank = [0, 1, 2];
  const out = new Uint32Array(3);
  const drop = new Uint8Array(3);
  assertEquals(mergeMoved([], [1, 2, 0], { keys, rank, drop, out }), 3);
  assertEquals([...out], [1, 2, 0]);
  assertEquals(mergeMoved([1, 2, 0], [], { keys, rank, drop, out }), 3);
  assertEquals([...out], [1, 2, 0]);
});
