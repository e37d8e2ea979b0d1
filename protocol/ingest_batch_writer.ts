import * as flatbuffers from "flatbuffers";
import { IngestBatch } from "./schema_generated.ts";

/** Most metrics one reading can carry: `metric_count` is a uint8 column. */
const MAX_METRICS_PER_READING = 255;

/**
 * Builds `IngestBatch` bodies column by column, for clients that post
 * readings (the simulator, the benchmark). Strings are interned per batch and
 * columns live in typed arrays that only grow, so adding a reading allocates
 * nothing once the writer has warmed up. One builder is reused for every
 * batch; `finish` copies the bytes out before the builder is cleared.
 */
export class IngestBatchWriter {
  readonly #builder: flatbuffers.Builder;
  readonly #index = new Map<string, number>();
  readonly #strings: string[] = [];
  #length = 0;
  #values = 0;
  #sensor = new Uint32Array(64);
  #group = new Uint32Array(64);
  #status = new Uint32Array(64);
  #timeMs = new Float64Array(64);
  #metricCount = new Uint8Array(64);
  #metric = new Uint32Array(256);
  #value = new Float64Array(256);
  /** Whether any reading has a non-empty group / status: if not, the column is left out. */
  #anyGroup = false;
  #anyStatus = false;

  /** `initialSize`: the builder's first buffer size in bytes (default 64 KiB); it grows as needed. */
  constructor(options: { initialSize?: number } = {}) {
    this.#builder = new flatbuffers.Builder(options.initialSize ?? 64 * 1024);
  }

  /** Readings added since the last `finish`. */
  get length(): number {
    return this.#length;
  }

  /** Metric values added since the last `finish`, over all readings. */
  get valueCount(): number {
    return this.#values;
  }

  /**
   * Adds one reading. `metricNames[k]` names `values[k]`; pass the same arrays
   * again and again (reusing a scratch array for values) to keep the hot path
   * free of allocation. `group` and `status` default to "" (default group, no
   * status).
   */
  add(
    sensorId: string,
    group: string,
    timeMs: number,
    metricNames: readonly string[],
    values: ArrayLike<number>,
    status = "",
  ): void {
    const m = metricNames.length;
    if (m !== values.length) {
      throw new RangeError(
        `Cannot add a reading: ${m} metric names for ${values.length} values`,
      );
    }
    if (m > MAX_METRICS_PER_READING) {
      throw new RangeError(
        `Cannot add a reading: ${m} metrics, more than ${MAX_METRICS_PER_READING}`,
      );
    }
    if (this.#length === this.#sensor.length) this.#growReadings();
    if (this.#values + m > this.#metric.length) this.#growValues(this.#values + m);
    const i = this.#length++;
    this.#sensor[i] = this.#intern(sensorId);
    this.#group[i] = this.#intern(group);
    this.#status[i] = this.#intern(status);
    this.#anyGroup ||= group !== "";
    this.#anyStatus ||= status !== "";
    this.#timeMs[i] = timeMs;
    this.#metricCount[i] = m;
    for (let k = 0; k < m; k++) {
      this.#metric[this.#values] = this.#intern(metricNames[k]);
      this.#value[this.#values++] = values[k];
    }
  }

  /**
   * Encodes the readings added so far as an `IngestBatch` (file identifier
   * "PLSB"), returns a copy of the bytes and starts the next batch empty.
   */
  finish(batchId?: string): Uint8Array<ArrayBuffer> {
    const b = this.#builder;
    const n = this.#length;
    const v = this.#values;
    b.clear();
    const id = batchId === undefined ? 0 : b.createString(batchId);
    const offsets = new Array<number>(this.#strings.length);
    for (let s = 0; s < offsets.length; s++) offsets[s] = b.createString(this.#strings[s]);
    const strings = IngestBatch.createStringsVector(b, offsets);
    const sensor = uint32Vector(b, this.#sensor, n);
    // A column of "" only says "default"/"none" for every reading; readers treat a missing one so.
    const group = this.#anyGroup ? uint32Vector(b, this.#group, n) : 0;
    const status = this.#anyStatus ? uint32Vector(b, this.#status, n) : 0;
    b.startVector(8, n, 8);
    for (let i = n - 1; i >= 0; i--) b.addFloat64(this.#timeMs[i]);
    const timeMs = b.endVector();
    b.startVector(1, n, 1);
    for (let i = n - 1; i >= 0; i--) b.addInt8(this.#metricCount[i]);
    const metricCount = b.endVector();
    const metric = uint32Vector(b, this.#metric, v);
    b.startVector(8, v, 8);
    for (let i = v - 1; i >= 0; i--) b.addFloat64(this.#value[i]);
    const value = b.endVector();

    IngestBatch.startIngestBatch(b);
    if (batchId !== undefined) IngestBatch.addBatchId(b, id);
    IngestBatch.addStrings(b, strings);
    IngestBatch.addSensor(b, sensor);
    if (group) IngestBatch.addGroup(b, group);
    if (status) IngestBatch.addStatus(b, status);
    IngestBatch.addTimeMs(b, timeMs);
    IngestBatch.addMetricCount(b, metricCount);
    IngestBatch.addMetric(b, metric);
    IngestBatch.addValue(b, value);
    b.finish(IngestBatch.endIngestBatch(b), "PLSB");
    // Copy out: the builder's buffer is overwritten by the next batch.
    const bytes = b.asUint8Array().slice();
    this.reset();
    return bytes;
  }

  /** Drops everything added since the last `finish`. */
  reset(): void {
    this.#length = 0;
    this.#values = 0;
    this.#strings.length = 0;
    this.#index.clear();
    this.#anyGroup = false;
    this.#anyStatus = false;
  }

  #intern(text: string): number {
    let index = this.#index.get(text);
    if (index === undefined) {
      index = this.#strings.push(text) - 1;
      this.#index.set(text, index);
    }
    return index;
  }

  #growReadings(): void {
    const size = this.#sensor.length * 2;
    this.#sensor = grow(this.#sensor, new Uint32Array(size));
    this.#group = grow(this.#group, new Uint32Array(size));
    this.#status = grow(this.#status, new Uint32Array(size));
    this.#timeMs = grow(this.#timeMs, new Float64Array(size));
    this.#metricCount = grow(this.#metricCount, new Uint8Array(size));
  }

  #growValues(needed: number): void {
    let size = this.#metric.length * 2;
    while (size < needed) size *= 2;
    this.#metric = grow(this.#metric, new Uint32Array(size));
    this.#value = grow(this.#value, new Float64Array(size));
  }
}

function grow<T extends Uint8Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Writes the first `n` entries of `column` as a [uint32] vector. */
function uint32Vector(b: flatbuffers.Builder, column: Uint32Array, n: number): number {
  b.startVector(4, n, 4);
  for (let i = n - 1; i >= 0; i--) b.addInt32(column[i]);
  return b.endVector();
}
