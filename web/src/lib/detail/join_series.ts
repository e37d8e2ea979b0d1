// Joins a history response with the live tail into the columns uPlot draws:
// x (seconds), min, max, avg. Tail samples after the history's end are
// bucketed on the history's grid; one that lands in the history's last
// bucket (still open when the server answered) is merged into it. A gap
// longer than `gapMs` gets a null point so the line breaks. Pure.
import type { HistoryPoint } from "../api/mod.ts";
import type { LiveTail } from "./live_tail.ts";

export type SeriesColumns = [
  x: number[],
  min: (number | null)[],
  max: (number | null)[],
  avg: (number | null)[],
];

export interface JoinOptions {
  /** History buckets, ascending (may be empty). */
  history: readonly HistoryPoint[];
  /** The history's bucket size; 0 (raw) draws tail samples one by one. */
  bucketMs: number;
  /** The history covers event time up to here; later tail samples are new. */
  historyToMs: number;
  /** A break in the line where points are further apart than this. */
  gapMs: number;
}

interface Bucket {
  t: number;
  count: number;
  min: number;
  max: number;
  sum: number;
}

/**
 * Where the history's data ends, for the join: its `to`, or earlier when the
 * server says readings from some time on may be missing (then the tail fills
 * in from there).
 */
export function historyEndMs(history: { to: number; missingFrom: number | null }): number {
  return history.missingFrom ?? history.to;
}

export function joinSeries(tail: LiveTail, options: JoinOptions): SeriesColumns {
  const buckets: Bucket[] = options.history.map((p) => ({
    t: p.t,
    count: p.count,
    min: p.min,
    max: p.max,
    sum: p.avg * p.count,
  }));
  const historyEnd = buckets.length;
  // Tail buckets by start time; few enough (≤ tail capacity) for a Map.
  const live = new Map<number, Bucket>();
  const size = options.bucketMs > 0 ? options.bucketMs : 0;
  tail.forEachAfter(options.historyToMs, (timeMs, value) => {
    const t = size ? Math.floor(timeMs / size) * size : timeMs;
    const b = live.get(t);
    if (b) {
      b.count++;
      b.min = Math.min(b.min, value);
      b.max = Math.max(b.max, value);
      b.sum += value;
    } else live.set(t, { t, count: 1, min: value, max: value, sum: value });
  });
  const lastHistory = historyEnd > 0 ? buckets[historyEnd - 1] : null;
  for (const b of [...live.values()].sort((a, b) => a.t - b.t)) {
    if (lastHistory && b.t <= lastHistory.t) {
      if (b.t < lastHistory.t) continue; // older than the history's end: already in it
      lastHistory.count += b.count;
      lastHistory.min = Math.min(lastHistory.min, b.min);
      lastHistory.max = Math.max(lastHistory.max, b.max);
      lastHistory.sum += b.sum;
      continue;
    }
    buckets.push(b);
  }
  const x: number[] = [], min: (number | null)[] = [], max: (number | null)[] = [];
  const avg: (number | null)[] = [];
  let previous = -Infinity;
  for (const b of buckets) {
    if (b.t - previous > options.gapMs && previous !== -Infinity) {
      x.push((previous + b.t) / 2000);
      min.push(null);
      max.push(null);
      avg.push(null);
    }
    x.push(b.t / 1000);
    min.push(b.min);
    max.push(b.max);
    avg.push(b.sum / b.count);
    previous = b.t;
  }
  return [x, min, max, avg];
}
