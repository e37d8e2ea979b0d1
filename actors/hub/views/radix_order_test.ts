import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { RadixScratch, sortByKey } from "./radix_order.ts";

/** The documented rule, by a plain comparator: NaN last, -0 equals 0, ties in input order. */
function expected(keys: Float64Array, items: number[], descending: boolean): number[] {
  const position = new Map(items.map((item, i) => [item, i]));
  return [...items].sort((a, b) => {
    const x = keys[a], y = keys[b];
    const xMissing = Number.isNaN(x), yMissing = Number.isNaN(y);
    if (xMissing || yMissing) {
      if (xMissing !== yMissing) return xMissing ? 1 : -1;
    } else if (x !== y) return (x < y ? -1 : 1) * (descending ? -1 : 1);
    return position.get(a)! - position.get(b)!;
  });
}

function sorted(
  keys: Float64Array,
  items: number[],
  descending: boolean,
  scratch = new RadixScratch(),
) {
  const out = new Uint32Array(items.length);
  sortByKey(keys, Uint32Array.from(items), { out, descending, scratch });
  return [...out];
}

// Values that stress each part: ties, NaN, ±0, infinities, times in ms (equal
// high words), neighbours one ulp apart (equal high words, different low ones).
const value = fc.oneof(
  fc.constantFrom(NaN, 0, -0, Infinity, -Infinity, 21.5, -21.5, 1e-300, -1e-300),
  fc.integer({ min: -5, max: 5 }).map((n) => n / 10),
  fc.integer({ min: 0, max: 10_000 }).map((n) => 1_700_000_000_000 + n),
  fc.integer({ min: 0, max: 1000 }).map((n) => 1 + n * Number.EPSILON),
  fc.double({ noNaN: false }),
);

Deno.test("the radix order equals a comparator sort, ascending and descending, for any keys", () => {
  const scratch = new RadixScratch(); // reused across runs, as the table does
  fc.assert(
    fc.property(
      fc.array(value, { maxLength: 300 }),
      fc.boolean(),
      fc.integer(),
      (values, descending, seed) => {
        const keys = Float64Array.from(values);
        // Items in a shuffled order: the order ties must keep.
        const items = values.map((_, i) => i);
        let s = seed >>> 0;
        for (let i = items.length - 1; i > 0; i--) {
          s = (s * 1664525 + 1013904223) >>> 0;
          const j = s % (i + 1);
          [items[i], items[j]] = [items[j], items[i]];
        }
        assertEquals(sorted(keys, items, descending, scratch), expected(keys, items, descending));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("a long run of equal high words (times in ms) is ordered by the low word, stably", () => {
  const n = 5000;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = 1_700_000_000_000 + ((i * 7919) % 1000);
  const items = Array.from({ length: n }, (_, i) => n - 1 - i);
  for (const descending of [false, true]) {
    assertEquals(sorted(keys, items, descending), expected(keys, items, descending));
  }
});

Deno.test("missing values go last in both directions; equal keys keep the input order", () => {
  const keys = Float64Array.from([3, NaN, 1, 3, -0, 0, NaN]);
  const items = [6, 5, 4, 3, 2, 1, 0];
  assertEquals(sorted(keys, items, false), [5, 4, 2, 3, 0, 6, 1]);
  assertEquals(sorted(keys, items, true), [3, 0, 2, 5, 4, 6, 1]);
});
