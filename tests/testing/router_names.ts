import type { Router } from "../../actors/shards/router.ts";
import type { FleetNames } from "../../actors/shards/mod.ts";

/**
 * The fleet's names as the shard set hands them to ingest, read from
 * `router`. `ids: false` leaves out `sensorId`, the path for names that do
 * not come from a router.
 */
export function routerNames(router: Router, { ids = true } = {}): FleetNames {
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
    ...(ids ? { sensorId: (index: number) => router.sensorId(index) } : {}),
    hasMetric: (name) => router.metricIndex(name) !== undefined,
  };
}
