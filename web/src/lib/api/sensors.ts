// GET /api/sensors: one page of the sensor list with last values.
import { array, count, finite, record, string, stringOrNull } from "./read_json.ts";

export interface MetricNow {
  value: number;
  timeMs: number;
  avg: number;
}

export interface SensorSummary {
  id: string;
  group: string;
  /** Status of the newest reading that had one; null when none had. */
  status: string | null;
  /** Its attention state (critical, warn, offline, stale, ok, unknown); "unknown" from older servers. */
  attention: string;
  lastSeenMs: number;
  lateDropped: number;
  metrics: Record<string, MetricNow>;
}

export interface SensorPage {
  sensors: SensorSummary[];
  nextCursor: string | null;
}

export interface SensorQuery {
  group?: string;
  q?: string;
  limit?: number;
  cursor?: string;
}

export function sensorsPath(query: SensorQuery = {}): string {
  const params = new URLSearchParams();
  if (query.group) params.set("group", query.group);
  if (query.q) params.set("q", query.q);
  if (query.limit !== undefined) params.set("limit", String(query.limit));
  if (query.cursor) params.set("cursor", query.cursor);
  const search = params.toString();
  return search ? `/api/sensors?${search}` : "/api/sensors";
}

export function parseSensorPage(json: unknown): SensorPage {
  const body = record(json, "sensors response");
  const sensors = array(body.sensors, "sensors").map((s, i): SensorSummary => {
    const at = `sensors[${i}]`;
    const sensor = record(s, at);
    // By entries: a metric may be named like an Object property ("__proto__", "constructor").
    const metrics: Record<string, MetricNow> = Object.fromEntries(
      Object.entries(record(sensor.metrics, `${at}.metrics`)).map(([name, m]) => {
        const metric = record(m, `${at}.metrics.${name}`);
        return [name, {
          value: finite(metric.value, `${at}.metrics.${name}.value`),
          timeMs: finite(metric.timeMs, `${at}.metrics.${name}.timeMs`),
          avg: finite(metric.avg, `${at}.metrics.${name}.avg`),
        }];
      }),
    );
    return {
      id: string(sensor.id, `${at}.id`),
      group: string(sensor.group, `${at}.group`),
      status: stringOrNull(sensor.status, `${at}.status`),
      attention: typeof sensor.attention === "string" ? sensor.attention : "unknown",
      lastSeenMs: finite(sensor.lastSeenMs, `${at}.lastSeenMs`),
      lateDropped: count(sensor.lateDropped, `${at}.lateDropped`),
      metrics,
    };
  });
  return { sensors, nextCursor: stringOrNull(body.nextCursor, "nextCursor") };
}
