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
  return groupAggregatesBySize(view, prefixes, [size], options)[0];
}

/**
 * `groupAggregatesOf` of several window sizes at once: element s is
 * `groupAggregatesOf(view, prefixes, sizes[s], { scope })`, the same entries
 * to the bit. A tick that changes windows usually changes every size's
 * (the current window of each), and a walk per size found each sensor and
 * its prefixes again: one walk finds them once.
 */
export function groupAggregatesBySize(
  view: FeedView,
  prefixes: readonly string[],
  sizes: readonly number[],
  options: { scope?: readonly string[] | null } = {},
): GroupAggregateEntry[][][] {
  const scope = options.scope ?? null;
  const metrics = view.metrics().map((m) => m.index);
  const n = metrics.length;
  const perSize = prefixes.length * n * CELL;
  // Per size, prefix and metric, six doubles side by side at ((s * P + p) * n + k) * CELL:
  // newest start, sensors, count, sum, min, max. One array, so a sensor's cells share cache
  // lines: six arrays, each read and written at the same cell, took a third more time per walk.
  const acc = new Float64Array(sizes.length * perSize);
  for (let c = 0; c < acc.length; c += CELL) {
    acc[c] = -Infinity;
    acc[c + MIN] = Infinity;
    acc[c + MAX] = -Infinity;
  }
  // Per group name: the prefixes (their first cell, p * n * CELL) that take its sensors.
  const takers = new Map<string, number[]>();
  const w = view.windowColumns;
  const wStart = w.startMs, wCount = w.count, wSum = w.sum, wMin = w.min, wMax = w.max;
  const limit = view.sensorLimit;
  const sizeCount = sizes.length;
  for (let index = 0; index < limit; index++) {
    const sensor = view.sensor(index);
    if (sensor === undefined) continue;
    let into = takers.get(sensor.group);
    if (into === undefined) {
      into = [];
      const group = sensor.group;
      if (scope === null || scope.some((p) => covers(p, group))) {
        for (let p = 0; p < prefixes.length; p++) {
          if (prefixes[p] === "" || covers(prefixes[p], group)) into.push(p * n * CELL);
        }
      }
      takers.set(group, into);
    }
    const takes = into.length;
    if (takes === 0) continue;
    for (let s = 0; s < sizeCount; s++) {
      const base = s * perSize;
      const size = sizes[s];
      for (let k = 0; k < n; k++) {
        const slot = view.windowSlot(index, metrics[k], size);
        if (slot < 0) continue;
        const start = wStart[slot];
        for (let t = 0; t < takes; t++) {
          const c = base + into[t] + k * CELL;
          if (start > acc[c]) {
            // A newer window than any so far: the aggregate starts over from it (the same
            // operations as from zeros and infinities, so the same bits).
            acc[c] = start;
            acc[c + SENSORS] = 0;
            acc[c + COUNT] = 0;
            acc[c + SUM] = 0;
            acc[c + MIN] = Infinity;
            acc[c + MAX] = -Infinity;
          } else if (start < acc[c]) continue;
          acc[c + SENSORS]++;
          acc[c + COUNT] += wCount[slot];
          acc[c + SUM] += wSum[slot];
          if (wMin[slot] < acc[c + MIN]) acc[c + MIN] = wMin[slot];
          if (wMax[slot] > acc[c + MAX]) acc[c + MAX] = wMax[slot];
        }
      }
    }
  }
  return sizes.map((size, s) =>
    prefixes.map((prefix, p) => {
      const out: GroupAggregateEntry[] = [];
      for (let k = 0; k < n; k++) {
        const c = s * perSize + (p * n + k) * CELL;
        if (acc[c + SENSORS] === 0) continue;
        out.push({
          group: prefix,
          size,
          metric: metrics[k],
          startMs: acc[c],
          sensors: acc[c + SENSORS],
          count: acc[c + COUNT],
          sum: acc[c + SUM],
          min: acc[c + MIN],
          max: acc[c + MAX],
        });
      }
      return out.sort((a, b) => a.metric - b.metric);
    })
  );
}

/** A cell's doubles: the newest start first, then these offsets. */
const CELL = 6;
const SENSORS = 1;
const COUNT = 2;
const SUM = 3;
const MIN = 4;
const MAX = 5;
