import type { TickChanges } from "../feed_view.ts";
import { grownCapacity } from "../capacity.ts";
import { POW10, scaledWithin } from "../../../protocol/number_columns.ts";

export interface SparkPointsOptions {
  /** Points per sensor and metric; default 60. */
  points?: number;
  /** Event time per point; default 1000 ms (so 60 points cover the last minute). */
  bucketMs?: number;
}

/** Sensors per page of a metric's points: one decimal scale per page. */
const PAGE_BITS = 10;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;
/** Largest decimal scale a narrow page takes. */
const MAX_DECIMALS = 4;
const INT16_MAX = 0x7fff;

/**
 * One metric's rings: `points` slots per sensor, sensor-major, in pages of
 * `PAGE` sensors. A page keeps its points as int16 integers k with
 * k / 10^d === value (one d ≤ 4 per page: readings usually have a fixed
 * resolution, e.g. 21.3), half the bytes of float32; the first
 * point that does not fit widens the page to float32 for good. Either way a
 * read gives the float32 of the value pushed.
 */
interface Arena {
  /** Per page: its points as scaled integers (null once wide)... */
  narrow: (Int16Array | null)[];
  /** ...or as float32 (null while narrow). */
  wide: (Float32Array | null)[];
  /** Per page: 10^d of its narrow points; 0 before its first point, and once wide. */
  scale: number[];
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
 * sensor (see `Arena`), the latest value in a bucket winning — the same rule
 * as the dashboard's `SparkRings` (web/src/lib/feed/spark_rings.ts), so what
 * a client draws from these points and from later deltas agrees. Memory is
 * fixed per sensor and metric (points × 2 + 12 bytes with one or two
 * decimals, points × 4 + 12 otherwise), whatever the update rate. Fed from
 * each tick's `TickChanges`. Pure.
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
   * Takes in one tick: removed (and restarted) sensors forget their points; each update's
   * last value is a point. `order`: the updates' indexes by sensor
   * (`UpdateOrder`), so the arenas are written in address order; without
   * it, in the updates' own order.
   */
  apply(changes: TickChanges | null, order?: Uint32Array): void {
    if (!changes) return;
    for (const sensor of changes.removed) this.clear(sensor);
    for (const sensor of changes.restarted) this.clear(sensor);
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
    let head: number;
    if (bucket === newest) head = a.head[sensor];
    else {
      if (bucket < newest) return;
      head = a.filled[sensor] === 0 ? 0 : (a.head[sensor] + 1) % this.points;
      a.head[sensor] = head;
      if (a.filled[sensor] < this.points) a.filled[sensor]++;
      a.bucket[sensor] = bucket;
    }
    const page = sensor >>> PAGE_BITS;
    const at = (sensor & MASK) * this.points + head;
    const narrow = a.narrow[page];
    if (narrow === null) {
      a.wide[page]![at] = value;
      return;
    }
    // Exactly k / 10^d (a reading of a few decimals): read back, it is the value (a page
    // not written yet has scale 0: no k, so `#fit` picks its scale).
    const k = scaledWithin(value, a.scale[page], INT16_MAX);
    if (k === k) narrow[at] = k;
    else this.#fit(a, page, at, value);
  }

  /**
   * A point its page's scale cannot keep: a page not written yet takes the
   * fewest decimals that keep it; a page with points takes more decimals
   * when that keeps it and them, or widens to float32.
   */
  #fit(a: Arena, page: number, at: number, value: number): void {
    const narrow = a.narrow[page]!;
    const scale = a.scale[page];
    for (let d = scale === 0 ? 0 : POW10.indexOf(scale) + 1; d <= MAX_DECIMALS; d++) {
      const k = scaledWithin(value, POW10[d], INT16_MAX);
      if (k !== k) continue;
      if (scale !== 0) {
        // Rare (a page meets more decimals than it had): every point of the page.
        const factor = POW10[d] / scale;
        const least = Math.ceil(-INT16_MAX / factor), most = Math.floor(INT16_MAX / factor);
        if (!this.#pageWithin(a, page, least, most)) break;
        this.#scalePage(a, page, (k) => k * factor, narrow);
      }
      a.scale[page] = POW10[d];
      narrow[at] = k;
      return;
    }
    const wide = new Float32Array(narrow.length);
    if (scale !== 0) this.#scalePage(a, page, (k) => k / scale, wide);
    wide[at] = value;
    a.wide[page] = wide;
    a.narrow[page] = null;
    a.scale[page] = 0;
  }

  /**
   * Whether every point of a narrow page is within least..most. Only the
   * slots written are read (a sensor's first `filled`; the rest are 0):
   * over a whole page of 61,440 slots, the ~300 of these a restart's first
   * tick meets (a page's first point had fewer decimals than the next) took
   * ~75 ms in loops run too rarely to be optimised.
   */
  #pageWithin(a: Arena, page: number, least: number, most: number): boolean {
    const narrow = a.narrow[page]!;
    const first = page << PAGE_BITS, end = Math.min(first + PAGE, this.capacity);
    for (let sensor = first; sensor < end; sensor++) {
      const base = (sensor & MASK) * this.points;
      for (let i = base, last = base + a.filled[sensor]; i < last; i++) {
        if (narrow[i] < least || narrow[i] > most) return false;
      }
    }
    return true;
  }

  /** Writes `into` the page's written points mapped by `to` (slots not written stay 0, as 0 maps to 0). */
  #scalePage(a: Arena, page: number, to: (k: number) => number, into: Int16Array | Float32Array) {
    const narrow = a.narrow[page]!;
    const first = page << PAGE_BITS, end = Math.min(first + PAGE, this.capacity);
    for (let sensor = first; sensor < end; sensor++) {
      const base = (sensor & MASK) * this.points;
      for (let i = base, last = base + a.filled[sensor]; i < last; i++) into[i] = to(narrow[i]);
    }
  }

  /** Copies the sensor's points for `metric`, oldest first, into `into` from `at`; returns how many. */
  read(sensor: number, metric: number, into: Float32Array, at = 0): number {
    const a = this.#arenas[metric];
    if (a === undefined || sensor >= this.capacity) return 0;
    const n = Math.min(a.filled[sensor], into.length - at);
    const page = sensor >>> PAGE_BITS;
    const base = (sensor & MASK) * this.points;
    const head = a.head[sensor];
    const narrow = a.narrow[page];
    if (narrow !== null) {
      const scale = a.scale[page];
      for (let i = 0; i < n; i++) {
        into[at + n - 1 - i] = narrow[base + ((head - i + this.points) % this.points)] / scale;
      }
      return n;
    }
    const wide = a.wide[page]!;
    for (let i = 0; i < n; i++) {
      into[at + n - 1 - i] = wide[base + ((head - i + this.points) % this.points)];
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
    const page = sensor >>> PAGE_BITS;
    const base = (sensor & MASK) * this.points;
    for (const a of this.#arenas) {
      if (a === undefined) continue;
      a.filled[sensor] = 0;
      a.bucket[sensor] = -Infinity;
      // Zeroed, so points no longer read cannot stop the page taking more decimals.
      a.narrow[page]?.fill(0, base, base + this.points);
    }
  }

  get bytes(): number {
    let bytes = 0;
    for (const a of this.#arenas) {
      if (a === undefined) continue;
      for (let p = 0; p < a.narrow.length; p++) {
        bytes += a.narrow[p]?.byteLength ?? a.wide[p]!.byteLength;
      }
      bytes += a.head.byteLength + a.filled.byteLength + a.bucket.byteLength;
    }
    return bytes;
  }

  #arena(metric: number): Arena {
    const a: Arena = {
      narrow: [],
      wide: [],
      scale: [],
      head: new Uint16Array(this.capacity),
      filled: new Uint16Array(this.capacity),
      bucket: new Float64Array(this.capacity).fill(-Infinity),
    };
    this.#addPages(a);
    this.#arenas[metric] = a;
    return a;
  }

  /** Pages up to the capacity: the ones there stay as they are (nothing copied). */
  #addPages(a: Arena): void {
    const pages = (this.capacity + MASK) >>> PAGE_BITS;
    while (a.narrow.length < pages) {
      a.narrow.push(new Int16Array(PAGE * this.points));
      a.wide.push(null);
      a.scale.push(0);
    }
  }

  #grow(needed: number): void {
    // In one step (a restart's first tick needs 100,000 at once).
    const capacity = grownCapacity(this.capacity, needed);
    for (const a of this.#arenas) {
      if (a === undefined) continue;
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
    for (const a of this.#arenas) if (a !== undefined) this.#addPages(a);
  }
}
