/**
 * A rollup block: the final windows of one size, one span of
 * `WINDOWS_PER_CHUNK` windows and one bucket of sensors (a hash of the id,
 * `rollupBucket`), as columns in one value under Deno KV's 64 KiB: a JSON
 * part (the block's sensor ids and metric names), then per window its start,
 * count, sum, min and max (float64) and its sensor and metric (uint16
 * indexes into those lists). Time-major per bucket: one flush writes a
 * bucket's windows of a span together, however many sensors it holds, so
 * the writes do not grow with sensors × flushes.
 */
import { shardFor } from "../../actors/shards/mod.ts";

/** Buckets sensors are hashed into (a multiple of every shard count that divides it: bucket % shards is the shard). */
export const ROLLUP_BUCKETS = 1024;
/** A block's bytes stay under this (Deno KV values are capped at 64 KiB). */
export const BLOCK_BYTES = 56 * 1024;
/** Float64 columns: start, count, sum, min, max. */
const F = 5;
/** Bytes per window: five float64 and two uint16. */
const ROW_BYTES = F * 8 + 4;

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
  readonly #capacity: number;
  #ids: string[] = [];
  #idIndex = new Map<string, number>();
  #metrics: string[] = [];
  #metricIndex = new Map<string, number>();
  /** Bytes of the JSON part so far (estimated: quotes, commas, escapes aside). */
  #textBytes = 32;
  /** The sensor of the last window added, and its index. */
  #lastId: string | null = null;
  #lastS = 0;
  length = 0;

  constructor() {
    this.#capacity = Math.floor(BLOCK_BYTES / ROW_BYTES);
    this.#f = new Float64Array(this.#capacity * F);
    this.#sensor = new Uint16Array(this.#capacity);
    this.#metric = new Uint16Array(this.#capacity);
  }

  reset(): void {
    this.length = 0;
    this.#ids = [];
    this.#idIndex = new Map();
    this.#metrics = [];
    this.#metricIndex = new Map();
    this.#textBytes = 32;
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
    const rows = (this.length + 1) * ROW_BYTES;
    if (
      this.length > 0 &&
      (this.length === this.#capacity || this.#textBytes + more + rows + 16 > BLOCK_BYTES)
    ) return false;
    if (this.length === this.#capacity || this.#textBytes + more + rows + 16 > BLOCK_BYTES) {
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
    return true;
  }

  #findMetric(metric: string): number | undefined {
    const metrics = this.#metrics;
    for (let k = 0; k < metrics.length; k++) if (metrics[k] === metric) return k;
    return undefined;
  }

  /** The block's bytes. */
  encode(): Uint8Array {
    const n = this.length;
    const header = new TextEncoder().encode(
      JSON.stringify({ n, ids: this.#ids, metrics: this.#metrics }),
    );
    const start = align8(4 + header.byteLength);
    const bytes = new Uint8Array(start + n * ROW_BYTES);
    new DataView(bytes.buffer).setUint32(0, header.byteLength, true);
    bytes.set(header, 4);
    new Float64Array(bytes.buffer, start, n * F).set(this.#f.subarray(0, n * F));
    new Uint16Array(bytes.buffer, start + n * F * 8, n).set(this.#sensor.subarray(0, n));
    new Uint16Array(bytes.buffer, start + n * (F * 8 + 2), n).set(this.#metric.subarray(0, n));
    return bytes;
  }
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
    n: number;
    ids: string[];
    metrics: string[];
  };
  const s = header.ids.indexOf(query.sensorId);
  const m = header.metrics.indexOf(query.metric);
  if (s < 0 || m < 0) return;
  const n = header.n;
  const start = aligned.byteOffset + align8(4 + length);
  if (start - aligned.byteOffset + n * ROW_BYTES > aligned.byteLength) {
    throw new RangeError("Cannot read a rollup block: it is shorter than its header says");
  }
  const f = new Float64Array(aligned.buffer, start, n * F);
  const sensor = new Uint16Array(aligned.buffer, start + n * F * 8, n);
  const metric = new Uint16Array(aligned.buffer, start + n * (F * 8 + 2), n);
  for (let j = 0; j < n; j++) {
    if (sensor[j] !== s || metric[j] !== m) continue;
    const t = f[j * F];
    if (t < query.fromMs || t >= query.toMs) continue;
    visit({ t, count: f[j * F + 1], sum: f[j * F + 2], min: f[j * F + 3], max: f[j * F + 4] });
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
