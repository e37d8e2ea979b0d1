// Recent values of one metric for every sensor, for the table's sparklines:
// a fixed ring of `points` slots per sensor, one slot per `bucketMs` of event
// time (the latest value in a bucket wins). Memory is
// capacity × points × 4 bytes, whatever the update rate. Pure.

/** Empty buckets in a row from which a sparkline shows a break. */
export const GAP_BUCKETS = 5;

export interface SparkRingsOptions {
  /** Slots per sensor; default 60. */
  points?: number;
  /** Event time per slot; default 1000 ms (so 60 slots cover the last minute). */
  bucketMs?: number;
}

export class SparkRings {
  readonly points: number;
  readonly bucketMs: number;
  capacity = 0;
  /** points slots per sensor, sensor-major. Float32 is plenty for a line 16 px tall. */
  #values = new Float32Array(0);
  /** 1 where a value follows a silence of GAP_BUCKETS or more. */
  #gap = new Uint8Array(0);
  /** Slot index of the newest value per sensor. */
  #head = new Uint16Array(0);
  /** Filled slots per sensor (≤ points). */
  #filled = new Uint16Array(0);
  /** Bucket number (timeMs / bucketMs) of the newest value; -Infinity when empty. */
  #bucket = new Float64Array(0);

  constructor(options: SparkRingsOptions = {}) {
    this.points = options.points ?? 60;
    this.bucketMs = options.bucketMs ?? 1000;
  }

  grow(capacity: number): void {
    if (capacity <= this.capacity) return;
    const values = new Float32Array(capacity * this.points);
    values.set(this.#values);
    this.#values = values;
    const gap = new Uint8Array(capacity * this.points);
    gap.set(this.#gap);
    this.#gap = gap;
    const head = new Uint16Array(capacity);
    head.set(this.#head);
    this.#head = head;
    const filled = new Uint16Array(capacity);
    filled.set(this.#filled);
    this.#filled = filled;
    const bucket = new Float64Array(capacity).fill(-Infinity);
    bucket.set(this.#bucket);
    this.#bucket = bucket;
    this.capacity = capacity;
  }

  /** Records `value` at event time `timeMs`. Values older than the newest bucket are ignored. */
  push(sensor: number, timeMs: number, value: number): void {
    if (sensor >= this.capacity || !Number.isFinite(value)) return;
    const bucket = Math.floor(timeMs / this.bucketMs);
    const newest = this.#bucket[sensor];
    const base = sensor * this.points;
    if (bucket === newest) {
      this.#values[base + this.#head[sensor]] = value;
      return;
    }
    if (bucket < newest) return;
    const head = this.#filled[sensor] === 0 ? 0 : (this.#head[sensor] + 1) % this.points;
    // A silence of GAP_BUCKETS or more before this point (a reconnect, a device
    // that stopped) is marked, so the line breaks there instead of bridging it.
    this.#gap[base + head] = this.#filled[sensor] > 0 && bucket - newest - 1 >= GAP_BUCKETS ? 1 : 0;
    this.#head[sensor] = head;
    this.#values[base + head] = value;
    if (this.#filled[sensor] < this.points) this.#filled[sensor]++;
    this.#bucket[sensor] = bucket;
  }

  /**
   * Copies the sensor's values, oldest first, into `into`; returns how many.
   * With `gaps`, also marks (1) each value that follows a silence (a break).
   */
  read(sensor: number, into: Float32Array, gaps?: Uint8Array): number {
    if (sensor >= this.capacity) return 0;
    const n = Math.min(this.#filled[sensor], into.length);
    const base = sensor * this.points;
    const head = this.#head[sensor];
    for (let i = 0; i < n; i++) {
      const at = base + ((head - i + this.points) % this.points);
      into[n - 1 - i] = this.#values[at];
      if (gaps) gaps[n - 1 - i] = this.#gap[at];
    }
    return n;
  }

  /**
   * Replaces a sensor's points with `count` values (oldest first), the newest
   * in bucket `newestBucket` (time / bucketMs): a row entering a window
   * brings its last minute, and later values extend it as `push` does.
   */
  load(sensor: number, points: ArrayLike<number>, newestBucket: number): void {
    if (sensor >= this.capacity) return;
    const n = Math.min(points.length, this.points);
    this.#filled[sensor] = 0;
    this.#bucket[sensor] = -Infinity;
    if (n === 0) return;
    const base = sensor * this.points;
    const from = points.length - n;
    for (let i = 0; i < n; i++) {
      this.#values[base + i] = points[from + i];
      this.#gap[base + i] = 0;
    }
    this.#head[sensor] = n - 1;
    this.#filled[sensor] = n;
    this.#bucket[sensor] = newestBucket;
  }

  clear(sensor: number): void {
    if (sensor >= this.capacity) return;
    this.#filled[sensor] = 0;
    this.#bucket[sensor] = -Infinity;
  }
}
