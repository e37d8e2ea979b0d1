/**
 * A shard's saved state: a small JSON header and its sensors in pages of
 * `SENSOR_PAGE` (by index in the shard), each page encoded on its own, so a
 * checkpoint can rewrite only the pages that changed. A page is one byte
 * buffer: a JSON part (its strings), then every number as float64, every
 * small integer as uint32 (or int32), and narrow ring values as int16, in
 * three sections, so rings and windows copy in bulk.
 */
import type { WindowSpec } from "./event_window_store.ts";

/** Sensors per page (a power of two). */
export const SENSOR_PAGE = 1024;
export const SENSOR_PAGE_BITS = 10;
/**
 * The layout written by this code; other layouts are not restored (the log
 * is replayed instead). 4: a larger event window saves only its closed
 * smallest windows, merged (3 saved every reading in it). 5: a window of no
 * reading or of one is saved in 2 or 3 numbers instead of 9, and a moving
 * window's ring as the integers its ring page holds (int16 or int32).
 */
export const IMAGE_FORMAT = 5;

/** What a shard saves besides its pages. */
export interface ShardHeader {
  format: number;
  window: number;
  spec: WindowSpec;
  /** Numbers per saved window. */
  slotLength: number;
  pageSize: number;
  /** Sensor indexes in use (pages = ceil(sensors / pageSize)). */
  sensors: number;
  /**
   * Newest event time seen, each reading's no later than when it was
   * accepted (`EventWindowStore.newestMs`); null before the first reading
   * (JSON has no -Infinity). Images from before the bound read the same.
   */
  newestMs: number | null;
  lateDropped: number;
  /** Metric indexes this shard has reported. */
  metrics: number[];
}

/**
 * A shard's state, or the part of it that changed: `pages[p]` is null for a
 * page unchanged since the checkpoint the request named (`full` false).
 */
export interface ShardImage {
  header: ShardHeader;
  pages: (Uint8Array | null)[];
  /** Every page is given (no earlier checkpoint is needed to read it). */
  full: boolean;
}

/** A page's parts, as `allocatePage` lays them out. */
export interface PageParts {
  sensors: number;
  strings: string[];
  f64: Float64Array;
  u32: Uint32Array;
  /** The same bytes as `u32`, signed (ring values saved as int32). */
  i32: Int32Array;
  /** Ring values saved as int16 (most readings have a fixed resolution: 2 bytes, not 8). */
  i16: Int16Array;
}

/** Sections of a page of these sizes, to fill. */
export function allocatePage(
  sensors: number,
  strings: string[],
  sizes: { f64: number; u32: number; i16?: number },
): { parts: PageParts; bytes: Uint8Array } {
  const i16 = sizes.i16 ?? 0;
  const header = new TextEncoder().encode(
    JSON.stringify({ sensors, strings, f64: sizes.f64, u32: sizes.u32, i16 }),
  );
  const start = align8(4 + header.byteLength);
  const bytes = new Uint8Array(start + sizes.f64 * 8 + sizes.u32 * 4 + i16 * 2);
  new DataView(bytes.buffer).setUint32(0, header.byteLength, true);
  bytes.set(header, 4);
  return {
    bytes,
    parts: sections(bytes.buffer, start, sensors, strings, sizes.f64, sizes.u32, i16),
  };
}

function sections(
  buffer: ArrayBufferLike,
  start: number,
  sensors: number,
  strings: string[],
  f64: number,
  u32: number,
  i16: number,
): PageParts {
  return {
    sensors,
    strings,
    f64: new Float64Array(buffer, start, f64),
    u32: new Uint32Array(buffer, start + f64 * 8, u32),
    i32: new Int32Array(buffer, start + f64 * 8, u32),
    i16: new Int16Array(buffer, start + f64 * 8 + u32 * 4, i16),
  };
}

/** The parts of an encoded page (views over its bytes, copied first if unaligned). */
export function decodePage(page: Uint8Array): PageParts {
  const bytes = page.byteOffset % 8 === 0 ? page : page.slice();
  if (bytes.byteLength < 4) throw new RangeError("Cannot read a shard page: it has no header");
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  if (4 + length > bytes.byteLength) {
    throw new RangeError("Cannot read a shard page: its header is cut short");
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
  } catch {
    throw new RangeError("Cannot read a shard page: its header is not JSON");
  }
  const { sensors, strings, f64, u32, i16 } = (header ?? {}) as Record<string, unknown>;
  if (
    !isCount(sensors) || !isCount(f64) || !isCount(u32) || !isCount(i16) ||
    !Array.isArray(strings) || !strings.every((s) => typeof s === "string")
  ) {
    throw new RangeError("Cannot read a shard page: its header is not a page header");
  }
  const start = bytes.byteOffset + align8(4 + length);
  if (start - bytes.byteOffset + f64 * 8 + u32 * 4 + i16 * 2 > bytes.byteLength) {
    throw new RangeError("Cannot read a shard page: it is shorter than its header says");
  }
  return sections(bytes.buffer, start, sensors, strings, f64, u32, i16);
}

function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
