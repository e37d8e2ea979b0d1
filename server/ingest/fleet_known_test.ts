import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { Router } from "../../actors/shards/router.ts";
import { routerNames } from "../../tests/testing/router_names.ts";
import { decodeIngestBatch, encodeReadingBlock } from "../../protocol/ingest_codec.ts";
import { blockFromReadings } from "./readings/mod.ts";
import { FleetLimit } from "./fleet_limit.ts";

const readings = (ids: readonly string[]) =>
  blockFromReadings(ids.map((sensorId, i) => ({ sensorId, timeMs: i, values: { t: i } })));

Deno.test("the router's index the fleet's check hands on is the router's, batch after batch, across a router that starts over", () => {
  const pool = ["a", "b", "c", "ü-1", "传感器", "d", "e"];
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          ids: fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 8 }),
          route: fc.boolean(),
          clear: fc.boolean(),
        }),
        { maxLength: 12 },
      ),
      (batches) => {
        const router = new Router(4);
        const fleet = new FleetLimit(routerNames(router), { maxSensors: 100 });
        for (const { ids, route, clear } of batches) {
          // A rebuild starts the router over: ids come back at other indexes.
          if (clear) router.clear();
          const { block } = decodeIngestBatch(encodeReadingBlock(readings(ids)));
          const kept = fleet.keep({ block, refused: [] });
          assertEquals(kept.refused, []);
          assertEquals(
            [...kept.block.sensorHints!],
            block.strings.map((s) => ids.includes(s) ? router.indexOf(s) : -1),
          );
          // Routed, through the hints: every id at the router's index of it.
          if (route) {
            router.split(kept.block);
            for (const id of ids) assertEquals(router.sensorId(router.indexOf(id)), id);
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});
