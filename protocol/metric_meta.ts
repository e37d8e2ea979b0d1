// What a metric means to a person: its name, unit, the precision it is
// measured to, and the thresholds that call for attention. The server loads it
// (`--metrics-config`), the shards judge readings by its thresholds, and the
// dashboard formats every number by it (GET /api/metrics).

/** A bound that is crossed going above `above` or below `below` (either or both). */
export interface Bound {
  above?: number;
  below?: number;
}

/**
 * When a metric's value needs attention: `warn` and `critical` bounds, and
 * how long (in event time) a value must stay past one before the level is
 * raised, so a single spike does not flap. Dropping back is at once.
 */
export interface Thresholds {
  warn?: Bound;
  critical?: Bound;
  holdMs: number;
}

export interface MetricMeta {
  /** Display name, e.g. "Temperature". */
  name: string;
  /** Unit as shown after a value, e.g. "°C"; "" for none. */
  unit: string;
  /** The step a value is measured to, e.g. 0.1; values are shown rounded to it. */
  precision: number;
  thresholds?: Thresholds;
}

/** Metric name (as readings carry it) → its metadata. */
export type MetricsMeta = Record<string, MetricMeta>;

/**
 * The demo's metrics (the simulator's temperature, humidity and pressure).
 * Warn bounds sit about two spreads from the simulator's level, critical
 * ones about three: its spikes (15 °C, 25 %RH, 20 hPa) cross them, but last
 * one reading, shorter than the hold.
 */
export const DEFAULT_METRICS: MetricsMeta = Object.freeze({
  temperature: {
    name: "Temperature",
    unit: "°C",
    precision: 0.1,
    thresholds: { warn: { above: 30, below: 10 }, critical: { above: 35, below: 5 }, holdMs: 2000 },
  },
  humidity: {
    name: "Humidity",
    unit: "%RH",
    precision: 0.1,
    thresholds: {
      warn: { above: 70, below: 20 },
      critical: { above: 85, below: 10 },
      holdMs: 2000,
    },
  },
  pressure: {
    name: "Pressure",
    unit: "hPa",
    precision: 0.1,
    thresholds: {
      warn: { above: 1025, below: 1000 },
      critical: { above: 1032, below: 994 },
      holdMs: 2000,
    },
  },
});

/** Decimals that show a value to `precision` (0.1 → 1, 0.25 → 2, 5 → 0). */
export function decimalsOf(precision: number): number {
  if (!(precision > 0) || !Number.isFinite(precision)) return 2;
  for (let d = 0; d <= 6; d++) {
    const scaled = precision * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, scaled)) return d;
  }
  return 6;
}
