import { healthReport } from "./health.ts";
import { readiness } from "./readiness.ts";
import type { HealthInputs } from "./health.ts";
import type { PrometheusMetrics } from "./metrics.ts";

/** GET /metrics, /healthz and /readyz, read from the stages when asked. */
export function opsRoutes(
  metrics: PrometheusMetrics,
  inputs: HealthInputs & { startedAt: number; checkpointEveryMs: number },
) {
  return {
    metrics: async () =>
      new Response(await metrics.render(), { headers: { "content-type": metrics.contentType } }),
    health: () => healthReport(inputs),
    ready: () => readiness(inputs, { ...inputs, now: Date.now() }),
  };
}
