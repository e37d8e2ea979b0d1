// GET /api/sensors/:id/history: a downsampled series of one sensor's metric.
import { array, boolean, count, finite, oneOf, record, string } from "./read_json.ts";

export type Resolution = "raw" | "1s" | "1m";
export const RESOLUTIONS: readonly Resolution[] = ["raw", "1s", "1m"];

/** One bucket; `t` is its start (epoch ms). */
export interface HistoryPoint {
  t: number;
  count: number;
  min: number;
  max: number;
  avg: number;
}

export interface History {
  sensorId: string;
  metric: string;
  from: number;
  to: number;
  resolution: Resolution;
  bucketMs: number;
  /** Ascending by `t`; empty buckets omitted. */
  points: HistoryPoint[];
  /** The server stopped scanning early; `note` says why. */
  bounded: boolean;
  /** Windows from here on are still open: their buckets may still change. */
  provisionalFrom: number | null;
  /** Readings from here on may be missing (the server could not read its open windows). */
  missingFrom: number | null;
  note: string;
}

export interface HistoryQuery {
  metric: string;
  from: number;
  to: number;
  /** About the chart's width in px; the server caps it at 10,000. */
  maxPoints: number;
}

export const MAX_POINTS = 10_000;

export function historyPath(sensorId: string, query: HistoryQuery): string {
  const params = new URLSearchParams({
    metric: query.metric,
    from: String(Math.floor(query.from)),
    to: String(Math.ceil(query.to)),
    maxPoints: String(Math.max(1, Math.min(MAX_POINTS, Math.round(query.maxPoints)))),
  });
  return `/api/sensors/${encodeURIComponent(sensorId)}/history?${params}`;
}

/** Validates a history response. Points out of order or with min > max are refused. */
export function parseHistory(json: unknown): History {
  const body = record(json, "history");
  const points = array(body.points, "points").map((p, i): HistoryPoint => {
    const point = record(p, `points[${i}]`);
    const parsed = {
      t: finite(point.t, `points[${i}].t`),
      count: count(point.count, `points[${i}].count`),
      min: finite(point.min, `points[${i}].min`),
      max: finite(point.max, `points[${i}].max`),
      avg: finite(point.avg, `points[${i}].avg`),
    };
    if (parsed.min > parsed.max) throw new TypeError(`points[${i}] has min above max`);
    return parsed;
  });
  for (let i = 1; i < points.length; i++) {
    if (points[i].t <= points[i - 1].t) throw new TypeError(`points[${i}].t is not ascending`);
  }
  const note = body.note === undefined ? "" : string(body.note, "note");
  const optionalTime = (name: "provisionalFrom" | "missingFrom") =>
    body[name] === undefined ? null : finite(body[name], name);
  return {
    sensorId: string(body.sensorId, "sensorId"),
    metric: string(body.metric, "metric"),
    from: finite(body.from, "from"),
    to: finite(body.to, "to"),
    resolution: oneOf(body.resolution, RESOLUTIONS, "resolution"),
    bucketMs: count(body.bucketMs, "bucketMs"),
    points,
    bounded: boolean(body.bounded, "bounded"),
    provisionalFrom: optionalTime("provisionalFrom"),
    missingFrom: optionalTime("missingFrom"),
    note,
  };
}
