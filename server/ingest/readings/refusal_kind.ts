/** Stable, low-cardinality names for why readings are refused (metric labels). */
export type RefusalKind =
  | "sensor_id"
  | "group"
  | "status"
  | "timestamp"
  | "future_timestamp"
  | "metric_name"
  | "value"
  | "too_many_metrics"
  | "no_metrics"
  | "duplicate_metric"
  | "malformed"
  | "not_allowed"
  | "fleet_full"
  | "metric_names_full"
  | "other";

/**
 * Classifies a refusal reason from `validate.ts`, `json.ts`, `filter.ts`,
 * `FleetLimit` or `SensorGroups`.
 */
export function refusalKind(reason: string): RefusalKind {
  // The fleet's caps first: their reasons quote names, which may hold any of the words below.
  if (reason.endsWith("(--max-sensors)")) return "fleet_full";
  if (/^metric name ".*" is new and the server keeps at most \d+ metric names$/.test(reason)) {
    return "metric_names_full";
  }
  // Quotes a sensor id and a group, which may hold any of the words below.
  if (reason.endsWith(", which this key may not write")) return "not_allowed";
  if (reason.includes("sensorId")) return "sensor_id";
  if (reason.endsWith("is not allowed for this key")) return "not_allowed";
  if (reason.startsWith("group")) return "group";
  if (reason.startsWith("status")) return "status";
  if (reason.includes("in the future")) return "future_timestamp";
  if (reason.includes("timestamp")) return "timestamp";
  if (reason.startsWith("metric name")) return "metric_name";
  if (reason.startsWith("value of")) return "value";
  if (reason.startsWith("too many metrics")) return "too_many_metrics";
  if (reason.startsWith("reading has no")) return "no_metrics";
  if (reason.endsWith("appears twice")) return "duplicate_metric";
  if (reason.startsWith("reading must be")) return "malformed";
  return "other";
}
