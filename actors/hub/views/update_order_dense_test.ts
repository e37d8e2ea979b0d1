import { assertEquals } from "../../../tests/testing/assert.ts";
import fc from "fast-check";
import { UpdateOrder } from "./update_order.ts";

/** The same order by the runtime's stable sort of the indexes. */
function expected(sensor: ArrayLike<number>): number[] {
  return Array.from(sensor, (_, i) => i).sort((a, b) => sensor[a] - sensor[b]);
}

// Dense ticks (fewer than two sensors per update) take the one-counter-per-sensor path.
Deno.test("UpdateOrder.of sorts a dense tick stably: shards' runs one after another, as after a restart", () => {
  const order = new UpdateOrder();
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 400 }),
      fc.integer({ min: 1, max: 17 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer(),
      (sensors, shards, metrics, seed) => {
        // Each sensor on one shard (by a hash of it and the seed), `metrics` updates each.
        const runs: number[][] = Array.from({ length: shards }, () => []);
        for (let s = 0; s < sensors; s++) {
          const shard = (Math.imul(s ^ seed, 0x9e3779b1) >>> 0) % shards;
          for (let m = 0; m < metrics; m++) runs[shard].push(s);
        }
        const sensor = Uint32Array.from(runs.flat());
        assertEquals([...order.of(sensor)], expected(sensor));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("UpdateOrder.of gives the same order whether a tick is dense or sparse, call after call", () => {
  const order = new UpdateOrder();
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          // Dense: many updates over few sensors.
          fc.array(fc.nat(50), { minLength: 30, maxLength: 300 }),
          // Sparse: few updates over a wide range.
          fc.array(fc.nat(1_000_000), { maxLength: 300 }),
        ),
        { minLength: 1, maxLength: 6 },
      ),
      fc.nat(300),
      (ticks, cut) => {
        for (const tick of ticks) {
          const sensor = Uint32Array.from(tick);
          const length = Math.min(cut, sensor.length);
          assertEquals([...order.of(sensor, length)], expected(sensor.subarray(0, length)));
        }
      },
    ),
    { numRuns: 200 },
  );
});
