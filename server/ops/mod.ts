// The ops stage: structured logs, /metrics, /healthz and /readyz. It reads
// the other stages through the shapes it declares, and imports none of them.
export { Logger, logger } from "./logger.ts";
export type { LoggerOptions, LogLevel } from "./logger.ts";
export { logActorFailure } from "./actor_failures.ts";
export { PrometheusMetrics } from "./metrics.ts";
export type { MetricSources } from "./metrics.ts";
export type { MqttCounters } from "./mqtt_metrics.ts";
export { healthReport } from "./health.ts";
export { readiness } from "./readiness.ts";
export type { HealthInputs, SourceHealth } from "./health.ts";
export { opsRoutes } from "./ops_routes.ts";
export { topicLabeler } from "./topic_label.ts";
export { glibcTrim, HeapTrimmer } from "./heap_trim.ts";
export type { HeapTrimStats, Trim } from "./heap_trim.ts";
export { threadCpuClock } from "./thread_clock.ts";
export type { ThreadClock } from "./thread_clock.ts";
export { threadWaitClock } from "./thread_wait_clock.ts";
