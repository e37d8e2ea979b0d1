// The compact delta: a Delta's changes by column (schema.fbs: CompactDelta).
// Rows are the sensors with updates, ascending; per metric, `last` and `avg`
// for every update, `min`/`max` only where they moved, event times as offsets
// from the frame's base time. Values are scaled integers coded against the
// value the client already holds (its base), so they are small; a value
// that no decimal scale holds exactly goes as float32 or float64.
//
// Encode once per stream and tick: the bytes are the same for every session.
// Pure: no clocks, no I/O; the bases come in as `BaseValues` (looked up) or
// `PreviousValues` (aligned with the updates).
import * as flatbuffers from "flatbuffers";
import { Body, Column, CompactDelta, CompactMetric, Envelope } from "./schema_generated.ts";
import type { MetricStates } from "./columns.ts";
import type { DeltaFrame } from "./frame_parts.ts";
import {
  readParts,
  verifyParts,
  writeAggregates,
  writeAttention,
  writeLate,
  writeMetrics,
  writeSensors,
  writeUint32s,
  writeWindows,
} from "./frame_parts.ts";
import {
  columnView,
  ColumnWriter,
  ELEMENT_SIZE,
  isIntColumn,
  losslessScale,
  MAX_SCALE,
  POW10,
  predict,
  scalableAt,
} from "./number_columns.ts";
import type { ColumnView } from "./number_columns.ts";
import { FlatBufferVerifier } from "./verifier.ts";

/** One metric's value columns on the client, indexed by the slot `BaseValues.slot` gives. */
export interface BaseColumns {
  readonly last: ArrayLike<number>;
  readonly avg: ArrayLike<number>;
  readonly min: ArrayLike<number>;
  readonly max: ArrayLike<number>;
}

/**
 * The values the client holds before a frame, per sensor and metric: the
 * predictors of the differences. The encoder and the decoder must see the
 * same values (for a full-rate stream: the hub's mirror before this tick's
 * merge on one side, the client's store before applying the frame on the
 * other).
 */
export interface BaseValues {
  /** Slot of (sensor, metric) in `columns(metric)`, or -1 when there is no base. */
  slot(sensor: number, metric: number): number;
  columns(metric: number): BaseColumns;
}

/**
 * The client's values before a frame, aligned with the frame's updates:
 * entry `i` belongs to update `i` (what a merge that overwrites values can
 * hand over at no lookup cost).
 */
export interface PreviousValues {
  /** 0 where the client holds nothing for update `i`'s sensor and metric (sent fresh). */
  readonly has: ArrayLike<number>;
  readonly last: ArrayLike<number>;
  readonly avg: ArrayLike<number>;
  readonly min: ArrayLike<number>;
  readonly max: ArrayLike<number>;
}

export interface CompactEncodeOptions {
  /**
   * The client's values before this frame, looked up per update. Without
   * `base` or `previous` (or where it has no slot) an update is fresh:
   * absolute, with every field.
   */
  base?: BaseValues;
  /** The same, aligned with the updates instead (give one of the two). */
  previous?: PreviousValues;
  /**
   * Decimal digits `avg` is sent with, per metric (e.g. 2: within 0.005).
   * It must stay the same for a stream between absolute frames, since the
   * client's base is the rounded value. Undefined: exact, like `last`.
   */
  avgDigits?: number | ((metric: number) => number | undefined);
}

export interface CompactDecodeOptions {
  /** The client's values before this frame; needed unless every update is fresh. */
  base?: BaseValues;
}

// One builder and one set of scratch columns, reused: frames are encoded one
// at a time and copied out, so the hot loops allocate nothing but the output.
const builder = new flatbuffers.Builder(64 * 1024);
const writer = new ColumnWriter(builder);

class Scratch {
  capacity = 0;
  order = new Uint32Array(0);
  rowOf = new Uint32Array(0);
  byMetric = new Uint32Array(0);
  has = new Uint8Array(0);
  baseLast = new Float64Array(0);
  baseAvg = new Float64Array(0);
  baseMin = new Float64Array(0);
  baseMax = new Float64Array(0);
  rowSensor = new Float64Array(0);
  rowTime = new Float64Array(0);
  /** One column being written: values, their bases, fresh flags, positions, integers. */
  values = new Float64Array(0);
  bases = new Float64Array(0);
  fresh = new Uint8Array(0);
  picked = new Uint32Array(0);
  ints = new Float64Array(0);
  keys = new Float64Array(0);
  swap = new Uint32Array(0);
  readonly radixCounts = new Uint32Array(2048);
  /** Per metric id: updates seen (counting sort), and its rank among the frame's metrics. */
  readonly metricCount = new Int32Array(65_536);
  readonly rank = new Uint16Array(65_536);
  readonly metricIds: number[] = [];
  readonly metricOffsets: number[] = [];

  ensure(n: number): void {
    if (n <= this.capacity) return;
    const c = Math.max(n, this.capacity * 2, 256);
    this.capacity = c;
    this.order = new Uint32Array(c);
    this.rowOf = new Uint32Array(c);
    this.byMetric = new Uint32Array(c);
    this.has = new Uint8Array(c);
    this.baseLast = new Float64Array(c);
    this.baseAvg = new Float64Array(c);
    this.baseMin = new Float64Array(c);
    this.baseMax = new Float64Array(c);
    this.rowSensor = new Float64Array(c);
    this.rowTime = new Float64Array(c);
    // Time candidates are rows and exceptions together: up to 2n.
    this.values = new Float64Array(2 * c);
    this.bases = new Float64Array(2 * c);
    this.fresh = new Uint8Array(2 * c);
    this.picked = new Uint32Array(c);
    this.ints = new Float64Array(2 * c);
    this.keys = new Float64Array(c);
    this.swap = new Uint32Array(c);
  }
}

const scratch = new Scratch();

/** Scale chosen by the last `valueColumn` call. */
let chosenScale = 0;

/**
 * Writes `scratch.values[0..n)` as a value column: scaled at `fixed` (>= 0:
 * a declared precision) or at the smallest exact scale (-1), coded against
 * `scratch.bases` (or the previous integer where `scratch.fresh` is set);
 * as floats when no scale fits.
 */
function valueColumn(n: number, fixed: number): flatbuffers.Offset {
  const { values, bases, fresh, ints } = scratch;
  const k = fixed >= 0 ? (scalableAt(values, n, fixed) ? fixed : -1) : losslessScale(values, n);
  if (k >= 0) {
    const p = POW10[k];
    let previous = 0;
    for (let j = 0; j < n; j++) {
      const s = Math.round(values[j] * p);
      ints[j] = s - (fresh[j] === 1 ? previous : predict(bases[j], k));
      previous = s;
    }
    if (writer.fits(ints, n)) {
      chosenScale = k;
      return writer.ints(ints, n);
    }
  }
  chosenScale = 0;
  return writer.floats(values, n);
}

/** Writes `scratch.picked[0..n)` (ascending positions) gap-coded. */
function positionColumn(n: number): flatbuffers.Offset {
  const { picked, ints } = scratch;
  let previous = -1;
  for (let j = 0; j < n; j++) {
    ints[j] = picked[j] - previous - 1;
    previous = picked[j];
  }
  return writer.ints(ints, n);
}

function avgDigitsOf(options: CompactEncodeOptions, metric: number): number {
  const digits = typeof options.avgDigits === "function"
    ? options.avgDigits(metric)
    : options.avgDigits;
  if (digits === undefined) return -1;
  if (!Number.isInteger(digits) || digits < 0 || digits > MAX_SCALE) {
    throw new RangeError(`Cannot encode a compact delta: avg digits must be 0 to ${MAX_SCALE}`);
  }
  return digits;
}

/** Encodes a delta as a CompactDelta Envelope. */
export function encodeCompactDelta(
  frame: DeltaFrame,
  options: CompactEncodeOptions = {},
): Uint8Array<ArrayBuffer> {
  builder.clear();
  const body = writeCompactDelta(frame, options);
  builder.finish(Envelope.createEnvelope(builder, Body.CompactDelta, body), "PLSB");
  return builder.asUint8Array().slice() as Uint8Array<ArrayBuffer>;
}

/**
 * The builder compact deltas are written with: a frame that nests one (a
 * ViewFrame) is written into the same builder, after `writeCompactDelta`.
 */
export const compactBuilder: flatbuffers.Builder = builder;

/**
 * Writes a CompactDelta table into `compactBuilder` (cleared by the caller,
 * nothing else under construction) and returns its offset.
 */
export function writeCompactDelta(
  frame: DeltaFrame,
  options: CompactEncodeOptions = {},
): flatbuffers.Offset {
  try {
    return encode(frame, options);
  } finally {
    // The per-metric counters must be zero for the next frame, also after a throw.
    for (const m of scratch.metricIds) scratch.metricCount[m] = 0;
    scratch.metricIds.length = 0;
  }
}

/**
 * Fills `scratch.order` with the update indexes by (sensor, metric) and
 * `scratch.metricIds` with the distinct metrics, ascending; counts each
 * metric's updates in `scratch.metricCount`.
 */
function orderUpdates(u: MetricStates): void {
  const n = u.length;
  const { order, metricCount, metricIds } = scratch;
  const sensors = u.sensor, metricsOf = u.metric;
  let sorted = true;
  let maxSensor = 0;
  for (let i = 0; i < n; i++) {
    const sensor = sensors[i], metric = metricsOf[i];
    if (metricCount[metric]++ === 0) metricIds.push(metric);
    if (sensor > maxSensor) maxSensor = sensor;
    if (
      i > 0 &&
      (sensor < sensors[i - 1] || (sensor === sensors[i - 1] && metric <= metricsOf[i - 1]))
    ) sorted = false;
    order[i] = i;
  }
  // Few metrics: an insertion sort (a comparator would be a closure a frame).
  for (let j = 1; j < metricIds.length; j++) {
    const m = metricIds[j];
    let k = j - 1;
    for (; k >= 0 && metricIds[k] > m; k--) metricIds[k + 1] = metricIds[k];
    metricIds[k + 1] = m;
  }
  if (sorted) return;
  if (n <= INSERTION_MAX) {
    // A viewport window's tick has a few updates: the radix passes' fixed
    // 2 × 2 × 2048 counts would cost more than the sort.
    for (let j = 1; j < n; j++) {
      const i = order[j], sensor = sensors[i], metric = metricsOf[i];
      let k = j - 1;
      for (; k >= 0; k--) {
        const o = order[k];
        if (sensors[o] < sensor || (sensors[o] === sensor && metricsOf[o] < metric)) break;
        order[k + 1] = o;
      }
      order[k + 1] = i;
    }
    return;
  }
  const kinds = metricIds.length;
  const { rank, keys, swap } = scratch;
  for (let r = 0; r < kinds; r++) rank[metricIds[r]] = r;
  // Radix sort by (sensor, metric rank), 11 bits a pass (keys stay below 2^48).
  for (let i = 0; i < n; i++) keys[i] = sensors[i] * kinds + rank[metricsOf[i]];
  const maxKey = maxSensor * kinds + kinds;
  const counts = scratch.radixCounts;
  let from = order, to = swap;
  for (let shift = 1; shift <= maxKey; shift *= RADIX) {
    counts.fill(0);
    for (let j = 0; j < n; j++) counts[Math.floor(keys[from[j]] / shift) % RADIX]++;
    for (let d = 0, sum = 0; d < RADIX; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let j = 0; j < n; j++) to[counts[Math.floor(keys[from[j]] / shift) % RADIX]++] = from[j];
    const t = from;
    from = to;
    to = t;
  }
  if (from !== order) order.set(from.subarray(0, n));
}

const RADIX = 2048;
/** Frames of at most this many updates are ordered by insertion (see `orderUpdates`). */
const INSERTION_MAX = 48;

/**
 * The updates of the metric being written: `scratch.byMetric[runFrom ..
 * runFrom + runLength)`, indexes into the frame's updates, in row order.
 */
let runFrom = 0;
let runLength = 0;

/** Copies the run's values of one field, their bases and fresh flags into the column scratch. */
function gather(from: Float64Array, bases: Float64Array): void {
  const { values, bases: to, fresh, has, byMetric } = scratch;
  for (let j = 0; j < runLength; j++) {
    const i = byMetric[runFrom + j];
    values[j] = from[i];
    to[j] = bases[i];
    fresh[j] = has[i] ^ 1;
  }
}

/**
 * Gathers and writes the run's `from` field; its type is then `writer.type`,
 * its scale `chosenScale` (no object per column: ~100 frames a tick).
 */
function fieldColumn(from: Float64Array, bases: Float64Array, fixed: number): flatbuffers.Offset {
  gather(from, bases);
  return valueColumn(runLength, fixed);
}

/** The positions column `movedColumns` wrote last, and its type. */
let movedAt = 0;
let movedAtType = Column.NONE;

/**
 * The positions where min or max moved off the base (every fresh update
 * too), and their values: 0 when none moved, else the values' column (its
 * type `writer.type`, scale `chosenScale`; the positions' in `movedAt`).
 */
function movedColumns(from: Float64Array, bases: Float64Array): flatbuffers.Offset {
  const { picked, has, values, bases: to, fresh, byMetric } = scratch;
  let count = 0;
  for (let j = 0; j < runLength; j++) {
    const i = byMetric[runFrom + j];
    if (has[i] === 0 || !Object.is(from[i], bases[i])) picked[count++] = j;
  }
  if (count === 0) return 0;
  movedAt = positionColumn(count);
  movedAtType = writer.type;
  for (let p = 0; p < count; p++) {
    const i = byMetric[runFrom + picked[p]];
    values[p] = from[i];
    to[p] = bases[i];
    fresh[p] = has[i] ^ 1;
  }
  return valueColumn(count, -1);
}

/** Writes `scratch.values[0..count)` as times at `scale` (< 0: as floats) from `baseTime`. */
function timeColumn(count: number, scale: number, baseTime: number): flatbuffers.Offset {
  if (scale < 0) return writer.floats(scratch.values, count);
  scratch.bases.fill(baseTime, 0, count);
  scratch.fresh.fill(0, 0, count);
  return valueColumn(count, scale);
}

function encode(frame: DeltaFrame, options: CompactEncodeOptions): flatbuffers.Offset {
  const u = frame.updates;
  const n = u.length;
  const s = scratch;
  s.ensure(n);
  orderUpdates(u);
  const { order, rowOf, rowSensor, rowTime, byMetric, metricCount, metricIds, has } = s;

  // Rows (each holds its first update's time) and each metric's run in byMetric.
  let rows = 0;
  for (let j = 0; j < n; j++) {
    const i = order[j];
    const sensor = u.sensor[i];
    if (j > 0 && sensor === u.sensor[order[j - 1]]) {
      if (u.metric[i] === u.metric[order[j - 1]]) {
        throw new RangeError(
          `Cannot encode a compact delta: sensor ${sensor} metric ${u.metric[i]} appears twice`,
        );
      }
    } else {
      rowSensor[rows] = rows === 0 ? sensor : sensor - u.sensor[order[j - 1]] - 1;
      rowTime[rows] = u.timeMs[i];
      rows++;
    }
    rowOf[i] = rows - 1;
  }
  let start = 0;
  for (const m of metricIds) {
    const count = metricCount[m];
    metricCount[m] = start; // the next free place of m's run
    start += count;
  }
  for (let j = 0; j < n; j++) {
    const i = order[j];
    byMetric[metricCount[u.metric[i]]++] = i;
  }
  // metricCount[m] is now the end of m's run (cleared by encodeCompactDelta).

  // Bases: aligned with the updates, or looked up once per update.
  const { base, previous } = options;
  if (base && previous) {
    throw new RangeError("Cannot encode a compact delta: give either base or previous, not both");
  }
  if (previous) {
    if (
      previous.has.length < n || previous.last.length < n || previous.avg.length < n ||
      previous.min.length < n || previous.max.length < n
    ) {
      throw new RangeError(
        `Cannot encode a compact delta: previous values are shorter than the ${n} updates`,
      );
    }
    for (let i = 0; i < n; i++) {
      has[i] = previous.has[i] === 0 ? 0 : 1;
      s.baseLast[i] = previous.last[i];
      s.baseAvg[i] = previous.avg[i];
      s.baseMin[i] = previous.min[i];
      s.baseMax[i] = previous.max[i];
    }
  } else {
    let runStart = 0;
    for (const m of metricIds) {
      const end = metricCount[m];
      const columns = base?.columns(m);
      for (let j = runStart; j < end; j++) {
        const i = byMetric[j];
        const slot = base && columns ? base.slot(u.sensor[i], m) : -1;
        if (slot < 0) {
          has[i] = 0;
          continue;
        }
        has[i] = 1;
        s.baseLast[i] = columns!.last[slot];
        s.baseAvg[i] = columns!.avg[slot];
        s.baseMin[i] = columns!.min[slot];
        s.baseMax[i] = columns!.max[slot];
      }
      runStart = end;
    }
  }
  const absolute = base === undefined && previous === undefined;

  // Times: one scale and base time for the frame. Rows hold their first update's time,
  // updates with another time are listed per metric.
  const { values } = s;
  let sameTimes = true;
  for (let r = 1; r < rows && sameTimes; r++) sameTimes = Object.is(rowTime[r], rowTime[0]);
  let candidates = 0;
  if (!sameTimes) { for (let r = 0; r < rows; r++) values[candidates++] = rowTime[r]; }
  for (let i = 0; i < n; i++) {
    if (!Object.is(u.timeMs[i], rowTime[rowOf[i]])) values[candidates++] = u.timeMs[i];
  }
  let baseTime = rows === 0 ? 0 : rowTime[0];
  if (!sameTimes) {
    baseTime = Infinity;
    for (let c = 0; c < candidates; c++) if (values[c] < baseTime) baseTime = values[c];
    if (baseTime === Infinity) baseTime = 0;
  }
  const timeScale = losslessScale(values, candidates);
  let rowTimeColumn = 0, rowTimeType = Column.NONE;
  if (!sameTimes) {
    values.set(rowTime.subarray(0, rows));
    rowTimeColumn = timeColumn(rows, timeScale, baseTime);
    rowTimeType = writer.type;
  }
  let rowSensorColumn = 0, rowSensorType = Column.NONE;
  if (rows > 0) {
    rowSensorColumn = writer.ints(rowSensor, rows);
    rowSensorType = writer.type;
  }

  // One CompactMetric per metric.
  const offsets = s.metricOffsets;
  offsets.length = 0;
  let runStart = 0;
  for (const m of metricIds) {
    const end = metricCount[m];
    runFrom = runStart;
    runLength = end - runStart;
    runStart = end;
    const count = runLength;

    let rowsColumn = 0, rowsType = Column.NONE;
    if (count !== rows) {
      for (let j = 0; j < count; j++) s.picked[j] = rowOf[byMetric[runFrom + j]];
      rowsColumn = positionColumn(count);
      rowsType = writer.type;
    }
    let freshColumn = 0, freshType = Column.NONE;
    if (!absolute) {
      let picked = 0;
      for (let j = 0; j < count; j++) if (has[byMetric[runFrom + j]] === 0) s.picked[picked++] = j;
      if (picked > 0) {
        freshColumn = positionColumn(picked);
        freshType = writer.type;
      }
    }
    const last = fieldColumn(u.last, s.baseLast, -1);
    const lastType = writer.type, lastScale = chosenScale;
    const avg = fieldColumn(u.avg, s.baseAvg, avgDigitsOf(options, m));
    const avgType = writer.type, avgScale = chosenScale;
    const min = movedColumns(u.min, s.baseMin);
    const minType = writer.type, minScale = chosenScale, minAt = movedAt, minAtType = movedAtType;
    const max = movedColumns(u.max, s.baseMax);
    const maxType = writer.type, maxScale = chosenScale, maxAt = movedAt, maxAtType = movedAtType;
    let timeAt = 0, timeAtType = Column.NONE, time = 0, timeType = Column.NONE;
    let picked = 0;
    for (let j = 0; j < count; j++) {
      const i = byMetric[runFrom + j];
      if (!Object.is(u.timeMs[i], rowTime[rowOf[i]])) s.picked[picked++] = j;
    }
    if (picked > 0) {
      timeAt = positionColumn(picked);
      timeAtType = writer.type;
      for (let p = 0; p < picked; p++) values[p] = u.timeMs[byMetric[runFrom + s.picked[p]]];
      time = timeColumn(picked, timeScale, baseTime);
      timeType = writer.type;
    }

    CompactMetric.startCompactMetric(builder);
    CompactMetric.addMetric(builder, m);
    if (rowsColumn) {
      CompactMetric.addRowsType(builder, rowsType);
      CompactMetric.addRows(builder, rowsColumn);
    }
    if (freshColumn) {
      CompactMetric.addFreshType(builder, freshType);
      CompactMetric.addFresh(builder, freshColumn);
    }
    CompactMetric.addLastScale(builder, lastScale);
    CompactMetric.addLastType(builder, lastType);
    CompactMetric.addLast(builder, last);
    CompactMetric.addAvgScale(builder, avgScale);
    CompactMetric.addAvgType(builder, avgType);
    CompactMetric.addAvg(builder, avg);
    if (min) {
      CompactMetric.addMinAtType(builder, minAtType);
      CompactMetric.addMinAt(builder, minAt);
      CompactMetric.addMinScale(builder, minScale);
      CompactMetric.addMinType(builder, minType);
      CompactMetric.addMin(builder, min);
    }
    if (max) {
      CompactMetric.addMaxAtType(builder, maxAtType);
      CompactMetric.addMaxAt(builder, maxAt);
      CompactMetric.addMaxScale(builder, maxScale);
      CompactMetric.addMaxType(builder, maxType);
      CompactMetric.addMax(builder, max);
    }
    if (timeAt) {
      CompactMetric.addTimeAtType(builder, timeAtType);
      CompactMetric.addTimeAt(builder, timeAt);
      CompactMetric.addTimeType(builder, timeType);
      CompactMetric.addTime(builder, time);
    }
    offsets.push(CompactMetric.endCompactMetric(builder));
  }

  const columns = CompactDelta.createColumnsVector(builder, offsets);
  // Empty dictionaries and removals are left out (absent reads as empty).
  const sensors = frame.sensors.length > 0 ? writeSensors(builder, frame.sensors) : 0;
  const metrics = frame.metrics.length > 0 ? writeMetrics(builder, frame.metrics) : 0;
  const removed = frame.removed.length > 0 ? writeUint32s(builder, frame.removed) : 0;
  const restarted = frame.restarted && frame.restarted.length > 0
    ? writeUint32s(builder, frame.restarted)
    : 0;
  const windows = writeWindows(builder, frame.windows);
  const aggregates = writeAggregates(builder, frame.aggregates);
  const late = writeLate(builder, frame.late);
  const attention = writeAttention(builder, frame.attention);
  CompactDelta.startCompactDelta(builder);
  CompactDelta.addEpoch(builder, frame.epoch);
  CompactDelta.addSeq(builder, BigInt(frame.seq));
  CompactDelta.addServerTimeMs(builder, frame.serverTimeMs);
  if (sensors) CompactDelta.addSensors(builder, sensors);
  if (metrics) CompactDelta.addMetrics(builder, metrics);
  if (removed) CompactDelta.addRemoved(builder, removed);
  if (absolute) CompactDelta.addAbsolute(builder, true);
  CompactDelta.addBaseTimeMs(builder, baseTime);
  if (timeScale > 0) CompactDelta.addTimeScale(builder, timeScale);
  if (rowSensorColumn) {
    CompactDelta.addRowSensorType(builder, rowSensorType);
    CompactDelta.addRowSensor(builder, rowSensorColumn);
  }
  if (rowTimeColumn) {
    CompactDelta.addRowTimeType(builder, rowTimeType);
    CompactDelta.addRowTime(builder, rowTimeColumn);
  }
  CompactDelta.addColumns(builder, columns);
  if (windows) CompactDelta.addWindows(builder, windows);
  if (aggregates) CompactDelta.addAggregates(builder, aggregates);
  if (late) CompactDelta.addLate(builder, late);
  if (frame.coalesced) {
    CompactDelta.addCoalesced(builder, true);
    CompactDelta.addSinceSeq(builder, BigInt(frame.sinceSeq ?? 0));
  }
  if (frame.intervalMs) CompactDelta.addIntervalMs(builder, frame.intervalMs);
  if (attention) CompactDelta.addAttention(builder, attention);
  if (restarted) CompactDelta.addRestarted(builder, restarted);
  return CompactDelta.endCompactDelta(builder);
}

// ---- Decoding ----

function invalid(message: string): never {
  throw new TypeError(`Invalid compact delta: ${message}`);
}

/** Checks a union column field (type at `typeId`, table at `typeId + 1`). */
export function verifyColumn(
  v: FlatBufferVerifier,
  bytes: Uint8Array,
  table: number,
  typeId: number,
) {
  const typeAt = v.field(table, typeId, 1);
  const type = typeAt === 0 ? Column.NONE : bytes[typeAt];
  if (type > Column.F64Column) invalid(`unknown column type ${type}`);
  if (type === Column.NONE) return;
  const size = ELEMENT_SIZE[type];
  if (v.subTable(table, typeId + 1, (pos) => v.vector(pos, 0, size)) === 0) {
    invalid("a column has a type but no data");
  }
}

/** Checks the CompactDelta table at `pos` (also one nested in another frame). */
export function verifyCompactDelta(v: FlatBufferVerifier, bytes: Uint8Array, pos: number): void {
  v.field(pos, 0, 4);
  v.field(pos, 1, 8);
  v.field(pos, 2, 8);
  verifyParts(v, pos, {
    sensors: 3,
    metrics: 4,
    removed: 5,
    windows: 14,
    aggregates: 15,
    late: 16,
    attention: 20,
    restarted: 21,
  });
  v.field(pos, 6, 1);
  v.field(pos, 7, 8);
  v.field(pos, 8, 1);
  verifyColumn(v, bytes, pos, 9);
  verifyColumn(v, bytes, pos, 11);
  v.tableVector(pos, 13, (m) => {
    v.field(m, 0, 2);
    for (const typeId of [1, 3, 6, 9, 11, 14, 16, 19, 21, 23]) verifyColumn(v, bytes, m, typeId);
    for (const scaleId of [5, 8, 13, 18]) v.field(m, scaleId, 1);
  });
  v.field(pos, 17, 1);
  v.field(pos, 18, 8);
  v.field(pos, 19, 4);
}

function scaleOf(k: number, what: string): number {
  if (k < 0 || k > MAX_SCALE) invalid(`${what} scale ${k} is outside 0..${MAX_SCALE}`);
  return k;
}

/** Decodes gap-coded positions; each must be below `limit`. */
function positions(view: ColumnView | null, limit: number, what: string): Float64Array {
  if (view === null) return new Float64Array(0);
  if (!(view instanceof Uint8Array || view instanceof Uint16Array || view instanceof Uint32Array)) {
    invalid(`${what} are not unsigned integers`);
  }
  const out = new Float64Array(view.length);
  let at = -1;
  for (let j = 0; j < view.length; j++) {
    at += view[j] + 1;
    if (at >= limit) invalid(`${what} point past ${limit}`);
    out[j] = at;
  }
  return out;
}

/**
 * Decodes a value column into `target[targetAt + index(j)]`, where `index`
 * maps the column's j-th entry to its update (identity when `at` is null).
 * Integer entries add to the predictor: `bases[update]` unless `fresh[update]`.
 */
function decodeValues(
  column: { view: ColumnView; scale: number },
  into: { target: Float64Array; at: number; index: Float64Array | null },
  predictors: { bases: Float64Array; fresh: Uint8Array },
): void {
  const { view, scale } = column;
  const { target, at, index } = into;
  if (!isIntColumnView(view)) {
    for (let j = 0; j < view.length; j++) target[at + (index ? index[j] : j)] = view[j];
    return;
  }
  const p = POW10[scale];
  let previous = 0;
  for (let j = 0; j < view.length; j++) {
    const update = index ? index[j] : j;
    const s =
      (predictors.fresh[update] === 1 ? previous : predict(predictors.bases[update], scale)) +
      view[j];
    target[at + update] = s / p;
    previous = s;
  }
}

function isIntColumnView(view: ColumnView): boolean {
  return !(view instanceof Float32Array || view instanceof Float64Array);
}

/**
 * Verifies and decodes a CompactDelta Envelope into the delta it stands
 * for. Updates come grouped by metric (ascending), each group by sensor.
 * Throws a TypeError for a malformed frame and a RangeError when an update
 * needs a base that `options.base` does not have (the client should then
 * ask for a snapshot).
 */
export function decodeCompactDelta(
  input: Uint8Array,
  options: CompactDecodeOptions = {},
): DeltaFrame {
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const v = new FlatBufferVerifier(bytes, { maxDepth: 8 });
  const root = v.root();
  const typeAt = v.field(root, 0, 1);
  const type = typeAt === 0 ? Body.NONE : bytes[typeAt];
  if (type !== Body.CompactDelta) invalid(`the body is ${Body[type] ?? `type ${type}`}`);
  if (v.subTable(root, 1, (pos) => verifyCompactDelta(v, bytes, pos)) === 0) {
    invalid("the envelope has no body");
  }
  const envelope = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes));
  return readCompactDelta(envelope.body(new CompactDelta()) as CompactDelta, options);
}

/**
 * Reads a verified CompactDelta table (see `verifyCompactDelta`); throws like
 * `decodeCompactDelta`.
 */
export function readCompactDelta(
  d: CompactDelta,
  options: CompactDecodeOptions = {},
): DeltaFrame {
  const parts = readParts(d);
  const absolute = d.absolute();
  const baseTime = d.baseTimeMs();
  const timeScale = scaleOf(d.timeScale(), "time");

  // Rows.
  const sensorView = columnView(d.rowSensorType(), (h) => d.rowSensor(h));
  if (sensorView && !isIntColumn(d.rowSensorType())) invalid("row sensors are not integers");
  const rows = sensorView?.length ?? 0;
  const rowSensor = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const sensor = r === 0 ? sensorView![0] : rowSensor[r - 1] + sensorView![r] + 1;
    if (sensor < 0 || sensor > 0xffff_ffff) invalid(`row sensor ${sensor} is out of range`);
    rowSensor[r] = sensor;
  }
  const rowTime = new Float64Array(rows).fill(baseTime);
  const timeView = columnView(d.rowTimeType(), (h) => d.rowTime(h));
  const noFresh = new Uint8Array(rows);
  const timeBases = new Float64Array(Math.max(rows, 1)).fill(baseTime);
  if (timeView) {
    if (timeView.length !== rows) invalid(`${timeView.length} row times for ${rows} rows`);
    decodeValues(
      { view: timeView, scale: timeScale },
      { target: rowTime, at: 0, index: null },
      { bases: timeBases, fresh: noFresh },
    );
  }

  // Count the updates first: the columns' lengths bound them by the frame's size.
  const metric = new CompactMetric();
  const columnCount = d.columnsLength();
  let total = 0;
  for (let c = 0; c < columnCount; c++) {
    d.columns(c, metric);
    const count = columnView(metric.lastType(), (h) => metric.last(h))?.length ?? 0;
    const rowList = columnView(metric.rowsType(), (h) => metric.rows(h));
    if ((rowList?.length ?? rows) !== count) {
      invalid(`metric ${metric.metric()} has ${count} values for ${rowList?.length ?? rows} rows`);
    }
    total += count;
  }
  const out: MetricStates = {
    length: total,
    sensor: new Uint32Array(total),
    metric: new Uint16Array(total),
    last: new Float64Array(total),
    avg: new Float64Array(total),
    min: new Float64Array(total),
    max: new Float64Array(total),
    timeMs: new Float64Array(total),
  };
  const seen = new Set<number>();
  let at = 0;
  for (let c = 0; c < columnCount; c++) {
    d.columns(c, metric);
    const m = metric.metric();
    if (seen.has(m)) invalid(`metric ${m} has two columns`);
    seen.add(m);
    const last = columnView(metric.lastType(), (h) => metric.last(h));
    const count = last?.length ?? 0;
    if (count === 0) continue;
    const avg = columnView(metric.avgType(), (h) => metric.avg(h));
    if (avg?.length !== count) invalid(`metric ${m} has ${avg?.length ?? 0} averages for ${count}`);
    const rowList = columnView(metric.rowsType(), (h) => metric.rows(h));
    const rowAt = rowList ? positions(rowList, rows, `metric ${m}'s rows`) : null;
    const fresh = new Uint8Array(count);
    if (absolute) fresh.fill(1);
    else {
      const list = positions(
        columnView(metric.freshType(), (h) => metric.fresh(h)),
        count,
        `metric ${m}'s fresh updates`,
      );
      for (let j = 0; j < list.length; j++) fresh[list[j]] = 1;
    }
    const bases = {
      last: new Float64Array(count),
      avg: new Float64Array(count),
      min: new Float64Array(count),
      max: new Float64Array(count),
    };
    let columns: BaseColumns | undefined;
    for (let j = 0; j < count; j++) {
      const sensor = rowSensor[rowAt ? rowAt[j] : j];
      out.sensor[at + j] = sensor;
      out.metric[at + j] = m;
      out.timeMs[at + j] = rowTime[rowAt ? rowAt[j] : j];
      if (fresh[j] === 1) continue;
      const slot = options.base?.slot(sensor, m) ?? -1;
      if (slot < 0) {
        throw new RangeError(
          `Cannot decode compact delta: no base for sensor ${sensor} metric ${m}`,
        );
      }
      columns ??= options.base!.columns(m);
      bases.last[j] = columns.last[slot];
      bases.avg[j] = columns.avg[slot];
      bases.min[j] = columns.min[slot];
      bases.max[j] = columns.max[slot];
      out.min[at + j] = bases.min[j];
      out.max[at + j] = bases.max[j];
    }
    const whole = { at, index: null };
    decodeValues(
      { view: last!, scale: scaleOf(metric.lastScale(), "last") },
      { target: out.last, ...whole },
      { bases: bases.last, fresh },
    );
    decodeValues(
      { view: avg, scale: scaleOf(metric.avgScale(), "avg") },
      { target: out.avg, ...whole },
      { bases: bases.avg, fresh },
    );
    const sparse = (
      which: "min" | "max",
      list: ColumnView | null,
      values: ColumnView | null,
      scale: number,
    ) => {
      const index = positions(list, count, `metric ${m}'s ${which} positions`);
      if ((values?.length ?? 0) !== index.length) {
        invalid(`metric ${m} has ${values?.length ?? 0} ${which} values for ${index.length}`);
      }
      for (let j = 0, p = 0; j < count; j++) {
        if (fresh[j] === 0) continue;
        while (p < index.length && index[p] < j) p++;
        if (p === index.length || index[p] !== j) {
          invalid(`a fresh update of metric ${m} has no ${which}`);
        }
      }
      if (index.length === 0) return;
      decodeValues(
        { view: values!, scale: scaleOf(scale, which) },
        { target: out[which], at, index },
        { bases: bases[which], fresh },
      );
    };
    sparse(
      "min",
      columnView(metric.minAtType(), (h) => metric.minAt(h)),
      columnView(metric.minType(), (h) => metric.min(h)),
      metric.minScale(),
    );
    sparse(
      "max",
      columnView(metric.maxAtType(), (h) => metric.maxAt(h)),
      columnView(metric.maxType(), (h) => metric.max(h)),
      metric.maxScale(),
    );
    const timeAt = positions(
      columnView(metric.timeAtType(), (h) => metric.timeAt(h)),
      count,
      `metric ${m}'s time positions`,
    );
    const times = columnView(metric.timeType(), (h) => metric.time(h));
    if ((times?.length ?? 0) !== timeAt.length) {
      invalid(`metric ${m} has ${times?.length ?? 0} times for ${timeAt.length} positions`);
    }
    if (times && times.length > 0) {
      const timeFresh = new Uint8Array(count);
      const bases = new Float64Array(count).fill(baseTime);
      decodeValues(
        { view: times, scale: timeScale },
        { target: out.timeMs, at, index: timeAt },
        { bases, fresh: timeFresh },
      );
    }
    at += count;
  }
  return {
    epoch: d.epoch(),
    seq: Number(d.seq()),
    serverTimeMs: d.serverTimeMs(),
    sensors: parts.sensors,
    metrics: parts.metrics,
    updates: out,
    removed: parts.removed,
    ...(parts.restarted.length > 0 ? { restarted: parts.restarted } : {}),
    ...(parts.windows ? { windows: parts.windows } : {}),
    ...(parts.aggregates ? { aggregates: parts.aggregates } : {}),
    ...(parts.late ? { late: parts.late } : {}),
    ...(parts.attention ? { attention: parts.attention } : {}),
    ...(d.coalesced() ? { coalesced: true, sinceSeq: Number(d.sinceSeq()) } : {}),
    ...(d.intervalMs() ? { intervalMs: d.intervalMs() } : {}),
  };
}
