import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { grownCapacity } from "./capacity.ts";

Deno.test("a grown capacity holds what is needed, grows by at least a quarter, and by no more than that or the need", () => {
  fc.assert(fc.property(fc.nat(1 << 24), fc.nat(1 << 24), (current, extra) => {
    const needed = current + 1 + extra;
    const next = grownCapacity(current, needed);
    assert(next >= needed && next >= 1024 && next >= current * 1.25);
    assertEquals(next, Math.max(needed, Math.ceil(current * 1.25), 1024));
  }));
  // A restart's whole fleet at once: exactly that, not the next power of two.
  assertEquals(grownCapacity(1024, 100_000), 100_000);
  // A fleet arriving a little at a time: the slack stays under a quarter.
  let capacity = 1024;
  for (let sensors = 1; sensors <= 100_000; sensors += 500) {
    if (sensors > capacity) capacity = grownCapacity(capacity, sensors);
  }
  assert(capacity < 1.25 * 100_000 + 1, `${capacity}`);
});
