import { attentionName } from "../../protocol/attention.ts";
import type { AttentionName } from "../../protocol/attention.ts";
import type { FeedView } from "./feed_view.ts";
import { covers } from "./topic.ts";
import { groupAggregates } from "./group_aggregates.ts";

/** One sensor as `GET /api/sensors` lists it. */
export interface SensorSummary {
  id: string;
  group: string;
  /** Status of its newest reading that had one; null when none had. */
  status: string | null;
  /** Its attention state: critical, warn, offline, stale, ok, or unknown. */
  attention: AttentionName;
  /** Newest event time over its metrics. */
  lastSeenMs: number | null;
  lateDropped: number;
  /**
   * By metric name: `value` and `timeMs`, the reading with the newest event
   * time (on a tie, the later arrival); `avg`, `min` and `max` of the same
   * readings, its last `--window` in arrival order, late ones included.
   */
  metrics: Record<string, { value: number; timeMs: number; avg: number; min: number; max: number }>;
}

export interface SensorQuery {
  /** Group prefix; null for all. */
  group: string | null;
  /** Case-insensitive substring of the id; null for all. */
  q: string | null;
  limit: number;
  /** List ids after this one (exclusive); null from the start. */
  after: string | null;
  /** The viewer's group prefixes (`*` among them: every group); null for no limit. */
  scope: readonly string[] | null;
  /** Only the sensor with exactly this id. */
  id?: string;
}

/** Sensors matching a query, ordered by id, one page at a time. */
export function listSensors(
  view: FeedView,
  query: SensorQuery,
): { sensors: SensorSummary[]; more: boolean } {
  const q = query.q?.toLowerCase() ?? null;
  // `*` is every group, as for /api/groups and the feed.
  const scope = query.scope === null || query.scope.includes("*") ? null : query.scope;
  const matching = view.sensors().filter((s) =>
    (query.group === null || covers(query.group, s.group)) &&
    (scope === null || scope.some((p) => covers(p, s.group))) &&
    (q === null || s.id.toLowerCase().includes(q)) &&
    (query.id === undefined || s.id === query.id) &&
    (query.after === null || s.id > query.after)
  ).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const page = matching.slice(0, query.limit);
  return {
    sensors: page.map((s) => summarize(view, s.index)!),
    more: matching.length > page.length,
  };
}

function summarize(view: FeedView, index: number): SensorSummary | null {
  const sensor = view.sensor(index);
  if (!sensor) return null;
  const metrics: SensorSummary["metrics"] = {};
  let lastSeenMs: number | null = null;
  const v = view.valueColumns;
  for (const metric of view.metrics()) {
    const slot = view.valueSlot(index, metric.index);
    if (slot < 0) continue;
    metrics[metric.name] = {
      value: v.last[slot],
      timeMs: v.timeMs[slot],
      avg: v.avg[slot],
      min: v.min[slot],
      max: v.max[slot],
    };
    if (lastSeenMs === null || v.timeMs[slot] > lastSeenMs) lastSeenMs = v.timeMs[slot];
  }
  return {
    id: sensor.id,
    group: sensor.group,
    status: view.status(index),
    attention: attentionName(view.attention.code(index)),
    lastSeenMs,
    lateDropped: view.lateDropped(index),
    metrics,
  };
}

/** A group's aggregates for one window size, by metric name, as `GET /api/aggregates` answers. */
export function aggregatesByName(
  view: FeedView,
  group: string,
  size: number,
  metricName: string | null,
  scope: readonly string[] | null,
): {
  metric: string;
  windowStartMs: number;
  sensors: number;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
}[] {
  const metrics = view.metrics();
  const metric = metricName === null
    ? undefined
    : metrics.find((m) => m.name === metricName)?.index ?? -1;
  if (metric === -1) return [];
  const names = new Map(metrics.map((m) => [m.index, m.name]));
  return groupAggregates(view, group, size, { metric, scope }).map((a) => ({
    metric: names.get(a.metric)!,
    windowStartMs: a.startMs,
    sensors: a.sensors,
    count: a.count,
    sum: a.sum,
    avg: a.sum / a.count,
    min: a.min,
    max: a.max,
  }));
}
