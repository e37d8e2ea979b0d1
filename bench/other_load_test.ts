import { assertEquals } from "../tests/testing/assert.ts";
import fc from "fast-check";
import { otherLoadPercent } from "./other_load.ts";

Deno.test("other processes' load is the machine's busy ticks less ours, over all its ticks, never below 0", () => {
  fc.assert(fc.property(
    fc.record({ busy: fc.nat(1e6), idle: fc.nat(1e6), steal: fc.nat(1e4) }),
    fc.record({ busy: fc.nat(1e5), idle: fc.nat(1e5), steal: fc.nat(1e3) }),
    fc.nat(1e5),
    fc.nat(1e5),
    (start, grew, ownStart, ownTicks) => {
      const before = { machine: start, ownSeconds: ownStart / 100 };
      const after = {
        machine: {
          busy: start.busy + grew.busy,
          idle: start.idle + grew.idle,
          steal: start.steal + grew.steal,
        },
        ownSeconds: (ownStart + ownTicks) / 100,
      };
      const all = grew.busy + grew.idle + grew.steal;
      const expected = all === 0 ? null : (100 * Math.max(0, grew.busy - ownTicks)) / all;
      const got = otherLoadPercent(before, after);
      if (expected === null) assertEquals(got, null);
      else assertEquals(Math.abs(got! - expected) < 1e-9, true, `${got} vs ${expected}`);
    },
  ));
});

Deno.test("other processes' load is unknown without both readings", () => {
  const r = { machine: { busy: 1, idle: 1, steal: 0 }, ownSeconds: 0 };
  assertEquals(otherLoadPercent(null, r), null);
  assertEquals(otherLoadPercent(r, null), null);
});
