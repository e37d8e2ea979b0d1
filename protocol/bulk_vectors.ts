// Scalar vectors and ASCII strings written into a flatbuffers Builder with one
// copy each, byte for byte what the generated create*Vector and
// `createString` write one element (and one call chain) at a time: the log
// re-encodes every ingest batch over a chunk's size, thousands of elements a
// chunk.
import type * as flatbuffers from "flatbuffers";

/**
 * The Builder's write position (`space`, counted from the end of its byte
 * buffer, which it fills backwards). Not in its typings, but its whole state:
 * `startVector` has made room for the vector and aligned it, so writing the
 * elements is moving `space` down over them.
 */
interface BuilderSpace {
  space: number;
  bb: flatbuffers.ByteBuffer;
}

/** Typed arrays hold little-endian bytes here, as FlatBuffers does: their bytes can be copied. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Room for `n` elements of `size` bytes, made and aligned by `startVector`; the start of it. */
function claim(b: flatbuffers.Builder, size: number, n: number, alignment: number): number {
  b.startVector(size, n, alignment);
  const inner = b as unknown as BuilderSpace;
  inner.space -= size * n;
  return inner.space;
}

function bytesOf(b: flatbuffers.Builder): Uint8Array {
  return (b as unknown as BuilderSpace).bb.bytes();
}

/** A vector of 32-bit integers (`uint`/`int` elements), as the generated create*Vector writes it. */
export function uint32Vector(b: flatbuffers.Builder, data: Uint32Array): flatbuffers.Offset {
  if (!LITTLE_ENDIAN) return slowVector(b, data, 4, (x) => b.addInt32(x));
  const at = claim(b, 4, data.length, 4);
  bytesOf(b).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
  return b.endVector();
}

/** A vector of bytes (`ubyte` elements). */
export function uint8Vector(b: flatbuffers.Builder, data: Uint8Array): flatbuffers.Offset {
  const at = claim(b, 1, data.length, 1);
  bytesOf(b).set(data, at);
  return b.endVector();
}

/**
 * A vector of doubles. A NaN goes through the generated path, whose number
 * conversions may not keep its payload bits: the bytes stay the same as its.
 */
export function float64Vector(b: flatbuffers.Builder, data: Float64Array): flatbuffers.Offset {
  let nan = false;
  for (let i = 0; i < data.length && !nan; i++) nan = data[i] !== data[i];
  if (!LITTLE_ENDIAN || nan) return slowVector(b, data, 8, (x) => b.addFloat64(x));
  const at = claim(b, 8, data.length, 8);
  bytesOf(b).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
  return b.endVector();
}

/** A vector of offsets to objects already written (`addOffset` per element, back to front). */
export function offsetVector(
  b: flatbuffers.Builder,
  offsets: Int32Array,
  n = offsets.length,
): flatbuffers.Offset {
  const at = claim(b, 4, n, 4);
  const bytes = bytesOf(b);
  // An offset is relative to where it is stored: element i lies at `at + 4i`,
  // `capacity - at - 4i` from the end, which is how the Builder counts.
  const end = bytes.length - at;
  for (let i = 0; i < n; i++) {
    const value = end - 4 * i - offsets[i];
    const p = at + 4 * i;
    bytes[p] = value;
    bytes[p + 1] = value >> 8;
    bytes[p + 2] = value >> 16;
    bytes[p + 3] = value >> 24;
  }
  return b.endVector();
}

/** `b.createString(s)`, byte for byte; an ASCII string without a TextEncoder copy or a call per byte. */
export function writeString(b: flatbuffers.Builder, s: string): flatbuffers.Offset {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return b.createString(s);
  b.addInt8(0);
  const at = claim(b, 1, n, 1);
  const bytes = bytesOf(b);
  for (let i = 0; i < n; i++) bytes[at + i] = s.charCodeAt(i);
  return b.endVector();
}

function slowVector(
  b: flatbuffers.Builder,
  data: ArrayLike<number>,
  size: number,
  add: (x: number) => void,
): flatbuffers.Offset {
  b.startVector(size, data.length, size);
  for (let i = data.length - 1; i >= 0; i--) add(data[i]);
  return b.endVector();
}
