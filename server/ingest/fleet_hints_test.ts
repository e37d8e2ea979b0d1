import { assertEquals } from "../../tests/testing/assert.ts";
import { Router } from "../../actors/shards/router.ts";
import { routerNames } from "../../tests/testing/router_names.ts";
import { blockFromReadings } from "./readings/mod.ts";
import { FleetLimit } from "./fleet_limit.ts";

const readings = (ids: string[]) =>
  blockFromReadings(ids.map((sensorId, i) => ({ sensorId, timeMs: i, values: { t: i } })));

Deno.test("the fleet's check hands the router's index of each known sensor on with the block it keeps whole", () => {
  const router = new Router(4);
  router.split(readings(["a", "b", "c"]));
  const fleet = new FleetLimit(routerNames(router, { ids: false }), { maxSensors: 10 });
  const block = readings(["c", "x", "a", "c"]);
  const kept = fleet.keep({ block, refused: [] });
  assertEquals(kept.refused, []);
  assertEquals(
    [...kept.block.sensorHints!],
    block.strings.map((s) => ["a", "b", "c"].includes(s) ? router.indexOf(s) : -1),
  );
  assertEquals([...kept.block.sensor], [...block.sensor]);
});

Deno.test("a block with rows refused by the fleet's cap carries no hints (its string indexes are new)", () => {
  const router = new Router(4);
  router.split(readings(["a"]));
  const fleet = new FleetLimit(routerNames(router, { ids: false }), { maxSensors: 2 });
  const kept = fleet.keep({ block: readings(["a", "x", "y"]), refused: [] });
  assertEquals(kept.refused.map((r) => r.index), [2]);
  assertEquals(kept.block.sensorHints, undefined);
});
