export { ApiClient } from "./client.ts";
export type { ApiClientOptions } from "./client.ts";
export { ApiError } from "./api_error.ts";
export { historyPath, MAX_POINTS, parseHistory, RESOLUTIONS } from "./history.ts";
export type { History, HistoryPoint, HistoryQuery, Resolution } from "./history.ts";
export { parseSensorPage, sensorsPath } from "./sensors.ts";
export type { MetricNow, SensorPage, SensorQuery, SensorSummary } from "./sensors.ts";
export { AGGREGATE_WINDOWS, aggregatesPath, parseAggregates } from "./aggregates.ts";
export type {
  AggregatesQuery,
  AggregateWindow,
  GroupAggregates,
  MetricAggregate,
} from "./aggregates.ts";
