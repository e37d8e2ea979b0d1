import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { startOf } from "./window_start.ts";

Deno.test("a window's start is t - (t % size) to the bit, for whole, fractional, negative and huge times", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.double({ min: 0, max: 4e12, noNaN: true }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.constantFrom(-0, 0, 999.9999999999999, 2 ** 53 - 1, 2 ** 53, 2 ** 60),
      ),
      fc.oneof(fc.integer({ min: 1, max: 86_400_000 }), fc.constantFrom(1, 1_000, 10_000, 60_000)),
      (t, size) => {
        const expected = t - (t % size);
        assert(
          Object.is(startOf(t, size), expected),
          `${t} in ${size}: ${startOf(t, size)} ≠ ${expected}`,
        );
      },
    ),
    { numRuns: 20_000 },
  );
});

Deno.test("the start of a whole-ms time is the largest multiple of the size at or below it", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 1, max: 2 ** 31 }),
      (t, size) => {
        const expected = BigInt(t) / BigInt(size) * BigInt(size);
        assertEquals(BigInt(startOf(t, size)), expected);
      },
    ),
    { numRuns: 20_000 },
  );
});

Deno.test("the start of -0 is +0, as % gives it", () => {
  assert(Object.is(startOf(-0, 1_000), 0));
  assert(Object.is(startOf(0, 1_000), 0));
});
