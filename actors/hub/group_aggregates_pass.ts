import type { FeedView } from "./feed_view.ts";
import { covers } from "./topic.ts";
import type { GroupAggregateEntry } from "../../protocol/mod.ts";

/**
 * `groupAggregates` of several group prefixes at once, for one window size
 * and scope: element p is `groupAggregates(view, prefixes[p], size, { scope })`,
 * the same entries to the bit (each prefix's sensors are combined in the same
 * order, by index). One walk of the sensors instead of one per prefix: a
 * tick that ends windows needs the aggregates of every topic's groups, and
 * each walk visits every sensor of the fleet (10 group topics: 10 walks).
 * Which prefixes take a sensor is worked out once per group name.
 */
export function groupAggregatesOf(
  view: FeedView,
  prefixes: readonly string[],
  size: number,
  options: { scope?: readonly string[] | null } = {},
): GroupAggregateEntry[][] {
  const scope = options.scope ?? null;
  const metrics = view.metrics().map((m) => m.index);
  const n = metrics.length;
  const cells = prefixes.length * n;
  // Per prefix and metric (at p * n + k): newest start, sensors, count, sum, min, max.
  const startMs = new Float64Array(cells).fill(-Infinity);
  const sensors = new Float64Array(cells);
  const count = new Float64Array(cells);
  const sum = new Float64Array(cells);
  const min = new Float64Array(cells).fill(Infinity);
  const max = new Float64Array(cells).fill(-Infinity);
  // Per group name: the prefixes (their first cell, p * n) that take its sensors.
  const takers = new Map<string, number[]>();
  const w = view.windowColumns;
  for (let index = 0; index < view.sensorLimit; index++) {
    const sensor = view.sensor(index);
    if (sensor === undefined) continue;
    let into = takers.get(sensor.group);
    if (into === undefined) {
      into = [];
      const group = sensor.group;
      if (scope === null || scope.some((p) => covers(p, group))) {
        prefixes.forEach((prefix, p) => {
          if (prefix === "" || covers(prefix, group)) into!.push(p * n);
        });
      }
      takers.set(group, into);
    }
    if (into.length === 0) continue;
    for (let k = 0; k < n; k++) {
      const slot = view.windowSlot(index, metrics[k], size);
      if (slot < 0) continue;
      const start = w.startMs[slot];
      for (let t = 0; t < into.length; t++) {
        const c = into[t] + k;
        if (start > startMs[c]) {
          // A newer window than any so far: the aggregate starts over from it.
          startMs[c] = start;
          sensors[c] = 0;
          count[c] = 0;
          sum[c] = 0;
          min[c] = Infinity;
          max[c] = -Infinity;
        } else if (start < startMs[c]) continue;
        sensors[c]++;
        count[c] += w.count[slot];
        sum[c] += w.sum[slot];
        if (w.min[slot] < min[c]) min[c] = w.min[slot];
        if (w.max[slot] > max[c]) max[c] = w.max[slot];
      }
    }
  }
  return prefixes.map((prefix, p) => {
    const out: GroupAggregateEntry[] = [];
    for (let k = 0; k < n; k++) {
      const c = p * n + k;
      if (sensors[c] === 0) continue;
      out.push({
        group: prefix,
        size,
        metric: metrics[k],
        startMs: startMs[c],
        sensors: sensors[c],
        count: count[c],
        sum: sum[c],
        min: min[c],
        max: max[c],
      });
    }
    return out.sort((a, b) => a.metric - b.metric);
  });
}
