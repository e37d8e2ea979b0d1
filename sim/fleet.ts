/**
 * A fleet of simulated sensors whose readings drift the way real ones do:
 * each metric is a mean-reverting random walk (Ornstein–Uhlenbeck) around a
 * per-sensor baseline, plus a slow daily swing, rare step changes that fade
 * over an hour, and rare one-reading spikes. Pure and seeded: the same seed
 * gives the same readings, and time is passed in.
 */

/** The metrics every simulated sensor reports, in value order. */
export const METRICS: readonly string[] = Object.freeze(["temperature", "humidity", "pressure"]);

/** Statuses `Fleet.read` returns: "warn" marks a reading that holds a spike. */
export const STATUSES = Object.freeze(["ok", "warn"] as const);
export type Status = typeof STATUSES[number];

export interface MetricModel {
  /** Typical level across the fleet and the spread of per-sensor baselines. */
  readonly level: number;
  readonly spread: number;
  /** OU noise per √second, and the pull back toward the baseline per second. */
  readonly volatility: number;
  readonly reversion: number;
  /** Amplitude of the daily swing. */
  readonly daily: number;
  /** Size of a spike (a glitch on one reading). */
  readonly spike: number;
  /** Physical limits, and the resolution values are rounded to. */
  readonly min: number;
  readonly max: number;
  readonly step: number;
}

/** Per metric, in METRICS order: °C, % relative humidity, hPa. */
export const MODELS: readonly MetricModel[] = Object.freeze([
  {
    level: 22,
    spread: 4,
    volatility: 0.15,
    reversion: 0.05,
    daily: 2.5,
    spike: 15,
    min: -40,
    max: 125,
    step: 0.1,
  },
  {
    level: 45,
    spread: 10,
    volatility: 0.6,
    reversion: 0.05,
    daily: 6,
    spike: 25,
    min: 0,
    max: 100,
    step: 0.1,
  },
  {
    level: 1013,
    spread: 6,
    volatility: 0.08,
    reversion: 0.02,
    daily: 1.2,
    spike: 20,
    min: 870,
    max: 1085,
    step: 0.1,
  },
]);

/** A step change fades with this time constant (a door left open, a pump swapped). */
const SHIFT_FADE_S = 3600;

/** mulberry32: small, fast, good enough for simulation. Returns [0, 1). */
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
  /** Default 1. */
  seed?: number;
  /** Plants (plant-a, plant-b, ...) and lines per plant the sensors are spread over. Default 4 and 6. */
  plants?: number;
  linesPerPlant?: number;
  /** Period of the daily swing in ms. Default one day; shorten it to see the swing in a demo. */
  dayMs?: number;
  /** Scale of the daily swing: 1 (default) as modelled, 0 for none. */
  swing?: number;
  /** Step changes per sensor-metric per hour. Default 1. */
  stepsPerHour?: number;
  /** Chance that a reading carries a spike. Default 1 in 20,000. */
  spikeChance?: number;
}

export class Fleet {
  readonly size: number;
  readonly ids: readonly string[];
  readonly groups: readonly string[];
  readonly #random: () => number;
  readonly #dayMs: number;
  readonly #swing: number;
  readonly #stepRate: number;
  readonly #spikeChance: number;
  /** Per sensor and metric (index sensor * METRICS.length + metric). */
  readonly #baseline: Float64Array;
  readonly #deviation: Float64Array;
  readonly #shift: Float64Array;
  readonly #phase: Float64Array;
  /** Per sensor: time of its previous reading (NaN before the first). */
  readonly #lastMs: Float64Array;
  /** Report order: a seeded permutation walked round and round. */
  readonly #order: Uint32Array;
  #cursor = 0;

  constructor(options: FleetOptions) {
    const { sensors, seed = 1, plants = 4, linesPerPlant = 6 } = options;
    if (!Number.isInteger(sensors) || sensors < 1) {
      throw new RangeError("A fleet needs at least one sensor");
    }
    if (!(plants >= 1 && plants <= 26 && linesPerPlant >= 1)) {
      throw new RangeError("A fleet needs 1 to 26 plants and at least one line per plant");
    }
    this.size = sensors;
    this.#random = seededRandom(seed);
    this.#dayMs = options.dayMs ?? 86_400_000;
    this.#swing = options.swing ?? 1;
    this.#stepRate = (options.stepsPerHour ?? 1) / 3600;
    this.#spikeChance = options.spikeChance ?? 1 / 20_000;
    const m = METRICS.length;
    this.#baseline = new Float64Array(sensors * m);
    this.#deviation = new Float64Array(sensors * m);
    this.#shift = new Float64Array(sensors * m);
    this.#phase = new Float64Array(sensors * m);
    this.#lastMs = new Float64Array(sensors).fill(NaN);
    const ids: string[] = [];
    const groups: string[] = [];
    for (let s = 0; s < sensors; s++) {
      ids.push(`sensor_${s}`);
      const plant = String.fromCharCode(97 + (s % plants));
      groups.push(`plant-${plant}/line-${1 + (Math.floor(s / plants) % linesPerPlant)}`);
      for (let k = 0; k < m; k++) {
        const model = MODELS[k];
        const i = s * m + k;
        this.#baseline[i] = model.level + (this.#random() * 2 - 1) * model.spread;
        // Start in the walk's stationary spread, so the fleet does not begin flat on its baselines.
        this.#deviation[i] = (model.volatility / Math.sqrt(2 * model.reversion)) * this.#gaussian();
        this.#phase[i] = this.#random() * 0.1; // sensors of one fleet swing nearly together
      }
    }
    this.ids = ids;
    this.groups = groups;
    // Fisher–Yates: neighbours in the order are from unrelated sensors and groups.
    this.#order = new Uint32Array(sensors);
    for (let s = 0; s < sensors; s++) this.#order[s] = s;
    for (let s = sensors - 1; s > 0; s--) {
      const j = Math.floor(this.#random() * (s + 1));
      const t = this.#order[s];
      this.#order[s] = this.#order[j];
      this.#order[j] = t;
    }
  }

  /** Baseline of `metric` (index into METRICS) for `sensor`. */
  baseline(sensor: number, metric: number): number {
    return this.#baseline[sensor * METRICS.length + metric];
  }

  /**
   * The sensor that reports next. Every sensor comes once per round of
   * `size` calls, evenly spaced, so each gets rate / size of the rate.
   */
  nextSensor(): number {
    const sensor = this.#order[this.#cursor];
    this.#cursor = this.#cursor + 1 === this.size ? 0 : this.#cursor + 1;
    return sensor;
  }

  /**
   * Advances `sensor` to `timeMs`, writes its readings into `out` (one per
   * metric, in METRICS order) and returns the reading's status. Allocates
   * nothing.
   */
  read(sensor: number, timeMs: number, out: Float64Array): Status {
    const m = METRICS.length;
    const last = this.#lastMs[sensor];
    // Clamp dt: a clock step back must not run the walk backwards, a long pause not jump far.
    const dt = Number.isNaN(last) ? 1 : Math.min(Math.max((timeMs - last) / 1000, 0), 3600);
    this.#lastMs[sensor] = timeMs;
    const spiked = this.#random() < this.#spikeChance;
    const spikeMetric = spiked ? Math.floor(this.#random() * m) : -1;
    const shiftDecay = Math.exp(-dt / SHIFT_FADE_S);
    for (let k = 0; k < m; k++) {
      const model = MODELS[k];
      const i = sensor * m + k;
      // Exact OU transition over dt: the deviation decays toward 0 and gains Gaussian noise.
      const decay = Math.exp(-model.reversion * dt);
      const noise = model.volatility * Math.sqrt((1 - decay * decay) / (2 * model.reversion));
      this.#deviation[i] = this.#deviation[i] * decay + noise * this.#gaussian();
      let shift = this.#shift[i] * shiftDecay;
      if (this.#random() < this.#stepRate * dt) {
        shift += (this.#random() < 0.5 ? -1 : 1) * (0.5 + this.#random() * 0.5) * model.spread;
      }
      this.#shift[i] = shift;
      const daily = this.#swing * model.daily *
        Math.sin(2 * Math.PI * (timeMs / this.#dayMs + this.#phase[i]));
      let value = this.#baseline[i] + daily + this.#deviation[i] + shift;
      if (k === spikeMetric) value += (this.#random() < 0.5 ? -1 : 1) * model.spike;
      value = Math.min(model.max, Math.max(model.min, value));
      // Round to the sensor's resolution; divide by the inverse so 21.3 prints as 21.3.
      const inverse = Math.round(1 / model.step);
      out[k] = Math.round(value * inverse) / inverse;
    }
    return spiked ? "warn" : "ok";
  }

  #gaussian(): number {
    // Box–Muller; 1 - u keeps log away from 0.
    const u = 1 - this.#random();
    const v = this.#random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
