// The number columns of a CompactDelta: decimal scaling, predictors, and the
// narrowest FlatBuffers vector (a `Column` union member) that holds a column.
// Both sides compute scaled integers and predictors with exactly these
// functions, so a value the encoder checked as lossless decodes bit for bit.
import type * as flatbuffers from "flatbuffers";
import {
  Column,
  F32Column,
  F64Column,
  I16Column,
  I32Column,
  I8Column,
  U16Column,
  U32Column,
  U8Column,
} from "./schema_generated.ts";

/** Largest decimal exponent a column is scaled by. */
export const MAX_SCALE = 15;

/** 10^k as exact doubles (literals, not Math.pow). */
export const POW10: readonly number[] = Object.freeze([
  1,
  10,
  100,
  1e3,
  1e4,
  1e5,
  1e6,
  1e7,
  1e8,
  1e9,
  1e10,
  1e11,
  1e12,
  1e13,
  1e14,
  1e15,
]);

/** Scaled integers stay within the doubles' exact integers. */
const SAFE = 2 ** 53;

/**
 * The integer a base value predicts at scale `k`: round(base·10^k) when
 * that is finite and exact, else 0. The decoder calls this with the value it
 * holds, the encoder with the same value: both get the same integer.
 */
export function predict(base: number, k: number): number {
  const scaled = base * POW10[k];
  return scaled <= SAFE && scaled >= -SAFE ? Math.round(scaled) : 0; // NaN fails both tests
}

/** True when `v` survives scaling by 10^k: round(v·10^k)/10^k is v itself (and not -0). */
export function exactAt(v: number, k: number): boolean {
  const scaled = v * POW10[k];
  if (!(scaled <= SAFE && scaled >= -SAFE)) return false;
  return Math.round(scaled) / POW10[k] === v && !(v === 0 && 1 / v < 0);
}

/**
 * The integer k with k / p === value exactly and |k| <= limit (p a power of
 * ten), or NaN when there is none (a -0 has none: it would come back as 0).
 * For values held as integers scaled by 10^d (the moving windows' ring pages,
 * the sparkline pages), so a read gives back the very double.
 */
export function scaledWithin(value: number, p: number, limit: number): number {
  const n = Math.round(value * p);
  return n / p === value && n <= limit && n >= -limit && (value !== 0 || 1 / value > 0) ? n : NaN;
}

/**
 * The smallest scale at which every one of `values[0..n)` is exact, or -1
 * (then the column is sent as floats).
 */
export function losslessScale(values: Float64Array, n: number): number {
  let k = 0;
  let raisedAt = 0;
  for (let i = 0; i < n; i++) {
    if (exactAt(values[i], k)) continue;
    do if (++k > MAX_SCALE) return -1; while (!exactAt(values[i], k));
    raisedAt = i;
  }
  // Exact at a smaller scale does not always mean exact at a larger one: check those again.
  for (let i = 0; i < raisedAt; i++) if (!exactAt(values[i], k)) return -1;
  return k;
}

/** True when every one of `values[0..n)` can be scaled at `k` (a lossy, declared precision). */
export function scalableAt(values: Float64Array, n: number, k: number): boolean {
  const p = POW10[k];
  for (let i = 0; i < n; i++) {
    const scaled = values[i] * p;
    if (!(scaled <= SAFE && scaled >= -SAFE)) return false;
  }
  return true;
}

/**
 * Writes columns into a builder in the narrowest type. After each call,
 * `type` is the union type of the column just written.
 */
export class ColumnWriter {
  type: Column = Column.NONE;
  readonly #builder: flatbuffers.Builder;

  constructor(builder: flatbuffers.Builder) {
    this.#builder = builder;
  }

  /** Integers `ints[0..n)`; false (nothing written) when they do not fit 32 bits. */
  fits(ints: Float64Array, n: number): boolean {
    return widthOf(ints, n) !== Column.NONE;
  }

  /** Writes integers that `fits` accepted; returns the union table's offset. */
  ints(ints: Float64Array, n: number): flatbuffers.Offset {
    const b = this.#builder;
    const type = widthOf(ints, n);
    if (type === Column.NONE) {
      throw new RangeError("Cannot write a column: integers exceed 32 bits");
    }
    const size = type === Column.U8Column || type === Column.I8Column
      ? 1
      : type === Column.U16Column || type === Column.I16Column
      ? 2
      : 4;
    b.startVector(size, n, size);
    // Back to front, into the room startVector made. write* keeps the low bits: right for
    // both signs.
    if (size === 1) { for (let i = n - 1; i >= 0; i--) b.writeInt8(ints[i]); }
    else if (size === 2) { for (let i = n - 1; i >= 0; i--) b.writeInt16(ints[i]); }
    else for (let i = n - 1; i >= 0; i--) b.writeInt32(ints[i]);
    return this.#wrap(type, b.endVector());
  }

  /** Writes values as they are: float32 when every one is exactly a float32, else float64. */
  floats(values: Float64Array, n: number): flatbuffers.Offset {
    const b = this.#builder;
    let single = true;
    for (let i = 0; i < n && single; i++) single = Object.is(Math.fround(values[i]), values[i]);
    if (single) {
      b.startVector(4, n, 4);
      for (let i = n - 1; i >= 0; i--) b.writeFloat32(values[i]);
      return this.#wrap(Column.F32Column, b.endVector());
    }
    b.startVector(8, n, 8);
    for (let i = n - 1; i >= 0; i--) b.writeFloat64(values[i]);
    return this.#wrap(Column.F64Column, b.endVector());
  }

  #wrap(type: Column, vector: flatbuffers.Offset): flatbuffers.Offset {
    const b = this.#builder;
    b.startObject(1);
    b.addFieldOffset(0, vector, 0);
    this.type = type;
    return b.endObject();
  }
}

function widthOf(ints: Float64Array, n: number): Column {
  let min = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = ints[i];
    if (v < min) min = v;
    else if (v > max) max = v;
  }
  if (min >= 0) {
    return max <= 0xff
      ? Column.U8Column
      : max <= 0xffff
      ? Column.U16Column
      : max <= 0xffff_ffff
      ? Column.U32Column
      : Column.NONE;
  }
  return min >= -0x80 && max <= 0x7f
    ? Column.I8Column
    : min >= -0x8000 && max <= 0x7fff
    ? Column.I16Column
    : min >= -0x8000_0000 && max <= 0x7fff_ffff
    ? Column.I32Column
    : Column.NONE;
}

/** True for union types that hold integers (scaled, gaps or positions). */
export function isIntColumn(type: Column): boolean {
  return type >= Column.U8Column && type <= Column.I32Column;
}

/** Bytes per element and alignment of each union member's vector, by type. */
export const ELEMENT_SIZE: readonly number[] = Object.freeze([0, 1, 1, 2, 2, 4, 4, 4, 8]);

/** A column's numbers: a typed-array view into the frame. */
export type ColumnView =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

const holders = {
  u8: new U8Column(),
  i8: new I8Column(),
  u16: new U16Column(),
  i16: new I16Column(),
  u32: new U32Column(),
  i32: new I32Column(),
  f32: new F32Column(),
  f64: new F64Column(),
};

/**
 * The numbers of a verified column, given its type and the generated union
 * accessor; null when absent. Views share the frame's buffer (no copy).
 */
export function columnView(
  type: Column,
  get: (holder: unknown) => unknown,
): ColumnView | null {
  switch (type) {
    case Column.NONE:
      return null;
    case Column.U8Column:
      return (get(holders.u8) as U8Column).vArray() ?? new Uint8Array(0);
    case Column.I8Column:
      return (get(holders.i8) as I8Column).vArray() ?? new Int8Array(0);
    case Column.U16Column:
      return (get(holders.u16) as U16Column).vArray() ?? new Uint16Array(0);
    case Column.I16Column:
      return (get(holders.i16) as I16Column).vArray() ?? new Int16Array(0);
    case Column.U32Column:
      return (get(holders.u32) as U32Column).vArray() ?? new Uint32Array(0);
    case Column.I32Column:
      return (get(holders.i32) as I32Column).vArray() ?? new Int32Array(0);
    case Column.F32Column:
      return (get(holders.f32) as F32Column).vArray() ?? new Float32Array(0);
    case Column.F64Column:
      return (get(holders.f64) as F64Column).vArray() ?? new Float64Array(0);
    default:
      throw new TypeError(`Invalid frame: unknown column type ${type}`);
  }
}
