// Tick-sized columns in one ArrayBuffer each: one allocation where
// `allocateStates` makes seven and `allocateWindowStates` ten (each
// ArrayBuffer is a backing store, a zeroed malloc and external memory V8
// accounts for); and a double-buffered scratch for the previous values,
// which nothing keeps past the next tick.
import type { MetricStates, WindowStates } from "../../protocol/columns.ts";
import type { PreviousColumns } from "./feed_view.ts";

/** Metric-state columns of `n` entries in one buffer; properties in `allocateStates`' order (one shape). */
export function packedStates(n: number): MetricStates {
  const buffer = new ArrayBuffer(n * (5 * 8 + 4 + 2));
  return {
    length: n,
    sensor: new Uint32Array(buffer, n * 40, n),
    metric: new Uint16Array(buffer, n * 44, n),
    last: new Float64Array(buffer, 0, n),
    avg: new Float64Array(buffer, n * 8, n),
    min: new Float64Array(buffer, n * 16, n),
    max: new Float64Array(buffer, n * 24, n),
    timeMs: new Float64Array(buffer, n * 32, n),
  };
}

/** Window columns of `n` entries in one buffer; properties in `allocateWindowStates`' order. */
export function packedWindows(n: number): WindowStates {
  const buffer = new ArrayBuffer(n * (6 * 8 + 4 + 2 + 1 + 1));
  return {
    length: n,
    sensor: new Uint32Array(buffer, n * 48, n),
    metric: new Uint16Array(buffer, n * 52, n),
    size: new Uint8Array(buffer, n * 54, n),
    flags: new Uint8Array(buffer, n * 55, n),
    startMs: new Float64Array(buffer, 0, n),
    count: new Float64Array(buffer, n * 8, n),
    sum: new Float64Array(buffer, n * 16, n),
    min: new Float64Array(buffer, n * 24, n),
    max: new Float64Array(buffer, n * 32, n),
    std: new Float64Array(buffer, n * 40, n),
  };
}

/** Previous-value columns of `n` entries in one buffer. */
export function packedPrevious(n: number): PreviousColumns {
  const buffer = new ArrayBuffer(n * (4 * 8 + 1));
  return {
    has: new Uint8Array(buffer, n * 32, n),
    last: new Float64Array(buffer, 0, n),
    avg: new Float64Array(buffer, n * 8, n),
    min: new Float64Array(buffer, n * 16, n),
    max: new Float64Array(buffer, n * 24, n),
  };
}

/**
 * Two previous-value buffers used in turn: the columns `next(n)` returns
 * stay valid until the second `next` after it (a tick's changes are read
 * during their tick, and by a window served before the next one). `has` is
 * cleared; the values are left as they were (read only where `has` is 1).
 */
export class PreviousScratch {
  readonly #buffers: [PreviousColumns, PreviousColumns] = [packedPrevious(0), packedPrevious(0)];
  #turn = 0;

  next(n: number): PreviousColumns {
    this.#turn ^= 1;
    let whole = this.#buffers[this.#turn];
    if (whole.has.length < n) {
      // Grown to at least twice the need: a tick's update count wanders up and down.
      whole = this.#buffers[this.#turn] = packedPrevious(Math.max(n, 2 * whole.has.length, 1024));
    }
    if (whole.has.length === n) {
      whole.has.fill(0);
      return whole;
    }
    const has = whole.has.subarray(0, n);
    has.fill(0);
    return {
      has,
      last: whole.last.subarray(0, n),
      avg: whole.avg.subarray(0, n),
      min: whole.min.subarray(0, n),
      max: whole.max.subarray(0, n),
    };
  }
}
