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
  // Per metric: newest start, sensors, count, sum, min, max, in typed columns. Doubles summed
  // into an entry object's fields were most of what the hub allocated at the modest load.
  const n = metrics.length;
  const startMs = new Float64Array(n).fill(-Infinity);
  const sensors = new Float64Array(n);
  const count = new Float64Array(n);
  const sum = new Float64Array(n);
  const min = new Float64Array(n).fill(Infinity);
  const max = new Float64Array(n).fill(-Infinity);
  const w = view.windowColumns;
  // Every tick that ends windows, once per (group, scope, size): no copy of the sensor table.
  for (let index = 0; index < view.sensorLimit; index++) {
    const sensor = view.sensor(index);
    if (sensor === undefined) continue;
    if (prefix !== "" && !covers(prefix, sensor.group)) continue;
    if (scope !== null && !scope.some((p) => covers(p, sensor.group))) continue;
    for (let k = 0; k < n; k++) {
      const slot = view.windowSlot(index, metrics[k], size);
      if (slot < 0) continue;
      const start = w.startMs[slot];
      if (start > startMs[k]) {
        // A newer window than any so far: the aggregate starts over from it.
        startMs[k] = start;
        sensors[k] = 0;
        count[k] = 0;
        sum[k] = 0;
        min[k] = Infinity;
        max[k] = -Infinity;
      } else if (start < startMs[k]) continue;
      sensors[k]++;
      count[k] += w.count[slot];
      sum[k] += w.sum[slot];
      if (w.min[slot] < min[k]) min[k] = w.min[slot];
      if (w.max[slot] > max[k]) max[k] = w.max[slot];
    }
  }
  const out: GroupAggregateEntry[] = [];
  for (let k = 0; k < n; k++) {
    if (sensors[k] === 0) continue;
    out.push({
      group: prefix,
      size,
      metric: metrics[k],
      startMs: startMs[k],
      sensors: sensors[k],
      count: count[k],
      sum: sum[k],
      min: min[k],
      max: max[k],
    });
  }
  return out.sort((a, b) => a.metric - b.metric);
}
