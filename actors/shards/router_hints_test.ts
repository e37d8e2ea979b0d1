import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { Router } from "./router.ts";
import type { RoutedRows } from "./routed_rows.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";

/** Everything a split hands the shards, as plain arrays. */
function plain(parts: (RoutedRows | null)[]) {
  return parts.map((p) =>
    p && {
      shards: [...p.shards],
      shardStart: [...p.shardStart],
      local: [...p.local],
      sensor: [...p.sensor],
      group: [...p.group],
      timeMs: [...p.timeMs],
      valueStart: [...p.valueStart],
      metric: [...p.metric],
      value: [...p.value],
      strings: [...p.strings],
    }
  );
}

const batch = fc.array(
  fc.record({
    sensorId: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
    group: fc.constantFrom("", "g1"),
    metric: fc.constantFrom("t", "h"),
  }),
  { minLength: 1, maxLength: 12 },
);

Deno.test("sensor hints, right, stale or wrong, route exactly as a router without them", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(batch, fc.array(fc.integer({ min: -1, max: 12 }), { maxLength: 16 })), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.boolean(),
      (batches, rightHints) => {
        const hinted = new Router(3);
        const plainRouter = new Router(3);
        for (const [readings, guesses] of batches) {
          const block = blockFromReadings(
            readings.map((r, i) => ({
              sensorId: r.sensorId,
              group: r.group,
              timeMs: i,
              values: { [r.metric]: i },
            })),
          );
          // Right hints: what ingest's lookup gives (-1 for ids the router does not know yet).
          const sensorHints = Int32Array.from(
            block.strings,
            (s, k) => rightHints ? hinted.indexOf(s) : guesses[k] ?? -1,
          );
          const withHints: ReadingBlock = { ...block, sensorHints };
          assertEquals(
            plain(hinted.split(withHints, { hosts: 2 })),
            plain(plainRouter.split(block, { hosts: 2 })),
          );
        }
        assertEquals(hinted.save(), plainRouter.save());
      },
    ),
  );
});
