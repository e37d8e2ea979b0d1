// Tick-sized columns in one ArrayBuffer each: one allocation where
// `allocateStates` makes seven and `allocateWindowStates` ten (each
// ArrayBuffer is a backing store, a zeroed malloc and external memory V8
// accounts for); and buffers used in turn for what nothing keeps past the
// next tick.
import { viewStates, viewWindowStates } from "../../protocol/columns.ts";
import type { MetricStates, WindowStates } from "../../protocol/columns.ts";
import { grownCapacity } from "./capacity.ts";

/**
 * Each update's values before the tick's merge, aligned with `updates`:
 * the base a compact delta is coded against. `has[i]` is 0 where the view
 * held nothing for update `i`'s sensor and metric (it then goes fresh).
 */
export interface PreviousColumns {
  /** Entries in the columns (at least the updates they go with). */
  readonly length: number;
  readonly has: Uint8Array;
  readonly last: Float64Array;
  readonly avg: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
}

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
  return previousColumns(
    n,
    new Uint8Array(buffer, n * 32, n),
    new Float64Array(buffer, 0, n),
    new Float64Array(buffer, n * 8, n),
    new Float64Array(buffer, n * 16, n),
    new Float64Array(buffer, n * 24, n),
  );
}

/**
 * The one place a `PreviousColumns` is made: every topic's filter reads
 * them, and objects of two shapes (a spread copy beside a literal) sent its
 * optimized code back to the interpreter ("wrong map") every few ticks.
 */
export function previousColumns(
  length: number,
  has: Uint8Array,
  last: Float64Array,
  avg: Float64Array,
  min: Float64Array,
  max: Float64Array,
): PreviousColumns {
  return { length, has, last, avg, min, max };
}

/**
 * Two buffers of columns used in turn: what `next(n)` returns (views of
 * exactly `n` entries) stays valid until the second `next` after it (a
 * tick's changes are read during their tick, and by a window served before
 * the next one; nothing keeps them longer). Grown as the hub's columns are.
 */
export class DoubleBuffer<T extends { length: number }> {
  readonly #make: (n: number) => T;
  readonly #view: (whole: T, n: number) => T;
  readonly #buffers: [T, T];
  #turn = 0;

  constructor(make: (n: number) => T, view: (whole: T, n: number) => T) {
    this.#make = make;
    this.#view = view;
    this.#buffers = [make(0), make(0)];
  }

  next(n: number): T {
    this.#turn ^= 1;
    let whole = this.#buffers[this.#turn];
    if (whole.length < n) {
      whole = this.#buffers[this.#turn] = this.#make(grownCapacity(whole.length, n));
    }
    return whole.length === n ? whole : this.#view(whole, n);
  }
}

/** The tick's merged updates (every column is written: nothing to clear). */
export function statesBuffer(): DoubleBuffer<MetricStates> {
  return new DoubleBuffer(packedStates, viewStates);
}

/** The tick's merged windows (every column is written). */
export function windowsBuffer(): DoubleBuffer<WindowStates> {
  return new DoubleBuffer(packedWindows, viewWindowStates);
}

/** The values the tick's updates replaced (the caller clears `has`: values are read only where it is 1). */
export function previousBuffer(): DoubleBuffer<PreviousColumns> {
  return new DoubleBuffer(
    packedPrevious,
    (whole, n) =>
      previousColumns(
        n,
        whole.has.subarray(0, n),
        whole.last.subarray(0, n),
        whole.avg.subarray(0, n),
        whole.min.subarray(0, n),
        whole.max.subarray(0, n),
      ),
  );
}
