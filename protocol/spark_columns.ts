// The sparkline points a ViewFrame carries for the rows entering a window
// (schema.fbs: SparkColumn): per metric, each row's last minute of values,
// as integers at a declared precision, each coded against the point before
// it in the row (the row's first point against the row's last value, which
// the same frame carries), so most fit a byte. Pure.
import type * as flatbuffers from "flatbuffers";
import { SparkColumn } from "./schema_generated.ts";
import {
  columnView,
  ColumnWriter,
  isIntColumn,
  MAX_SCALE,
  POW10,
  predict,
} from "./number_columns.ts";

/** One metric's points for the entering rows, as the encoder takes them. */
export interface SparkRows {
  metric: number;
  /** Points per entering row (0: none). */
  counts: ArrayLike<number>;
  /** Per entering row, the bucket number (time / bucket ms) of its newest point. */
  newestBucket: ArrayLike<number>;
  /** Every row's points, oldest first, row after row. */
  points: ArrayLike<number>;
}

/** One metric's points for the entering rows, decoded. */
export interface SparkRowsEvent {
  metric: number;
  counts: Uint16Array;
  newestBucket: Float64Array;
  points: Float64Array;
}

/** Decimal digits sparkline points are sent with (a line 16 px tall needs no more). */
export const SPARK_DIGITS = 2;

/** Most points one row may bring. */
export const MAX_SPARK_POINTS = 0xffff;

let ints = new Float64Array(256);
let values = new Float64Array(256);

/** The column writer of the builder last written to (a frame's builder is reused). */
let writer: { builder: flatbuffers.Builder; columns: ColumnWriter } | null = null;

function room(n: number): void {
  if (ints.length >= n) return;
  ints = new Float64Array(Math.max(n, ints.length * 2));
  values = new Float64Array(ints.length);
}

/**
 * Writes one SparkColumn. `lastOf(row)` is the row's last value of this
 * metric as the frame carries it (NaN when it has none): the predictor of
 * its first point. `frameBucket` is the frame's own bucket number.
 */
export function writeSparkColumn(
  b: flatbuffers.Builder,
  rows: SparkRows,
  o: { frameBucket: number; lastOf: (row: number) => number; scale?: number },
): flatbuffers.Offset {
  if (writer?.builder !== b) writer = { builder: b, columns: new ColumnWriter(b) };
  const columns = writer.columns;
  const scale = o.scale ?? SPARK_DIGITS;
  if (!Number.isInteger(scale) || scale < 0 || scale > MAX_SCALE) {
    throw new RangeError(`Cannot write sparkline points: scale must be 0 to ${MAX_SCALE}`);
  }
  const n = rows.counts.length;
  room(Math.max(n, rows.points.length));
  let total = 0;
  let withPoints = 0;
  for (let r = 0; r < n; r++) {
    const count = rows.counts[r];
    if (!Number.isInteger(count) || count < 0 || count > MAX_SPARK_POINTS) {
      throw new RangeError(`Cannot write sparkline points: row ${r} has ${count} points`);
    }
    ints[r] = count;
    total += count;
  }
  if (total !== rows.points.length) {
    throw new RangeError(
      `Cannot write sparkline points: the rows count ${total} points, not ${rows.points.length}`,
    );
  }
  const counts = columns.ints(ints, n);
  const countsType = columns.type;
  for (let r = 0; r < n; r++) {
    if (rows.counts[r] > 0) ints[withPoints++] = o.frameBucket - rows.newestBucket[r];
  }
  let ages = 0, agesType = 0;
  if (withPoints > 0) {
    ages = columns.ints(ints, withPoints);
    agesType = columns.type;
  }
  // Points: differences of scaled integers, or the values as floats when they do not scale.
  const p = POW10[scale];
  let at = 0;
  let scaled = true;
  for (let r = 0; r < n && scaled; r++) {
    let previous = predict(o.lastOf(r), scale);
    for (let k = 0; k < rows.counts[r]; k++, at++) {
      const v = rows.points[at] * p;
      if (!(v <= 2 ** 53 && v >= -(2 ** 53))) {
        scaled = false;
        break;
      }
      const s = Math.round(v);
      ints[at] = s - previous;
      previous = s;
    }
  }
  let points = 0, pointsType = 0;
  if (total > 0) {
    if (scaled && columns.fits(ints, total)) points = columns.ints(ints, total);
    else {
      for (let i = 0; i < total; i++) values[i] = Math.fround(rows.points[i]);
      points = columns.floats(values, total);
    }
    pointsType = columns.type;
  }
  SparkColumn.startSparkColumn(b);
  SparkColumn.addMetric(b, rows.metric);
  SparkColumn.addCountsType(b, countsType);
  SparkColumn.addCounts(b, counts);
  if (ages) {
    SparkColumn.addAgesType(b, agesType);
    SparkColumn.addAges(b, ages);
  }
  if (scale > 0) SparkColumn.addScale(b, scale);
  if (points) {
    SparkColumn.addPointsType(b, pointsType);
    SparkColumn.addPoints(b, points);
  }
  return SparkColumn.endSparkColumn(b);
}

function invalid(message: string): never {
  throw new TypeError(`Invalid sparkline points: ${message}`);
}

/** Reads a verified SparkColumn for `rows` entering rows. */
export function readSparkColumn(
  c: SparkColumn,
  o: { rows: number; frameBucket: number; lastOf: (row: number) => number },
): SparkRowsEvent {
  const counts = columnView(c.countsType(), (h) => c.counts(h as never));
  if (counts === null || !isIntColumn(c.countsType())) invalid("no counts");
  if (counts.length !== o.rows) invalid(`${counts.length} counts for ${o.rows} rows`);
  const out: SparkRowsEvent = {
    metric: c.metric(),
    counts: new Uint16Array(o.rows),
    newestBucket: new Float64Array(o.rows),
    points: new Float64Array(0),
  };
  let total = 0;
  let withPoints = 0;
  for (let r = 0; r < o.rows; r++) {
    const count = counts[r];
    if (count < 0 || count > MAX_SPARK_POINTS) invalid(`row ${r} has ${count} points`);
    out.counts[r] = count;
    total += count;
    if (count > 0) withPoints++;
  }
  const ages = columnView(c.agesType(), (h) => c.ages(h as never));
  if ((ages?.length ?? 0) !== withPoints) invalid(`${ages?.length ?? 0} ages for ${withPoints}`);
  for (let r = 0, a = 0; r < o.rows; r++) {
    if (out.counts[r] > 0) out.newestBucket[r] = o.frameBucket - ages![a++];
  }
  const points = columnView(c.pointsType(), (h) => c.points(h as never));
  if ((points?.length ?? 0) !== total) invalid(`${points?.length ?? 0} points for ${total}`);
  out.points = new Float64Array(total);
  if (total === 0) return out;
  const scale = c.scale();
  if (scale < 0 || scale > MAX_SCALE) invalid(`scale ${scale}`);
  if (!isIntColumn(c.pointsType())) {
    out.points.set(points!);
    return out;
  }
  const p = POW10[scale];
  for (let r = 0, at = 0; r < o.rows; r++) {
    let previous = predict(o.lastOf(r), scale);
    for (let k = 0; k < out.counts[r]; k++, at++) {
      previous += points![at];
      out.points[at] = previous / p;
    }
  }
  return out;
}
