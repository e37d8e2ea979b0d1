// The metric metadata file (`--metrics-config`): JSON or YAML, checked
// field by field so a mistake is named by file, key and reason.
import { DEFAULT_METRICS } from "../../protocol/metric_meta.ts";
import type { Bound, MetricMeta, MetricsMeta, Thresholds } from "../../protocol/metric_meta.ts";
import { checkMetricName } from "../ingest/readings/validate.ts";
import { DEFAULT_READING_LIMITS } from "../ingest/readings/limits.ts";

/** More metrics than this in one file is a mistake, not a fleet. */
export const MAX_CONFIGURED_METRICS = 1_000;
const MAX_TEXT = 64;
const MAX_HOLD_MS = 86_400_000;

/** Reads the file at `path`, or the demo's defaults when there is none. */
export async function loadMetricsConfig(path: string | null): Promise<MetricsMeta> {
  if (path === null) return DEFAULT_METRICS;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new TypeError(
      `--metrics-config ${path}: cannot read it (${(error as Error).message})`,
    );
  }
  return await parseMetricsConfig(text, path);
}

/**
 * Parses the metadata file's text: `{ metrics: { <name>: { name, unit,
 * precision, thresholds? } } }`. The file replaces the defaults. Throws a
 * TypeError naming `file`, the key and the reason.
 */
export async function parseMetricsConfig(text: string, file: string): Promise<MetricsMeta> {
  // Loaded only for a file: the parser's modules are ~30 ms of every start without one.
  const { parse: parseYaml } = await import("yaml");
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 }); // JSON is YAML
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0];
    throw new TypeError(`${file}: not JSON or YAML (${reason})`);
  }
  const fail = (key: string, reason: string): never => {
    throw new TypeError(`${file}: ${key}: ${reason}`);
  };
  if (!isObject(doc)) return fail("(top)", "must be an object with a `metrics` key");
  for (const key of Object.keys(doc)) if (key !== "metrics") fail(key, "unknown key");
  const metrics = doc.metrics;
  if (!isObject(metrics)) return fail("metrics", "must be an object of metric name → metadata");
  const names = Object.keys(metrics);
  if (names.length > MAX_CONFIGURED_METRICS) {
    fail("metrics", `has ${names.length} metrics, at most ${MAX_CONFIGURED_METRICS}`);
  }
  const out: MetricsMeta = {};
  for (const metric of names) {
    const at = `metrics.${metric}`;
    const bad = checkMetricName(metric, DEFAULT_READING_LIMITS);
    if (bad) fail(at, `is not a metric name readings can carry (${bad})`);
    out[metric] = metricMeta(metrics[metric], at, fail);
  }
  return out;
}

function metricMeta(
  raw: unknown,
  at: string,
  fail: (key: string, reason: string) => never,
): MetricMeta {
  if (!isObject(raw)) return fail(at, "must be an object with name, unit and precision");
  for (const key of Object.keys(raw)) {
    if (!["name", "unit", "precision", "thresholds"].includes(key)) {
      fail(`${at}.${key}`, "unknown key");
    }
  }
  const text = (key: string, allowEmpty: boolean): string => {
    const value = raw[key];
    if (typeof value !== "string") return fail(`${at}.${key}`, "must be a string");
    if ((!allowEmpty && value.trim() === "") || value.length > MAX_TEXT) {
      fail(`${at}.${key}`, `must be ${allowEmpty ? "" : "1 to "}${MAX_TEXT} characters`);
    }
    return value;
  };
  const name = text("name", false);
  const unit = text("unit", true);
  const precision = raw.precision;
  if (typeof precision !== "number" || !(precision > 0) || !Number.isFinite(precision)) {
    fail(`${at}.precision`, "must be a number above 0 (the step values are measured to, e.g. 0.1)");
  }
  const meta: MetricMeta = { name, unit, precision: precision as number };
  if (raw.thresholds !== undefined) {
    meta.thresholds = thresholds(raw.thresholds, `${at}.thresholds`, fail);
  }
  return meta;
}

function thresholds(
  raw: unknown,
  at: string,
  fail: (key: string, reason: string) => never,
): Thresholds {
  if (!isObject(raw)) return fail(at, "must be an object with warn, critical and holdMs");
  for (const key of Object.keys(raw)) {
    if (!["warn", "critical", "holdMs"].includes(key)) fail(`${at}.${key}`, "unknown key");
  }
  const holdMs = raw.holdMs ?? 0;
  if (
    typeof holdMs !== "number" || !Number.isInteger(holdMs) || holdMs < 0 || holdMs > MAX_HOLD_MS
  ) {
    fail(`${at}.holdMs`, `must be an integer number of ms from 0 to ${MAX_HOLD_MS}`);
  }
  const out: Thresholds = { holdMs: holdMs as number };
  for (const level of ["warn", "critical"] as const) {
    if (raw[level] === undefined) continue;
    out[level] = bound(raw[level], `${at}.${level}`, fail);
  }
  if (!out.warn && !out.critical) fail(at, "has neither warn nor critical");
  const { warn, critical } = out;
  if (warn?.above !== undefined && critical?.above !== undefined && critical.above < warn.above) {
    fail(`${at}.critical.above`, `is below warn.above (${warn.above})`);
  }
  if (warn?.below !== undefined && critical?.below !== undefined && critical.below > warn.below) {
    fail(`${at}.critical.below`, `is above warn.below (${warn.below})`);
  }
  return out;
}

function bound(raw: unknown, at: string, fail: (key: string, reason: string) => never): Bound {
  if (!isObject(raw)) return fail(at, "must be an object with above and/or below");
  const out: Bound = {};
  for (const key of Object.keys(raw)) {
    if (key !== "above" && key !== "below") fail(`${at}.${key}`, "unknown key");
    const value = raw[key];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      fail(`${at}.${key}`, "must be a finite number");
    }
    out[key as "above" | "below"] = value as number;
  }
  if (out.above === undefined && out.below === undefined) fail(at, "has neither above nor below");
  if (out.above !== undefined && out.below !== undefined && out.below >= out.above) {
    fail(at, `below (${out.below}) is not under above (${out.above})`);
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
