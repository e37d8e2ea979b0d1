import { checkMetricName, checkSensorId } from "../ingest/readings/validate.ts";
import { DEFAULT_READING_LIMITS } from "../ingest/readings/limits.ts";

/** A history request, checked. */
export interface HistoryRequest {
  sensorId: string;
  metric: string;
  fromMs: number;
  toMs: number;
  maxPoints: number;
}

/** A raw or rollup point before bucketing. */
export interface SeriesPoint {
  t: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface HistoryBucket {
  t: number;
  count: number;
  min: number;
  max: number;
  avg: number;
}

export const MAX_POINTS = 10_000;
export const DEFAULT_POINTS = 1_000;
/** Longest range one request may cover. */
export const MAX_RANGE_MS = 400 * 86_400_000;
/** The latest time a JavaScript Date holds (an exact integer, too). */
export const MAX_TIME_MS = 8_640_000_000_000_000;

/**
 * Reads and checks `metric`, `from`, `to` (epoch ms, at most `MAX_TIME_MS`;
 * default the last hour: `to` now, `from` an hour before `to` but not
 * before 0) and `maxPoints`. Returns the request or the reason it makes no
 * sense.
 */
export function parseHistoryRequest(
  sensorId: string,
  params: URLSearchParams,
  nowMs: number,
): HistoryRequest | string {
  const idProblem = checkSensorId(sensorId, DEFAULT_READING_LIMITS);
  if (idProblem) return idProblem;
  const metric = params.get("metric");
  if (!metric) return "metric is required, e.g. ?metric=temperature";
  const metricProblem = checkMetricName(metric, DEFAULT_READING_LIMITS);
  if (metricProblem) return metricProblem;
  const number = (name: string, fallback: number): number | string => {
    const raw = params.get(name);
    if (raw === null || raw === "") return fallback;
    if (!/^\d{1,16}$/.test(raw)) {
      return `${name} must be a whole number ≥ 0, got "${raw.slice(0, 40)}"`;
    }
    return Number(raw);
  };
  const time = (name: string, fallback: number): number | string => {
    const value = number(name, fallback);
    if (typeof value === "number" && value > MAX_TIME_MS) {
      return `${name} must be at most ${MAX_TIME_MS} (the latest time a date holds), got ${
        params.get(name)
      }`;
    }
    return value;
  };
  const toMs = time("to", nowMs);
  if (typeof toMs === "string") return toMs;
  // Nothing is stored before 1970: the hour before an early `to` starts at 0.
  const fromMs = time("from", Math.max(0, toMs - 3_600_000));
  if (typeof fromMs === "string") return fromMs;
  const maxPoints = number("maxPoints", DEFAULT_POINTS);
  if (typeof maxPoints === "string") return maxPoints;
  if (fromMs >= toMs) return `from (${fromMs}) must be before to (${toMs})`;
  if (toMs - fromMs > MAX_RANGE_MS) {
    return `from..to spans more than ${MAX_RANGE_MS / 86_400_000} days`;
  }
  if (maxPoints < 1 || maxPoints > MAX_POINTS) {
    return `maxPoints must be within 1..${MAX_POINTS}, got ${maxPoints}`;
  }
  return { sensorId, metric, fromMs, toMs, maxPoints };
}

/**
 * The bucket width for a range: wide enough that at most `maxPoints` buckets
 * (aligned to the epoch) cover it, and a multiple of `sizeMs` (the source's
 * resolution, 1 for raw) so no source point straddles two buckets.
 */
export function bucketWidth(
  fromMs: number,
  toMs: number,
  maxPoints: number,
  sizeMs: number,
): number {
  // An epoch-aligned grid can cut the range into one bucket more than range / width.
  const slots = Math.max(1, maxPoints - 1);
  const raw = Math.max(1, Math.ceil((toMs - fromMs) / slots));
  return Math.ceil(raw / sizeMs) * sizeMs;
}

/**
 * Which stored resolution serves a request: the coarsest rollup size not
 * wider than the bucket the range needs and still kept for `fromMs`; else raw
 * (0) while the raw log still reaches `fromMs`; else the finest rollup kept
 * that far back (fewer points than asked, rather than none). `sizes` maps
 * rollup size to retention.
 */
export function pickResolution(
  request: HistoryRequest,
  sizes: ReadonlyMap<number, number>,
  nowMs: number,
  rawRetentionMs = Infinity,
): number {
  const needed = bucketWidth(request.fromMs, request.toMs, request.maxPoints, 1);
  const kept = [...sizes].filter(([, retention]) => nowMs - retention <= request.fromMs)
    .map(([size]) => size).sort((a, b) => a - b);
  const fitting = kept.filter((size) => size <= needed);
  if (fitting.length > 0) return fitting[fitting.length - 1];
  if (nowMs - rawRetentionMs <= request.fromMs) return 0;
  if (kept.length > 0) return kept[0];
  // Nothing reaches back that far: the longest-kept rollup serves what is left.
  const longest = [...sizes].sort((a, b) => b[1] - a[1])[0];
  return longest ? longest[0] : 0;
}

/** Merges points into epoch-aligned buckets of `bucketMs`, oldest first, empty ones left out. */
export function bucketize(
  points: readonly SeriesPoint[],
  fromMs: number,
  toMs: number,
  bucketMs: number,
): HistoryBucket[] {
  const buckets = new Map<number, SeriesPoint>();
  for (const p of points) {
    if (p.t < fromMs - (fromMs % bucketMs) || p.t >= toMs || p.count === 0) continue;
    const t = p.t - (p.t % bucketMs);
    const b = buckets.get(t);
    if (!b) buckets.set(t, { ...p, t });
    else {
      b.count += p.count;
      b.sum += p.sum;
      if (p.min < b.min) b.min = p.min;
      if (p.max > b.max) b.max = p.max;
    }
  }
  return [...buckets.values()].sort((a, b) => a.t - b.t).map((b) => ({
    t: b.t,
    count: b.count,
    min: b.min,
    max: b.max,
    avg: b.sum / b.count,
  }));
}
