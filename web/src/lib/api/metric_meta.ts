// GET /api/metrics: each metric's display name, unit, precision, thresholds.
import type { MetricsMeta } from "@pulseboard/protocol";

export const METRICS_PATH = "/api/metrics";

/** Checks the answer's shape; drops metrics whose entries are not usable. */
export function parseMetricMeta(json: unknown): MetricsMeta {
  const metrics = (json as { metrics?: unknown } | null)?.metrics;
  if (typeof metrics !== "object" || metrics === null) throw new TypeError("no metrics object");
  // By entries: a metric may be named like an Object property ("__proto__", "constructor").
  const out: [string, MetricsMeta[string]][] = [];
  for (const [key, raw] of Object.entries(metrics as Record<string, unknown>)) {
    const m = raw as Record<string, unknown> | null;
    if (
      typeof m?.name !== "string" || typeof m.unit !== "string" ||
      typeof m.precision !== "number" || !(m.precision > 0)
    ) continue;
    out.push([key, {
      name: m.name,
      unit: m.unit,
      precision: m.precision,
      ...(typeof m.thresholds === "object" && m.thresholds !== null
        ? { thresholds: m.thresholds as MetricsMeta[string]["thresholds"] }
        : {}),
    }]);
  }
  return Object.fromEntries(out);
}
