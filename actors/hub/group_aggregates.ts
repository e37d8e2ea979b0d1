import type { FeedView } from "./feed_view.ts";
import { covers } from "./topic.ts";
import type { GroupAggregateEntry } from "../../protocol/mod.ts";

/**
 * A group's aggregates for one window size: per metric, over the sensors
 * under `prefix` ("" for all) whose latest ended window is the newest one
 * any of them has, their count, sum, min and max combined. Sensors that did
 * not report in that window are not in it (`sensors` says how many are).
 * `scope` limits the sensors to a viewer's group prefixes (null: no limit).
 */
export function groupAggregates(
  view: FeedView,
  prefix: string,
  size: number,
  options: { metric?: number; scope?: readonly string[] | null } = {},
): GroupAggregateEntry[] {
  const scope = options.scope ?? null;
  const metrics = options.metric === undefined
    ? view.metrics().map((m) => m.index)
    : [options.metric];
  const byMetric = new Map<number, GroupAggregateEntry>();
  const w = view.windowColumns;
  // Every tick that ends windows, once per (group, scope, size): no copy of the sensor table.
  view.forEachSensor((sensor) => {
    if (prefix !== "" && !covers(prefix, sensor.group)) return;
    if (scope !== null && !scope.some((p) => covers(p, sensor.group))) return;
    for (const metric of metrics) {
      const slot = view.windowSlot(sensor.index, metric, size);
      if (slot < 0) continue;
      const start = w.startMs[slot];
      let a = byMetric.get(metric);
      if (a === undefined || start > a.startMs) {
        a = {
          group: prefix,
          size,
          metric,
          startMs: start,
          sensors: 0,
          count: 0,
          sum: 0,
          min: Infinity,
          max: -Infinity,
        };
        byMetric.set(metric, a);
      } else if (start < a.startMs) continue;
      a.sensors++;
      a.count += w.count[slot];
      a.sum += w.sum[slot];
      if (w.min[slot] < a.min) a.min = w.min[slot];
      if (w.max[slot] > a.max) a.max = w.max[slot];
    }
  });
  return [...byMetric.values()].sort((a, b) => a.metric - b.metric);
}
