// The hub mirror's latest value of each (sensor, metric), one record per
// slot. An update writes last, avg, min, max and time together, and reads the
// first four just before (the compact delta's bases). Kept as five columns,
// that was five cache lines in five places per update, at random slots;
// interleaved, it is one or two.
import { allocateStates } from "../../protocol/columns.ts";
import type { MetricStates } from "../../protocol/columns.ts";
import type { MetricField } from "./views/view_spec.ts";

/** Fields per record in `data`: last, avg, min, max, timeMs. */
const STRIDE = 5;
const LAST = 0, AVG = 1, MIN = 2, MAX = 3, TIME = 4;

/**
 * A slot's sensor and metric (written when the slot is taken or moved into,
 * in their own columns: an update does not touch them) and its state,
 * interleaved. Read it through the accessors; `data`'s layout is this
 * file's alone.
 */
export class ValueRecords {
  /** Slots it holds; grown by `grow` only. */
  capacity: number;
  sensorOf: Uint32Array;
  metricOf: Uint16Array;
  /** Per slot `STRIDE` doubles: last, avg, min, max, timeMs. */
  data: Float64Array;

  constructor(capacity = 1024) {
    this.capacity = capacity;
    this.sensorOf = new Uint32Array(capacity);
    this.metricOf = new Uint16Array(capacity);
    this.data = new Float64Array(capacity * STRIDE);
  }

  sensor(slot: number): number {
    return this.sensorOf[slot];
  }

  metric(slot: number): number {
    return this.metricOf[slot];
  }

  last(slot: number): number {
    return this.data[slot * STRIDE + LAST];
  }

  avg(slot: number): number {
    return this.data[slot * STRIDE + AVG];
  }

  min(slot: number): number {
    return this.data[slot * STRIDE + MIN];
  }

  max(slot: number): number {
    return this.data[slot * STRIDE + MAX];
  }

  timeMs(slot: number): number {
    return this.data[slot * STRIDE + TIME];
  }

  /** One of the fields a view sorts by. */
  field(slot: number, field: MetricField): number {
    switch (field) {
      case "last":
        return this.data[slot * STRIDE + LAST];
      case "avg":
        return this.data[slot * STRIDE + AVG];
      case "min":
        return this.data[slot * STRIDE + MIN];
      case "max":
        return this.data[slot * STRIDE + MAX];
    }
  }

  /** Names the slot's sensor and metric (a slot taken, or moved into). */
  own(slot: number, sensor: number, metric: number): void {
    this.sensorOf[slot] = sensor;
    this.metricOf[slot] = metric;
  }

  /** Writes the slot's state from entry `i` of `from`. */
  store(slot: number, from: MetricStates, i: number): void {
    const d = this.data, at = slot * STRIDE;
    d[at + LAST] = from.last[i];
    d[at + AVG] = from.avg[i];
    d[at + MIN] = from.min[i];
    d[at + MAX] = from.max[i];
    d[at + TIME] = from.timeMs[i];
  }

  /**
   * Stores entry `i` of `from` in the slot and first copies the slot's
   * last, avg, min and max into entry `i` of `previous`.
   */
  swap(
    slot: number,
    from: MetricStates,
    i: number,
    previous: { last: Float64Array; avg: Float64Array; min: Float64Array; max: Float64Array },
  ): void {
    const d = this.data, at = slot * STRIDE;
    previous.last[i] = d[at + LAST];
    previous.avg[i] = d[at + AVG];
    previous.min[i] = d[at + MIN];
    previous.max[i] = d[at + MAX];
    d[at + LAST] = from.last[i];
    d[at + AVG] = from.avg[i];
    d[at + MIN] = from.min[i];
    d[at + MAX] = from.max[i];
    d[at + TIME] = from.timeMs[i];
  }

  /** Copies slot `from`, sensor and metric included, into slot `to`. */
  move(from: number, to: number): void {
    this.sensorOf[to] = this.sensorOf[from];
    this.metricOf[to] = this.metricOf[from];
    this.data.copyWithin(to * STRIDE, from * STRIDE, from * STRIDE + STRIDE);
  }

  /** Copies the slot, sensor and metric included, into entry `j` of `to`. */
  copyInto(to: MetricStates, j: number, slot: number): void {
    const d = this.data, at = slot * STRIDE;
    to.sensor[j] = this.sensorOf[slot];
    to.metric[j] = this.metricOf[slot];
    to.last[j] = d[at + LAST];
    to.avg[j] = d[at + AVG];
    to.min[j] = d[at + MIN];
    to.max[j] = d[at + MAX];
    to.timeMs[j] = d[at + TIME];
  }

  /** The first `n` entries of `from` into slots 0..n, sensors and metrics included. */
  fill(from: MetricStates, n: number): void {
    this.sensorOf.set(from.sensor.subarray(0, n));
    this.metricOf.set(from.metric.subarray(0, n));
    const d = this.data;
    for (let i = 0, at = 0; i < n; i++, at += STRIDE) {
      d[at + LAST] = from.last[i];
      d[at + AVG] = from.avg[i];
      d[at + MIN] = from.min[i];
      d[at + MAX] = from.max[i];
      d[at + TIME] = from.timeMs[i];
    }
  }

  /** Slots 0..n as fresh columns (a snapshot's). */
  columns(n: number): MetricStates {
    const out = allocateStates(n);
    out.sensor.set(this.sensorOf.subarray(0, n));
    out.metric.set(this.metricOf.subarray(0, n));
    const d = this.data;
    for (let i = 0, at = 0; i < n; i++, at += STRIDE) {
      out.last[i] = d[at + LAST];
      out.avg[i] = d[at + AVG];
      out.min[i] = d[at + MIN];
      out.max[i] = d[at + MAX];
      out.timeMs[i] = d[at + TIME];
    }
    return out;
  }

  /** Room for `capacity` slots, the first `used` kept. */
  grow(capacity: number, used: number): void {
    const sensorOf = new Uint32Array(capacity);
    sensorOf.set(this.sensorOf.subarray(0, used));
    const metricOf = new Uint16Array(capacity);
    metricOf.set(this.metricOf.subarray(0, used));
    const data = new Float64Array(capacity * STRIDE);
    data.set(this.data.subarray(0, used * STRIDE));
    this.sensorOf = sensorOf;
    this.metricOf = metricOf;
    this.data = data;
    this.capacity = capacity;
  }
}
