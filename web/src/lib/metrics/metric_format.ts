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

const COMPACT = new Intl.NumberFormat("en-US", {
  notation: "compact",
  maximumSignificantDigits: 4,
});
/** Scientific notation with 2, 1 and 0 decimals: the first that fits is used. */
const SCIENTIFIC = [2, 1, 0].map((digits) =>
  new Intl.NumberFormat("en-US", { notation: "scientific", maximumFractionDigits: digits })
);

/**
 * A value rounded to the metric's precision, without its unit: "21.4". Past
 * `maxChars` (a table cell, an axis) it is shortened to four significant
 * digits: "123.5M" (a counter's 123456789.12), "1.23E15".
 */
export function formatNumber(value: number, meta: MetricMeta, maxChars = Infinity): string {
  if (!Number.isFinite(value)) return "–";
  const d = decimalsOf(meta.precision);
  const rounded = Math.round(value / meta.precision) * meta.precision;
  const fixed = rounded.toFixed(d);
  // No "-0.0": a value that rounds to zero has no sign.
  const text = Number(fixed) === 0 ? (0).toFixed(d) : fixed;
  if (text.length <= maxChars) return text;
  // Long because large (compact: "123.5M"), or because the precision is fine ("-1.2E-6").
  if (Math.abs(rounded) >= 1 && Math.abs(rounded) < 1e15) return COMPACT.format(rounded);
  const short = SCIENTIFIC.map((f) => f.format(rounded));
  return short.find((t) => t.length <= maxChars) ?? short[short.length - 1];
}

/** A value with its unit: "21.4 °C" (or "21.4" for a metric without one). */
export function formatMetric(value: number, meta: MetricMeta, maxChars = Infinity): string {
  const n = formatNumber(value, meta, maxChars);
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
