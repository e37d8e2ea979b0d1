import type { TickChanges } from "../feed_view.ts";
import { grownCapacity } from "../capacity.ts";

export interface SparkPointsOptions {
  /** Points per sensor and metric; default 60. */
  points?: number;
  /** Event time per point; default 1000 ms (so 60 points cover the last minute). */
  bucketMs?: number;
}

/** One metric's rings: `points` Float32 slots per sensor, sensor-major. */
interface Arena {
  values: Float32Array;
  /** Slot of the newest point per sensor. */
  head: Uint16Array;
  /** Points held per sensor (≤ points). */
  filled: Uint16Array;
  /** Bucket number (timeMs / bucketMs) of the newest point; -Infinity when empty. */
  bucket: Float64Array;
}

/**
 * The last minute of every sensor's metrics, so a row entering a window can
 * bring its sparkline: per metric a ring of `points` one-second slots per
 * sensor in one Float32Array arena, the latest value in a bucket winning —
 * the same rule as the dashboard's `SparkRings` (web/src/lib/feed/spark_rings.ts),
 * so what a client draws from these points and from later deltas agrees.
 * Memory is fixed per sensor and metric (points × 4 + 12 bytes), whatever the
 * update rate. Fed from each tick's `TickChanges`. Pure.
 */
export class SparkPoints {
  readonly points: number;
  readonly bucketMs: number;
  capacity = 0;
  #arenas: (Arena | undefined)[] = [];

  constructor(options: SparkPointsOptions = {}) {
    this.points = options.points ?? 60;
    this.bucketMs = options.bucketMs ?? 1000;
    if (!Number.isInteger(this.points) || this.points < 1 || this.points > 0xffff) {
      throw new RangeError(`points ${this.points} is not an integer in 1..65535`);
    }
    if (!(this.bucketMs > 0)) throw new RangeError(`bucketMs ${this.bucketMs} is not positive`);
  }

  /**
   * Takes in one tick: removed sensors forget their points; each update's
   * last value is a point. `order`: the updates' indexes by sensor
   * (`UpdateOrder`), so the arenas are written in address order; without
   * it, in the updates' own order.
   */
  apply(changes: TickChanges | null, order?: Uint32Array): void {
    if (!changes) return;
    for (const sensor of changes.removed) this.clear(sensor);
    const u = changes.updates;
    // Grown once to the tick's highest sensor (a restart's first tick holds them all), not by doubling.
    let top = 0;
    for (let i = 0; i < u.length; i++) if (u.sensor[i] >= top) top = u.sensor[i] + 1;
    if (top > this.capacity) this.#grow(top);
    for (let k = 0; k < u.length; k++) {
      const i = order ? order[k] : k;
      this.push(u.sensor[i], u.metric[i], u.timeMs[i], u.last[i]);
    }
  }

  /** Records `value` at event time `timeMs`. Values older than the newest bucket are ignored. */
  push(sensor: number, metric: number, timeMs: number, value: number): void {
    if (!Number.isFinite(value)) return;
    if (sensor >= this.capacity) this.#grow(sensor + 1);
    const a = this.#arenas[metric] ?? this.#arena(metric);
    const bucket = Math.floor(timeMs / this.bucketMs);
    const newest = a.bucket[sensor];
    const base = sensor * this.points;
    if (bucket === newest) {
      a.values[base + a.head[sensor]] = value;
      return;
    }
    if (bucket < newest) return;
    const head = a.filled[sensor] === 0 ? 0 : (a.head[sensor] + 1) % this.points;
    a.head[sensor] = head;
    a.values[base + head] = value;
    if (a.filled[sensor] < this.points) a.filled[sensor]++;
    a.bucket[sensor] = bucket;
  }

  /** Copies the sensor's points for `metric`, oldest first, into `into` from `at`; returns how many. */
  read(sensor: number, metric: number, into: Float32Array, at = 0): number {
    const a = this.#arenas[metric];
    if (a === undefined || sensor >= this.capacity) return 0;
    const n = Math.min(a.filled[sensor], into.length - at);
    const base = sensor * this.points;
    const head = a.head[sensor];
    for (let i = 0; i < n; i++) {
      into[at + n - 1 - i] = a.values[base + ((head - i + this.points) % this.points)];
    }
    return n;
  }

  /** Start time of the newest point's bucket, or null with no points (so a client can place them). */
  newestMs(sensor: number, metric: number): number | null {
    const a = this.#arenas[metric];
    if (a === undefined || sensor >= this.capacity || a.filled[sensor] === 0) return null;
    return a.bucket[sensor] * this.bucketMs;
  }

  /** Metrics with points of `sensor`. */
  metricsOf(sensor: number): number[] {
    const out: number[] = [];
    if (sensor >= this.capacity) return out;
    this.#arenas.forEach((a, metric) => {
      if (a !== undefined && a.filled[sensor] > 0) out.push(metric);
    });
    return out;
  }

  clear(sensor: number): void {
    if (sensor >= this.capacity) return;
    for (const a of this.#arenas) {
      if (a === undefined) continue;
      a.filled[sensor] = 0;
      a.bucket[sensor] = -Infinity;
    }
  }

  get bytes(): number {
    let bytes = 0;
    for (const a of this.#arenas) {
      if (a) {
        bytes += a.values.byteLength + a.head.byteLength + a.filled.byteLength +
          a.bucket.byteLength;
      }
    }
    return bytes;
  }

  #arena(metric: number): Arena {
    const a: Arena = {
      values: new Float32Array(this.capacity * this.points),
      head: new Uint16Array(this.capacity),
      filled: new Uint16Array(this.capacity),
      bucket: new Float64Array(this.capacity).fill(-Infinity),
    };
    this.#arenas[metric] = a;
    return a;
  }

  #grow(needed: number): void {
    // In one step (a restart's first tick needs 100,000 at once).
    const capacity = grownCapacity(this.capacity, needed);
    for (const a of this.#arenas) {
      if (a === undefined) continue;
      const values = new Float32Array(capacity * this.points);
      values.set(a.values);
      a.values = values;
      const head = new Uint16Array(capacity);
      head.set(a.head);
      a.head = head;
      const filled = new Uint16Array(capacity);
      filled.set(a.filled);
      a.filled = filled;
      const bucket = new Float64Array(capacity).fill(-Infinity);
      bucket.set(a.bucket);
      a.bucket = bucket;
    }
    this.capacity = capacity;
  }
}
