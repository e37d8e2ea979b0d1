import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { reverseOrder } from "./column_order.ts";

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
