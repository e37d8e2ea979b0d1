// Numbers as the metric's metadata says: rounded to its precision, with its
// unit. One place, so the table, cards, charts and legends agree.
import { decimalsOf } from "@pulseboard/protocol";
import type { MetricMeta, MetricsMeta } from "@pulseboard/protocol";

/**
 * A metric's metadata; one the server sent none for: its own name, no unit,
 * two decimals. Own keys only: a metric may be named "constructor" or "__proto__".
 */
export function metaOf(meta: MetricsMeta, metric: string): MetricMeta {
  return Object.hasOwn(meta, metric) ? meta[metric] : { name: metric, unit: "", precision: 0.01 };
}

/** A value rounded to the metric's precision, without its unit: "21.4". */
export function formatNumber(value: number, meta: MetricMeta): string {
  if (!Number.isFinite(value)) return "–";
  const d = decimalsOf(meta.precision);
  const rounded = Math.round(value / meta.precision) * meta.precision;
  const text = rounded.toFixed(d);
  // No "-0.0": a value that rounds to zero has no sign.
  return Number(text) === 0 ? (0).toFixed(d) : text;
}

/** A value with its unit: "21.4 °C" (or "21.4" for a metric without one). */
export function formatMetric(value: number, meta: MetricMeta): string {
  const n = formatNumber(value, meta);
  return meta.unit === "" || n === "–" ? n : `${n} ${meta.unit}`;
}

/** A column header or card title: "Temperature (°C)". */
export function metricLabel(meta: MetricMeta): string {
  return meta.unit === "" ? meta.name : `${meta.name} (${meta.unit})`;
}

/** True when two values differ beyond the metric's precision (worth a highlight). */
export function changedBeyondPrecision(before: number, after: number, meta: MetricMeta): boolean {
  if (!Number.isFinite(before) || !Number.isFinite(after)) return before !== after;
  return Math.round(before / meta.precision) !== Math.round(after / meta.precision);
}
