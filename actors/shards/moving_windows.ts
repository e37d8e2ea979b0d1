/**
 * The moving windows of one shard's sensor metrics, by slot, in columns: a
 * ring of the last `window` values (in arrival order, late ones included)
 * and the value with the newest event time. The average, min and max are
 * computed from the ring when they are read (a flush reads only the slots
 * that changed), so they are exact and a reading costs a few stores.
 * Columns grow by fixed pages: no doubling slack, no copy when they grow.
 * Pure: no clocks, no I/O, no allocation per reading.
 */

/** Slots per page of the scalar columns. */
const PAGE_BITS = 10;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;
/** A ring page holds about this many values (a power of two of slots, at least one). */
const RING_PAGE_VALUES = 1 << 16;

class ScalarPage {
  readonly last = new Float64Array(PAGE);
  readonly timeMs = new Float64Array(PAGE);
  /** Ring position the next value goes to, and values held (≤ window). */
  readonly next = new Uint32Array(PAGE);
  readonly filled = new Uint32Array(PAGE);
}

/** Avg, min and max of a slot's window (see `MovingWindows.read`). */
export interface WindowSummary {
  avg: number;
  min: number;
  max: number;
}

export class MovingWindows {
  readonly window: number;
  readonly #ringBits: number;
  readonly #ringMask: number;
  readonly #pages: ScalarPage[] = [];
  readonly #rings: Float64Array[] = [];
  /** Slots the pages can hold. */
  #capacity = 0;

  constructor(window: number) {
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(`Cannot keep a moving average over ${window} readings`);
    }
    this.window = window;
    let bits = 0;
    while (bits < PAGE_BITS && (2 << bits) * window <= RING_PAGE_VALUES) bits++;
    this.#ringBits = bits;
    this.#ringMask = (1 << bits) - 1;
  }

  /** Bytes the columns hold (for memory accounting). */
  get bytes(): number {
    return this.#pages.length * PAGE * 24 + this.#rings.length * (1 << this.#ringBits) *
        this.window * 8;
  }

  /** Makes slots `0..slots-1` addressable (a restore knows how many up front). */
  reserve(slots: number): void {
    while (slots > this.#capacity) {
      this.#pages.push(new ScalarPage());
      this.#capacity += PAGE;
    }
    const ringPages = ((slots - 1) >>> this.#ringBits) + 1;
    while (slots > 0 && this.#rings.length < ringPages) {
      this.#rings.push(new Float64Array((1 << this.#ringBits) * this.window));
    }
  }

  /** Makes `slot` usable and empty (no value yet). */
  reset(slot: number): void {
    this.reserve(slot + 1);
    const page = this.#pages[slot >>> PAGE_BITS];
    const i = slot & MASK;
    page.last[i] = NaN;
    page.timeMs[i] = -Infinity;
    page.next[i] = 0;
    page.filled[i] = 0;
  }

  add(slot: number, value: number, timeMs: number): void {
    const page = this.#pages[slot >>> PAGE_BITS];
    const i = slot & MASK;
    const ring = this.#rings[slot >>> this.#ringBits];
    const base = (slot & this.#ringMask) * this.window;
    const at = page.next[i];
    ring[base + at] = value;
    page.next[i] = at + 1 === this.window ? 0 : at + 1;
    if (page.filled[i] < this.window) page.filled[i]++;
    // Late readings still count, but the last value is the newest by event time (a tie: the later).
    if (timeMs >= page.timeMs[i]) {
      page.last[i] = value;
      page.timeMs[i] = timeMs;
    }
  }

  last(slot: number): number {
    return this.#pages[slot >>> PAGE_BITS].last[slot & MASK];
  }

  timeMs(slot: number): number {
    return this.#pages[slot >>> PAGE_BITS].timeMs[slot & MASK];
  }

  /** Values in the window (0 before the first reading). */
  filled(slot: number): number {
    return this.#pages[slot >>> PAGE_BITS].filled[slot & MASK];
  }

  /** Avg (NaN when empty), min (Infinity) and max (-Infinity) of the slot's window, into `out`. */
  read(slot: number, out: WindowSummary): WindowSummary {
    const page = this.#pages[slot >>> PAGE_BITS];
    const filled = page.filled[slot & MASK];
    const ring = this.#rings[slot >>> this.#ringBits];
    const base = (slot & this.#ringMask) * this.window;
    // Oldest first, so the sum (and its rounding) does not depend on where the ring starts.
    const oldest = filled < this.window ? 0 : page.next[slot & MASK];
    let sum = 0, min = Infinity, max = -Infinity;
    for (let k = base + oldest; k < base + filled; k++) {
      const v = ring[k];
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    for (let k = base; k < base + oldest; k++) {
      const v = ring[k];
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    out.avg = filled === 0 ? NaN : sum / filled;
    out.min = min;
    out.max = max;
    return out;
  }

  /**
   * The slot's state for a checkpoint: `[last, timeMs]` into `f64` at
   * `at`, then the ring's filled values from its oldest; returns the offset after them.
   */
  save(slot: number, f64: Float64Array, at: number): number {
    const page = this.#pages[slot >>> PAGE_BITS];
    const i = slot & MASK;
    f64[at] = page.last[i];
    f64[at + 1] = page.timeMs[i];
    const filled = page.filled[i];
    const ring = this.#rings[slot >>> this.#ringBits];
    const base = (slot & this.#ringMask) * this.window;
    // Oldest first, so a restore needs no ring position and a window change could re-slice it.
    const oldest = filled < this.window ? 0 : page.next[i];
    const head = ring.subarray(base + oldest, base + filled);
    f64.set(head, at + 2);
    if (oldest > 0) f64.set(ring.subarray(base, base + oldest), at + 2 + head.length);
    return at + 2 + filled;
  }

  /** Reads what `save` wrote for `filled` values (≤ window) into a reset slot; returns the offset after it. */
  restore(slot: number, f64: Float64Array, at: number, filled: number): number {
    if (filled > this.window) {
      throw new RangeError(`Cannot restore ${filled} values into a window of ${this.window}`);
    }
    // Every column of the slot is written below: no reset first.
    if (slot >= this.#capacity || slot >>> this.#ringBits >= this.#rings.length) {
      this.reserve(slot + 1);
    }
    const page = this.#pages[slot >>> PAGE_BITS];
    const i = slot & MASK;
    page.last[i] = f64[at];
    page.timeMs[i] = f64[at + 1];
    page.filled[i] = filled;
    page.next[i] = filled === this.window ? 0 : filled;
    const base = (slot & this.#ringMask) * this.window;
    const ring = this.#rings[slot >>> this.#ringBits];
    // A loop, not set(subarray): a restart restores every slot, and a view per slot is garbage.
    for (let k = 0; k < filled; k++) ring[base + k] = f64[at + 2 + k];
    return at + 2 + filled;
  }
}
