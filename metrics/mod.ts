export { PrometheusMetrics } from "./prometheus.ts";
export type { MetricSources } from "./prometheus.ts";
