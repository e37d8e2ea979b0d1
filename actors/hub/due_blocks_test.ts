import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { BLOCK, DueBlocks } from "./due_blocks.ts";

Deno.test("a block whose bound is past now holds no sensor due by now, whatever was lowered or rescanned", () => {
  // Against a recomputation: each sensor's due time; after any lowering and
  // rescans (which set a block's bound to its earliest), no sensor due by
  // `now` sits in a block said not due.
  const at = fc.oneof(fc.integer({ min: -1_000, max: 100_000 }), fc.constant(NaN));
  const op = fc.oneof(
    fc.record({ kind: fc.constant("lower" as const), sensor: fc.nat(4 * BLOCK), at }),
    fc.record({ kind: fc.constant("rescan" as const), block: fc.nat(4) }),
    fc.constant({ kind: "reset" as const }),
  );
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 80 }),
      fc.integer({ min: 0, max: 100_000 }),
      (ops, now) => {
        const blocks = new DueBlocks();
        blocks.grow(5 * BLOCK);
        const due = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === "lower") {
            blocks.lower(o.sensor, o.at);
            due.set(o.sensor, o.at);
          } else if (o.kind === "rescan") {
            let earliest = Infinity;
            for (const [s, t] of due) {
              if (Math.floor(s / BLOCK) !== o.block) continue;
              earliest = t !== t ? -Infinity : Math.min(earliest, t);
            }
            blocks.rescanned(o.block, earliest);
          } else blocks.reset();
        }
        for (const [s, t] of due) {
          if (!(t > now)) assertEquals(blocks.due(Math.floor(s / BLOCK), now), true, `sensor ${s}`);
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("new blocks are looked at first", () => {
  const blocks = new DueBlocks();
  blocks.grow(3 * BLOCK);
  assertEquals([blocks.due(0, 0), blocks.due(2, 0)], [true, true]);
  blocks.rescanned(0, 500);
  assertEquals([blocks.due(0, 499), blocks.due(0, 500)], [false, true]);
  blocks.lower(3, 100);
  assertEquals(blocks.due(0, 100), true);
});
