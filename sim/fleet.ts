/**
 * A fleet of simulated sensors whose readings drift the way real ones do:
 * each metric is a mean-reverting random walk (Ornstein–Uhlenbeck) around a
 * per-sensor baseline, plus a slow daily swing and rare step changes. Pure and
 * seeded: the same seed gives the same readings.
 */

/** The metrics every simulated sensor reports, in value order. */
export const METRICS = ["temperature", "humidity", "pressure"] as const;

interface MetricModel {
  /** Typical level across the fleet and the spread of per-sensor baselines. */
  level: number;
  spread: number;
  /** Noise per sqrt(second) and pull back toward the baseline per second. */
  volatility: number;
  reversion: number;
  /** Amplitude of the daily swing. */
  daily: number;
  /** Physical limits and display precision. */
  min: number;
  max: number;
  decimals: number;
}

const MODELS: readonly MetricModel[] = [
  {
    level: 22,
    spread: 4,
    volatility: 0.15,
    reversion: 0.05,
    daily: 2.5,
    min: -40,
    max: 125,
    decimals: 2,
  },
  {
    level: 45,
    spread: 10,
    volatility: 0.6,
    reversion: 0.05,
    daily: 6,
    min: 0,
    max: 100,
    decimals: 1,
  },
  {
    level: 1013,
    spread: 6,
    volatility: 0.08,
    reversion: 0.02,
    daily: 1.2,
    min: 870,
    max: 1085,
    decimals: 1,
  },
];

const DAY_MS = 86_400_000;

/** mulberry32: small, fast, good enough for simulation. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FleetOptions {
  sensors: number;
  seed?: number;
  /** Plants (a, b, c, ...) and lines per plant that sensors are spread over. */
  plants?: number;
  linesPerPlant?: number;
}

export class Fleet {
  readonly size: number;
  readonly ids: readonly string[];
  readonly groups: readonly string[];
  readonly #random: () => number;
  /** Per sensor and metric: baseline, current deviation, daily phase. */
  readonly #baseline: Float64Array;
  readonly #deviation: Float64Array;
  readonly #phase: Float64Array;
  readonly #lastMs: Float64Array;

  constructor(options: FleetOptions) {
    const { sensors, seed = 1, plants = 4, linesPerPlant = 6 } = options;
    if (!Number.isInteger(sensors) || sensors < 1) {
      throw new RangeError("A fleet needs at least one sensor");
    }
    this.size = sensors;
    this.#random = seededRandom(seed);
    const m = METRICS.length;
    this.#baseline = new Float64Array(sensors * m);
    this.#deviation = new Float64Array(sensors * m);
    this.#phase = new Float64Array(sensors * m);
    this.#lastMs = new Float64Array(sensors).fill(NaN);
    const ids: string[] = [];
    const groups: string[] = [];
    for (let s = 0; s < sensors; s++) {
      ids.push(`sensor_${s}`);
      const plant = String.fromCharCode(97 + (s % plants));
      groups.push(`plant-${plant}/line-${1 + (Math.floor(s / plants) % linesPerPlant)}`);
      for (let k = 0; k < m; k++) {
        this.#baseline[s * m + k] = MODELS[k].level + (this.#random() * 2 - 1) * MODELS[k].spread;
        this.#phase[s * m + k] = this.#random() * 0.2; // sensors in one fleet swing nearly together
      }
    }
    this.ids = ids;
    this.groups = groups;
  }

  /** Baseline of `metric` (index into METRICS) for `sensor`. */
  baseline(sensor: number, metric: number): number {
    return this.#baseline[sensor * METRICS.length + metric];
  }

  /**
   * Advances `sensor` to `timeMs` and writes its readings into `out` (one per
   * metric, in METRICS order). Allocates nothing.
   */
  read(sensor: number, timeMs: number, out: Float64Array): void {
    const m = METRICS.length;
    const last = this.#lastMs[sensor];
    const dt = Number.isNaN(last) ? 1 : Math.min(Math.max((timeMs - last) / 1000, 0), 60);
    this.#lastMs[sensor] = timeMs;
    for (let k = 0; k < m; k++) {
      const model = MODELS[k];
      const i = sensor * m + k;
      // Exact OU step: deviation decays toward 0, plus Gaussian noise.
      const decay = Math.exp(-model.reversion * dt);
      const noise = model.volatility * Math.sqrt((1 - decay * decay) / (2 * model.reversion));
      let deviation = this.#deviation[i] * decay + noise * this.#gaussian();
      // Rare steps: a door opens, a pump starts.
      if (this.#random() < 0.0005 * dt) deviation += (this.#random() * 2 - 1) * model.spread;
      this.#deviation[i] = deviation;
      const daily = model.daily * Math.sin(2 * Math.PI * (timeMs / DAY_MS + this.#phase[i]));
      const value = Math.min(model.max, Math.max(model.min, this.#baseline[i] + daily + deviation));
      const scale = 10 ** model.decimals;
      out[k] = Math.round(value * scale) / scale;
    }
  }

  #gaussian(): number {
    // Box–Muller; 1 - u keeps log away from 0.
    const u = 1 - this.#random();
    const v = this.#random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
