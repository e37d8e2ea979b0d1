import { assertEquals } from "../../tests/testing/assert.ts";
import { Router } from "../../actors/shards/router.ts";
import type { FleetNames } from "../../actors/shards/mod.ts";
import { blockFromReadings } from "./readings/mod.ts";
import { FleetLimit } from "./fleet_limit.ts";

function routerNames(router: Router): FleetNames {
  return {
    get sensorCount() {
      return router.sensorCount;
    },
    get metricCount() {
      return router.metricCount;
    },
    maxMetrics: router.maxMetrics,
    droppedValues: 0,
    hasSensor: (id) => router.hasSensor(id),
    sensorIndex: (id) => router.indexOf(id),
    hasMetric: (name) => router.metricIndex(name) !== undefined,
  };
}

const readings = (ids: string[]) =>
  blockFromReadings(ids.map((sensorId, i) => ({ sensorId, timeMs: i, values: { t: i } })));

Deno.test("the fleet's check hands the router's index of each known sensor on with the block it keeps whole", () => {
  const router = new Router(4);
  router.split(readings(["a", "b", "c"]));
  const fleet = new FleetLimit(routerNames(router), { maxSensors: 10 });
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
  const fleet = new FleetLimit(routerNames(router), { maxSensors: 2 });
  const kept = fleet.keep({ block: readings(["a", "x", "y"]), refused: [] });
  assertEquals(kept.refused.map((r) => r.index), [2]);
  assertEquals(kept.block.sensorHints, undefined);
});
