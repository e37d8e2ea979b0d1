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

/** Copies the first `length` entries of `from` to the start of `to`. */
export function copyStates(from: MetricStates, to: MetricStates, length: number): void {
  if (length === 0) return;
  to.sensor.set(from.sensor.subarray(0, length));
  to.metric.set(from.metric.subarray(0, length));
  to.last.set(from.last.subarray(0, length));
  to.avg.set(from.avg.subarray(0, length));
  to.min.set(from.min.subarray(0, length));
  to.max.set(from.max.subarray(0, length));
  to.timeMs.set(from.timeMs.subarray(0, length));
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
