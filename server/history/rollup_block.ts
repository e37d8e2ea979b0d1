/**
 * A rollup block: the final windows of one size, one span of
 * `WINDOWS_PER_CHUNK` windows and one bucket of sensors (a hash of the id,
 * `rollupBucket`), as columns in one value under Deno KV's 64 KiB. Time-major
 * per bucket: one flush writes a bucket's windows of a span together, however
 * many sensors it holds, so the writes do not grow with sensors × flushes.
 *
 * Layout (version 2): a uint32 length and a JSON part (`v`, the window
 * count `n`, the count `full` of full windows, the block's sensor ids and
 * metric names), then, 8-aligned, per window its start and sum (float64),
 * then per full window its count, min and max (float64), then per window its
 * sensor and metric (uint16 indexes into those lists) and a kind byte (1:
 * full). A window of one reading (count 1, min and max equal to the sum) is
 * not full: it is stored as its start and value only, 21 bytes instead of 45
 * (most 1 s windows of a large fleet hold one reading). Version 1 (no `v`:
 * start, count, sum, min and max of every window, then sensor and metric) is
 * still read.
 */
import { shardFor } from "../../actors/shards/mod.ts";

/** Buckets sensors are hashed into (a multiple of every shard count that divides it: bucket % shards is the shard). */
export const ROLLUP_BUCKETS = 1024;
/** A block's bytes stay under this (Deno KV values are capped at 64 KiB). */
export const BLOCK_BYTES = 56 * 1024;
/** Float64 numbers per window given to `add`: start, count, sum, min, max. */
const F = 5;
/** Bytes of a window of one reading: start and sum, sensor and metric, kind. */
const SINGLE_BYTES = 2 * 8 + 2 * 2 + 1;
/** Bytes of a full window: also its count, min and max. */
const FULL_BYTES = SINGLE_BYTES + 3 * 8;
/** Bytes per window in a version 1 block: five float64 and two uint16. */
const V1_ROW_BYTES = F * 8 + 4;

export function rollupBucket(sensorId: string): number {
  return shardFor(sensorId, ROLLUP_BUCKETS);
}

/** One window read back from a block. */
export interface BlockWindow {
  t: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Gathers windows into a block until it is full (`add` returns false: encode
 * it, `reset`, add again). Reused across blocks: it allocates only when encoding.
 */
export class BlockBuilder {
  readonly #f: Float64Array;
  readonly #sensor: Uint16Array;
  readonly #metric: Uint16Array;
  readonly #full: Uint8Array;
  readonly #capacity: number;
  /** Full windows so far. */
  #fullCount = 0;
  #ids: string[] = [];
  #idIndex = new Map<string, number>();
  #metrics: string[] = [];
  #metricIndex = new Map<string, number>();
  /** Bytes of the JSON part so far (estimated: quotes, commas, escapes aside). */
  #textBytes = 64;
  /** The sensor of the last window added, and its index. */
  #lastId: string | null = null;
  #lastS = 0;
  length = 0;

  constructor() {
    this.#capacity = Math.floor(BLOCK_BYTES / SINGLE_BYTES);
    this.#f = new Float64Array(this.#capacity * F);
    this.#sensor = new Uint16Array(this.#capacity);
    this.#metric = new Uint16Array(this.#capacity);
    this.#full = new Uint8Array(this.#capacity);
  }

  reset(): void {
    this.length = 0;
    this.#fullCount = 0;
    this.#ids = [];
    this.#idIndex = new Map();
    this.#metrics = [];
    this.#metricIndex = new Map();
    this.#textBytes = 64;
    this.#lastId = null;
  }

  /** Adds a window (`f[at..at+5)`: start, count, sum, min, max); false when it does not fit. */
  add(sensorId: string, metric: string, f: Float64Array, at: number): boolean {
    // A sensor's windows come together, and a block holds few metrics: skip the maps then.
    let s = sensorId === this.#lastId ? this.#lastS : this.#idIndex.get(sensorId);
    let m = this.#metrics.length <= 8 ? this.#findMetric(metric) : this.#metricIndex.get(metric);
    // UTF-16 length × 3 bounds the UTF-8 bytes (and JSON escapes) of any string.
    const more = (s === undefined ? sensorId.length * 3 + 3 : 0) +
      (m === undefined ? metric.length * 3 + 3 : 0);
    const full = isFull(f, at) ? 1 : 0;
    const rows = (this.length + 1) * SINGLE_BYTES +
      (this.#fullCount + full) * (FULL_BYTES - SINGLE_BYTES);
    // 16: the length word and alignment (the JSON part's fixed text is in #textBytes).
    const fits = this.length < this.#capacity && this.#textBytes + more + rows + 16 <= BLOCK_BYTES;
    if (!fits && this.length > 0) return false;
    if (!fits) {
      throw new RangeError(`Cannot store a rollup of sensor ${sensorId.slice(0, 64)}…: too long`);
    }
    this.#textBytes += more;
    if (s === undefined) this.#idIndex.set(sensorId, s = this.#ids.push(sensorId) - 1);
    if (m === undefined) this.#metricIndex.set(metric, m = this.#metrics.push(metric) - 1);
    this.#lastId = sensorId;
    this.#lastS = s;
    const j = this.length++;
    for (let k = 0; k < F; k++) this.#f[j * F + k] = f[at + k];
    this.#sensor[j] = s;
    this.#metric[j] = m;
    this.#full[j] = full;
    this.#fullCount += full;
    return true;
  }

  #findMetric(metric: string): number | undefined {
    const metrics = this.#metrics;
    for (let k = 0; k < metrics.length; k++) if (metrics[k] === metric) return k;
    return undefined;
  }

  /** The block's bytes (version 2), in a buffer of their own. */
  encode(): Uint8Array {
    const room = new Uint8Array(BLOCK_BYTES);
    return room.slice(0, this.encodeInto(room, 0));
  }

  /**
   * Writes the block's bytes (version 2) into `target` from `at` (a multiple
   * of 8, with `BLOCK_BYTES` of room) and returns how many: a flush encodes
   * its blocks into one buffer reused from commit to commit (Deno KV copies a
   * value's bytes when the commit is made) rather than a new buffer each.
   */
  encodeInto(target: Uint8Array, at: number): number {
    if (at % 8 !== 0 || target.byteOffset % 8 !== 0 || at + BLOCK_BYTES > target.byteLength) {
      throw new RangeError(`Cannot encode a rollup block at ${at}: not 8-aligned or no room`);
    }
    const n = this.length, full = this.#fullCount;
    const json = JSON.stringify({ v: 2, n, full, ids: this.#ids, metrics: this.#metrics });
    const { read, written } = encoder.encodeInto(json, target.subarray(at + 4, at + BLOCK_BYTES));
    if (read !== json.length) throw new RangeError("A rollup block's names are too long");
    const start = align8(4 + written);
    const numbers = (2 * n + 3 * full) * 8;
    const length = start + numbers + n * 5;
    if (length > BLOCK_BYTES) throw new RangeError(`A rollup block of ${length} bytes is too long`);
    const base = target.byteOffset + at;
    new DataView(target.buffer, base, 4).setUint32(0, written, true);
    const starts = new Float64Array(target.buffer, base + start, n);
    const sums = new Float64Array(target.buffer, base + start + n * 8, n);
    const rest = new Float64Array(target.buffer, base + start + n * 16, 3 * full);
    const f = this.#f;
    for (let j = 0, k = 0; j < n; j++) {
      starts[j] = f[j * F];
      sums[j] = f[j * F + 2];
      if (this.#full[j] === 0) continue;
      rest[k] = f[j * F + 1];
      rest[full + k] = f[j * F + 3];
      rest[2 * full + k] = f[j * F + 4];
      k++;
    }
    const tail = base + start + numbers;
    new Uint16Array(target.buffer, tail, n).set(this.#sensor.subarray(0, n));
    new Uint16Array(target.buffer, tail + n * 2, n).set(this.#metric.subarray(0, n));
    target.set(this.#full.subarray(0, n), at + start + numbers + n * 4);
    // The pad between the JSON part and the numbers, zeroed: a reused buffer holds old bytes.
    target.fill(0, at + 4 + written, at + start);
    return length;
  }
}

const encoder = new TextEncoder();

/** Whether a window (`f[at..at+5)`) needs its count, min and max stored: not one reading's. */
function isFull(f: Float64Array, at: number): boolean {
  const sum = f[at + 2];
  return !(f[at + 1] === 1 && Object.is(f[at + 3], sum) && Object.is(f[at + 4], sum));
}

/** The windows of one sensor's metric in a block with starts in [fromMs, toMs), visited in block order. */
export function readBlock(
  bytes: Uint8Array,
  query: { sensorId: string; metric: string; fromMs: number; toMs: number },
  visit: (w: BlockWindow) => void,
): void {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const length = new DataView(aligned.buffer, aligned.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(aligned.subarray(4, 4 + length))) as {
    v?: number;
    n: number;
    full?: number;
    ids: string[];
    metrics: string[];
  };
  const s = header.ids.indexOf(query.sensorId);
  const m = header.metrics.indexOf(query.metric);
  if (s < 0 || m < 0) return;
  const n = header.n;
  const start = aligned.byteOffset + align8(4 + length);
  const short = () =>
    new RangeError("Cannot read a rollup block: it is shorter than its header says");
  if (header.v === undefined) {
    if (start - aligned.byteOffset + n * V1_ROW_BYTES > aligned.byteLength) throw short();
    const f = new Float64Array(aligned.buffer, start, n * F);
    const sensor = new Uint16Array(aligned.buffer, start + n * F * 8, n);
    const metric = new Uint16Array(aligned.buffer, start + n * (F * 8 + 2), n);
    for (let j = 0; j < n; j++) {
      if (sensor[j] !== s || metric[j] !== m) continue;
      const t = f[j * F];
      if (t < query.fromMs || t >= query.toMs) continue;
      visit({ t, count: f[j * F + 1], sum: f[j * F + 2], min: f[j * F + 3], max: f[j * F + 4] });
    }
    return;
  }
  if (header.v !== 2) throw new RangeError(`Cannot read a rollup block of version ${header.v}`);
  const full = header.full ?? 0;
  const numbers = (2 * n + 3 * full) * 8;
  if (start - aligned.byteOffset + numbers + n * 5 > aligned.byteLength) throw short();
  const starts = new Float64Array(aligned.buffer, start, n);
  const sums = new Float64Array(aligned.buffer, start + n * 8, n);
  const rest = new Float64Array(aligned.buffer, start + n * 16, 3 * full);
  const tail = start + numbers;
  const sensor = new Uint16Array(aligned.buffer, tail, n);
  const metric = new Uint16Array(aligned.buffer, tail + n * 2, n);
  const kind = new Uint8Array(aligned.buffer, tail + n * 4, n);
  for (let j = 0, k = 0; j < n; j++) {
    const isFull = kind[j] === 1;
    if (sensor[j] === s && metric[j] === m) {
      const t = starts[j];
      if (t >= query.fromMs && t < query.toMs) {
        const sum = sums[j];
        visit(
          isFull
            ? { t, count: rest[k], sum, min: rest[full + k], max: rest[2 * full + k] }
            : { t, count: 1, sum, min: sum, max: sum },
        );
      }
    }
    if (isFull) k++;
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
