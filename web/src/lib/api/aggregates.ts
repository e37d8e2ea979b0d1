// GET /api/aggregates: the latest closed window per metric over a group.
import { array, count, finite, finiteOrNull, oneOf, record, string } from "./read_json.ts";

export type AggregateWindow = "1s" | "10s" | "1m";
export const AGGREGATE_WINDOWS: readonly AggregateWindow[] = ["1s", "10s", "1m"];

export interface MetricAggregate {
  metric: string;
  windowStartMs: number;
  sensors: number;
  count: number;
  sum: number;
  /** Null when the window holds no readings. */
  avg: number | null;
  min: number | null;
  max: number | null;
}

export interface GroupAggregates {
  group: string;
  window: AggregateWindow;
  windowMs: number;
  asOfMs: number;
  metrics: MetricAggregate[];
}

export interface AggregatesQuery {
  group: string;
  window: AggregateWindow;
  metric?: string;
}

export function aggregatesPath(query: AggregatesQuery): string {
  const params = new URLSearchParams({ group: query.group, window: query.window });
  if (query.metric) params.set("metric", query.metric);
  return `/api/aggregates?${params}`;
}

export function parseAggregates(json: unknown): GroupAggregates {
  const body = record(json, "aggregates response");
  const metrics = array(body.metrics, "metrics").map((m, i): MetricAggregate => {
    const at = `metrics[${i}]`;
    const metric = record(m, at);
    return {
      metric: string(metric.metric, `${at}.metric`),
      windowStartMs: finite(metric.windowStartMs, `${at}.windowStartMs`),
      sensors: count(metric.sensors, `${at}.sensors`),
      count: count(metric.count, `${at}.count`),
      sum: finite(metric.sum, `${at}.sum`),
      avg: finiteOrNull(metric.avg, `${at}.avg`),
      min: finiteOrNull(metric.min, `${at}.min`),
      max: finiteOrNull(metric.max, `${at}.max`),
    };
  });
  return {
    group: string(body.group, "group"),
    window: oneOf(body.window, AGGREGATE_WINDOWS, "window"),
    windowMs: count(body.windowMs, "windowMs"),
    asOfMs: finite(body.asOfMs, "asOfMs"),
    metrics,
  };
}
