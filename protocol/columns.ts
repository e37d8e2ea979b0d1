/**
 * The column shapes frames are built from and decoded into: metric states,
 * published windows and group aggregates, each as parallel typed arrays
 * (entry `i` of every column belongs together), with their allocators. The
 * server's stages pass them along; clients get them back from a frame.
 */

/** A sensor's dictionary entry: frames refer to it by `index`. */
export interface SensorEntry {
  index: number;
  id: string;
  group: string;
}

/** A metric name's dictionary entry. */
export interface MetricEntry {
  index: number;
  name: string;
}

/** Metric states by column; entry `i` of every column belongs together. */
export interface MetricStates {
  readonly length: number;
  readonly sensor: Uint32Array;
  readonly metric: Uint16Array;
  readonly last: Float64Array;
  readonly avg: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly timeMs: Float64Array;
}

/** Published windows, by column; entry `i` of every column belongs together. */
export interface WindowStates {
  readonly length: number;
  readonly sensor: Uint32Array;
  readonly metric: Uint16Array;
  /** Index into the window sizes (`WindowSpec.sizesMs`, a snapshot's `window_sizes_ms`). */
  readonly size: Uint8Array;
  readonly flags: Uint8Array;
  readonly startMs: Float64Array;
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  /** Population standard deviation. */
  readonly std: Float64Array;
}

/** Flags of a published window: the watermark passed its end, it will not change. */
export const WINDOW_FINAL = 1;
/** Values changed since the window was last sent to clients (server side only). */
export const WINDOW_CHANGED = 2;

/**
 * A group's aggregate over its sensors' latest ended window of one size. In a
 * Delta, `sensors: 0` (count, sum, min, max and start 0) says the group has
 * no aggregate of this size and metric any more (its sensors are gone, or
 * none of them has the metric): a client forgets the one it holds.
 */
export interface GroupAggregateEntry {
  /** Group prefix; "" for everything the topic may see. */
  group: string;
  size: number;
  metric: number;
  startMs: number;
  sensors: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Metric-state columns of a given length. */
export function allocateStates(length: number): MetricStates {
  return {
    length,
    sensor: new Uint32Array(length),
    metric: new Uint16Array(length),
    last: new Float64Array(length),
    avg: new Float64Array(length),
    min: new Float64Array(length),
    max: new Float64Array(length),
    timeMs: new Float64Array(length),
  };
}

/** Window columns of a given length. */
export function allocateWindowStates(length: number): WindowStates {
  return {
    length,
    sensor: new Uint32Array(length),
    metric: new Uint16Array(length),
    size: new Uint8Array(length),
    flags: new Uint8Array(length),
    startMs: new Float64Array(length),
    count: new Float64Array(length),
    sum: new Float64Array(length),
    min: new Float64Array(length),
    max: new Float64Array(length),
    std: new Float64Array(length),
  };
}

/** Bytes per entry of metric-state columns, and of window columns. */
export const STATE_BYTES = 4 + 2 + 5 * 8;
export const WINDOW_BYTES = 4 + 2 + 1 + 1 + 6 * 8;

/** The first `length` entries of `states`, as views (no copy). */
export function viewStates(states: MetricStates, length: number): MetricStates {
  return {
    length,
    sensor: states.sensor.subarray(0, length),
    metric: states.metric.subarray(0, length),
    last: states.last.subarray(0, length),
    avg: states.avg.subarray(0, length),
    min: states.min.subarray(0, length),
    max: states.max.subarray(0, length),
    timeMs: states.timeMs.subarray(0, length),
  };
}

/** The first `length` entries of `windows`, as views (no copy). */
export function viewWindowStates(windows: WindowStates, length: number): WindowStates {
  return {
    length,
    sensor: windows.sensor.subarray(0, length),
    metric: windows.metric.subarray(0, length),
    size: windows.size.subarray(0, length),
    flags: windows.flags.subarray(0, length),
    startMs: windows.startMs.subarray(0, length),
    count: windows.count.subarray(0, length),
    sum: windows.sum.subarray(0, length),
    min: windows.min.subarray(0, length),
    max: windows.max.subarray(0, length),
    std: windows.std.subarray(0, length),
  };
}

/** Metric-state columns whose `length` is set by their owner (`prefixStates`). */
export type PrefixStates = { -readonly [K in keyof MetricStates]: MetricStates[K] };

/** Window columns whose `length` is set by their owner (`prefixWindowStates`). */
export type PrefixWindowStates = { -readonly [K in keyof WindowStates]: WindowStates[K] };

/**
 * The columns of `whole` (not views) with a `length` of 0 for the owner to
 * set: a reused buffer handed out whole, of which the first `length` entries
 * are valid. Made once per buffer, where `viewStates` made eight objects per
 * hand-out. Properties in `allocateStates`' order (one shape for readers).
 */
export function prefixStates(whole: MetricStates): PrefixStates {
  return {
    length: 0,
    sensor: whole.sensor,
    metric: whole.metric,
    last: whole.last,
    avg: whole.avg,
    min: whole.min,
    max: whole.max,
    timeMs: whole.timeMs,
  };
}

/** As `prefixStates`, for window columns (`allocateWindowStates`' order). */
export function prefixWindowStates(whole: WindowStates): PrefixWindowStates {
  return {
    length: 0,
    sensor: whole.sensor,
    metric: whole.metric,
    size: whole.size,
    flags: whole.flags,
    startMs: whole.startMs,
    count: whole.count,
    sum: whole.sum,
    min: whole.min,
    max: whole.max,
    std: whole.std,
  };
}

/** Copies the first `length` entries of `from` to the start of `to`. */
export function copyWindowStates(from: WindowStates, to: WindowStates, length: number): void {
  if (length === 0) return;
  to.sensor.set(from.sensor.subarray(0, length));
  to.metric.set(from.metric.subarray(0, length));
  to.size.set(from.size.subarray(0, length));
  to.flags.set(from.flags.subarray(0, length));
  to.startMs.set(from.startMs.subarray(0, length));
  to.count.set(from.count.subarray(0, length));
  to.sum.set(from.sum.subarray(0, length));
  to.min.set(from.min.subarray(0, length));
  to.max.set(from.max.subarray(0, length));
  to.std.set(from.std.subarray(0, length));
}

/**
 * Copies entries `[0, from.length)` of `from` into `to` from entry `at`.
 * `from`'s columns may be longer than its `length` (a shard in this isolate
 * hands out its reused buffers whole): only `length` entries are read, by
 * index, with no view made; columns of exactly `length` go by `set`.
 */
export function copyStatesAt(from: MetricStates, to: MetricStates, at: number): void {
  const n = from.length;
  if (n === 0) return;
  if (from.sensor.length === n) {
    to.sensor.set(from.sensor, at);
    to.metric.set(from.metric, at);
    to.last.set(from.last, at);
    to.avg.set(from.avg, at);
    to.min.set(from.min, at);
    to.max.set(from.max, at);
    to.timeMs.set(from.timeMs, at);
    return;
  }
  // One loop per array type: a loop over several types runs slower (polymorphic access).
  copyU32(from.sensor, to.sensor, at, n);
  copyU16(from.metric, to.metric, at, n);
  copyF64(from.last, to.last, at, n);
  copyF64(from.avg, to.avg, at, n);
  copyF64(from.min, to.min, at, n);
  copyF64(from.max, to.max, at, n);
  copyF64(from.timeMs, to.timeMs, at, n);
}

/** As `copyStatesAt`, for window columns. */
export function copyWindowStatesAt(from: WindowStates, to: WindowStates, at: number): void {
  const n = from.length;
  if (n === 0) return;
  if (from.sensor.length === n) {
    to.sensor.set(from.sensor, at);
    to.metric.set(from.metric, at);
    to.size.set(from.size, at);
    to.flags.set(from.flags, at);
    to.startMs.set(from.startMs, at);
    to.count.set(from.count, at);
    to.sum.set(from.sum, at);
    to.min.set(from.min, at);
    to.max.set(from.max, at);
    to.std.set(from.std, at);
    return;
  }
  copyU32(from.sensor, to.sensor, at, n);
  copyU16(from.metric, to.metric, at, n);
  copyU8(from.size, to.size, at, n);
  copyU8(from.flags, to.flags, at, n);
  copyF64(from.startMs, to.startMs, at, n);
  copyF64(from.count, to.count, at, n);
  copyF64(from.sum, to.sum, at, n);
  copyF64(from.min, to.min, at, n);
  copyF64(from.max, to.max, at, n);
  copyF64(from.std, to.std, at, n);
}

function copyF64(from: Float64Array, to: Float64Array, at: number, n: number): void {
  for (let j = 0; j < n; j++) to[at + j] = from[j];
}

function copyU32(from: Uint32Array, to: Uint32Array, at: number, n: number): void {
  for (let j = 0; j < n; j++) to[at + j] = from[j];
}

function copyU16(from: Uint16Array, to: Uint16Array, at: number, n: number): void {
  for (let j = 0; j < n; j++) to[at + j] = from[j];
}

function copyU8(from: Uint8Array, to: Uint8Array, at: number, n: number): void {
  for (let j = 0; j < n; j++) to[at + j] = from[j];
}
