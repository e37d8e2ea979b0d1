/**
 * The moving windows of one shard's sensor metrics, by slot, in columns: a
 * ring of the last `window` values (in arrival order, late ones included)
 * and the value with the newest event time.
 * The average is exact: in a narrow ring page (below) it is the integers'
 * sum, kept as values come and go, over 10^d × count, one correctly rounded
 * division (the mean of the decimals as sent); in a float64 page it is
 * recomputed from the ring, summed oldest first. Min and max are kept as
 * values come and rescanned when one leaves that was the min or the max
 * (about 2 readings in `window`), or after a restore or a rescale. So a
 * flush (it reads only the slots that changed) does not walk each window.
 * Columns grow by fixed pages: no doubling slack, no copy when they grow.
 * A ring page keeps its values as integers k with k / 10^d === value (d ≤ 4,
 * one d per page: readings usually have a fixed resolution, e.g. 21.3), in
 * int16 while every k fits (a quarter of the bytes of float64), then int32;
 * the first value that does not come back exactly (or a -0) widens the page
 * to float64 for good. Reads divide, so they give back the very doubles that
 * were added.
 * Pure: no clocks, no I/O, no allocation per reading.
 */
import { allocateStates } from "../../protocol/columns.ts";
import type { MetricStates } from "../../protocol/columns.ts";
import { POW10, scaledWithin } from "../../protocol/number_columns.ts";

/** Slots per page of the scalar columns. */
const PAGE_BITS = 10;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;
/** A ring page holds about this many values (a power of two of slots, at least one). */
const RING_PAGE_VALUES = 1 << 16;
/** Largest decimal scale a narrow ring page takes (10^4 keeps values up to ±214,748 in int32). */
const MAX_DECIMALS = 4;
const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;
const INT16_MAX = 0x7fff;
/** Largest window whose integer sum stays exact in a double (|k| ≤ 2^31, 2^21 of them < 2^53). */
const MAX_KEPT_WINDOW = 1 << 21;

/** Doubles a slot takes. */
const S = 6;
/** The last value (by event time) and its time. */
const LAST = 0, TIME = 1;
/**
 * While `KEPT` is 1 (and the ring page is narrow): the window's integers'
 * sum, min and max, at its page's scale (an empty window's min and max:
 * INT32_MAX and INT32_MIN). `KEPT` is 0 after a restore or a rescale, or
 * once the min or max left: the next read rescans.
 */
const SUM = 2;
/** Int32s: ring position the next value goes to, values held (≤ window), and the kept min and max. */
const NEXT = 6, FILLED = 7, KMIN = 8, KMAX = 9, KEPT = 10;

/**
 * A page of slots' scalars, 48 bytes a slot in one buffer (`f[slot * S + ...]`
 * for the doubles, `i[slot * 2 * S + ...]` for the int32s): a reading touches
 * one or two cache lines for them, not the eight of a column each.
 */
class ScalarPage {
  readonly f: Float64Array;
  readonly i: Int32Array;
  constructor() {
    const buffer = new ArrayBuffer(PAGE * S * 8);
    this.f = new Float64Array(buffer);
    this.i = new Int32Array(buffer);
  }
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
  /** Per ring page: its values as float64 (null while narrow)... */
  readonly #rings: (Float64Array | null)[] = [];
  /** ...or as integers scaled by `#scale` (null once wide). */
  readonly #narrow: (Int16Array | Int32Array | null)[] = [];
  /** Per ring page: 10^d of its narrow values, 0 once wide. */
  readonly #scale: number[] = [];
  /** Per ring page: the largest |k| its narrow array holds (INT16_MAX or INT32_MAX). */
  readonly #limit: number[] = [];
  /**
   * Per ring page: one past the highest entry ever written (those above are
   * still 0), so a rescale or widening touches only those: a restore fills
   * a fresh page slot by slot and rescales it as the first values come.
   */
  readonly #top: number[] = [];
  readonly #ringLength: number;
  /** Whether sums, min and max are kept per slot (a window too long for an exact integer sum: no). */
  readonly #keeps: boolean;
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
    this.#ringLength = (1 << bits) * window;
    this.#keeps = window <= MAX_KEPT_WINDOW;
  }

  /** Bytes the columns hold (for memory accounting). */
  get bytes(): number {
    let rings = 0;
    for (let r = 0; r < this.#scale.length; r++) {
      rings += this.#scale[r] === 0 ? this.#ringLength * 8 : this.#narrow[r]!.byteLength;
    }
    return this.#pages.length * PAGE * S * 8 + rings;
  }

  /** Makes slots `0..slots-1` addressable (a restore knows how many up front). */
  reserve(slots: number): void {
    while (slots > this.#capacity) {
      this.#pages.push(new ScalarPage());
      this.#capacity += PAGE;
    }
    const ringPages = ((slots - 1) >>> this.#ringBits) + 1;
    while (slots > 0 && this.#scale.length < ringPages) {
      this.#rings.push(null);
      this.#narrow.push(new Int16Array(this.#ringLength));
      this.#scale.push(1);
      this.#limit.push(INT16_MAX);
      this.#top.push(0);
    }
  }

  /** Makes `slot` usable and empty (no value yet). */
  reset(slot: number): void {
    this.reserve(slot + 1);
    const page = this.#pages[slot >>> PAGE_BITS];
    const i = slot & MASK;
    page.f[i * S + LAST] = NaN;
    page.f[i * S + TIME] = -Infinity;
    page.i[i * 2 * S + NEXT] = 0;
    page.i[i * 2 * S + FILLED] = 0;
    page.f[i * S + SUM] = 0;
    page.i[i * 2 * S + KMIN] = INT32_MAX;
    page.i[i * 2 * S + KMAX] = INT32_MIN;
    page.i[i * 2 * S + KEPT] = this.#keeps ? 1 : 0;
  }

  add(slot: number, value: number, timeMs: number): void {
    const arg = MovingWindows.#arg;
    arg[0] = value;
    arg[1] = timeMs;
    this.addFrom(slot, arg, 0, arg, 1);
  }

  static readonly #arg = new Float64Array(2);

  /**
   * `add` of `values[v]` at `times[row]`, read from the columns here (the
   * shards' hot path): a double passed to a call V8 does not inline is
   * boxed, garbage for every value.
   */
  addFrom(slot: number, values: Float64Array, v: number, times: Float64Array, row: number): void {
    const value = values[v], timeMs = times[row];
    const page = this.#pages[slot >>> PAGE_BITS];
    const a = (slot & MASK) * S, b = 2 * a;
    const base = (slot & this.#ringMask) * this.window;
    const at = page.i[b + NEXT];
    const r = slot >>> this.#ringBits;
    const full = page.i[b + FILLED] === this.window;
    // The value leaving (a full window's oldest), read before it is overwritten; a
    // rescale in `#put` unkeeps every slot of the page, so `kept` below means the same scale.
    const narrow = this.#narrow[r];
    const out = full && narrow !== null ? narrow[base + at] : 0;
    this.#put(r, base + at, values, v);
    page.i[b + NEXT] = at + 1 === this.window ? 0 : at + 1;
    if (!full) page.i[b + FILLED]++;
    if (page.i[b + KEPT] === 1) {
      if (this.#scale[r] === 0) page.i[b + KEPT] = 0; // widened: a float64 page is summed when read
      else {
        const n = this.#narrow[r]![base + at];
        page.f[a + SUM] += n - out;
        if (full && (out === page.i[b + KMIN] || out === page.i[b + KMAX])) page.i[b + KEPT] = 0;
        else {
          if (n < page.i[b + KMIN]) page.i[b + KMIN] = n;
          if (n > page.i[b + KMAX]) page.i[b + KMAX] = n;
        }
      }
    }
    // Late readings still count, but the last value is the newest by event time (a tie: the later).
    if (timeMs >= page.f[a + TIME]) {
      page.f[a + LAST] = value;
      page.f[a + TIME] = timeMs;
    }
  }

  last(slot: number): number {
    return this.#pages[slot >>> PAGE_BITS].f[(slot & MASK) * S + LAST];
  }

  timeMs(slot: number): number {
    return this.#pages[slot >>> PAGE_BITS].f[(slot & MASK) * S + TIME];
  }

  /** Values in the window (0 before the first reading). */
  filled(slot: number): number {
    return this.#pages[slot >>> PAGE_BITS].i[(slot & MASK) * 2 * S + FILLED];
  }

  /** Avg (NaN when empty), min (Infinity) and max (-Infinity) of the slot's window, into `out`. */
  read(slot: number, out: WindowSummary): WindowSummary {
    const one = MovingWindows.#one;
    this.writeState(slot, one, 0);
    out.avg = one.avg[0];
    out.min = one.min[0];
    out.max = one.max[0];
    return out;
  }

  static readonly #one = allocateStates(1);

  /**
   * The slot's last value and its time, and the window's avg, min and max
   * (as `read`), into row `j` of `out` (its sensor and metric are left to
   * the caller): written to the columns, as a double returned from a call
   * V8 does not inline is boxed.
   */
  writeState(slot: number, out: MetricStates, j: number): void {
    const page = this.#pages[slot >>> PAGE_BITS];
    const a = (slot & MASK) * S, b = 2 * a;
    const filled = page.i[b + FILLED];
    const r = slot >>> this.#ringBits;
    const p = this.#scale[r];
    out.last[j] = page.f[a + LAST];
    out.timeMs[j] = page.f[a + TIME];
    if (p !== 0 && page.i[b + KEPT] === 1) {
      if (filled === 0) {
        out.avg[j] = NaN;
        out.min[j] = Infinity;
        out.max[j] = -Infinity;
        return;
      }
      // p × filled is an exact integer: one rounding, the mean of the decimals as sent.
      out.avg[j] = page.f[a + SUM] / (p * filled);
      // k / p: the very doubles that were added.
      out.min[j] = page.i[b + KMIN] / p;
      out.max[j] = page.i[b + KMAX] / p;
      return;
    }
    const base = (slot & this.#ringMask) * this.window;
    // Oldest first, so the sum (and its rounding) does not depend on where the ring starts.
    const oldest = filled < this.window ? 0 : page.i[b + NEXT];
    let sum = 0, min = Infinity, max = -Infinity;
    if (p === 0) {
      const ring = this.#rings[r]!;
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
      // 0 / 0 is NaN (an empty window): a conditional NaN here made V8 box the
      // average, 16 bytes of garbage per sensor metric per flush.
      out.avg[j] = sum / filled;
    } else {
      // The integers' exact sum; min and max of the same doubles as were added
      // (each was checked to come back exactly), oldest first.
      // Integers: the order does not matter, and k / p is monotonic in k.
      const ring = this.#narrow[r]!;
      let least = INT32_MAX, most = INT32_MIN;
      for (let k = base; k < base + filled; k++) {
        const n = ring[k];
        sum += n;
        if (n < least) least = n;
        if (n > most) most = n;
      }
      if (this.#keeps) {
        page.f[a + SUM] = sum;
        page.i[b + KMIN] = least;
        page.i[b + KMAX] = most;
        page.i[b + KEPT] = 1;
      }
      if (filled === 0) {
        out.avg[j] = NaN;
        out.min[j] = Infinity;
        out.max[j] = -Infinity;
        return;
      }
      out.avg[j] = sum / (p * filled);
      min = least / p;
      max = most / p;
    }
    out.min[j] = min;
    out.max[j] = max;
  }

  /**
   * The slot's state for a checkpoint: `[last, timeMs]` into `f64` at
   * `at`, then the ring's filled values from its oldest; returns the offset after them.
   */
  save(slot: number, f64: Float64Array, at: number): number {
    const page = this.#pages[slot >>> PAGE_BITS];
    const i = slot & MASK;
    f64[at] = page.f[i * S + LAST];
    f64[at + 1] = page.f[i * S + TIME];
    const filled = page.i[i * 2 * S + FILLED];
    const r = slot >>> this.#ringBits;
    const base = (slot & this.#ringMask) * this.window;
    // Oldest first, so a restore needs no ring position and a window change could re-slice it.
    const oldest = filled < this.window ? 0 : page.i[i * 2 * S + NEXT];
    const p = this.#scale[r];
    if (p === 0) {
      const ring = this.#rings[r]!;
      const head = ring.subarray(base + oldest, base + filled);
      f64.set(head, at + 2);
      if (oldest > 0) f64.set(ring.subarray(base, base + oldest), at + 2 + head.length);
    } else {
      const ring = this.#narrow[r]!;
      let o = at + 2;
      for (let k = base + oldest; k < base + filled; k++) f64[o++] = ring[k] / p;
      for (let k = base; k < base + oldest; k++) f64[o++] = ring[k] / p;
    }
    return at + 2 + filled;
  }

  /** Reads what `save` wrote for `filled` values (≤ window) into a reset slot; returns the offset after it. */
  restore(slot: number, f64: Float64Array, at: number, filled: number): number {
    this.restoreParts(slot, f64, at, filled, f64, at + 2, 0);
    return at + 2 + filled;
  }

  /**
   * How `saveRing` writes the slot's ring: 0 as float64 values; 1 + d as
   * int16 and 6 + d as int32 integers k, each value k / 10^d (its ring page's form).
   */
  ringForm(slot: number): number {
    const r = slot >>> this.#ringBits;
    const p = this.#scale[r];
    if (p === 0) return 0;
    return (this.#limit[r] === INT16_MAX ? 1 : 6) + POW10.indexOf(p);
  }

  /** `[last, timeMs]` into `f64` at `at`; returns the offset after them. */
  saveHead(slot: number, f64: Float64Array, at: number): number {
    const page = this.#pages[slot >>> PAGE_BITS];
    f64[at] = page.f[(slot & MASK) * S + LAST];
    f64[at + 1] = page.f[(slot & MASK) * S + TIME];
    return at + 2;
  }

  /**
   * The ring's filled values from its oldest, into `out` at `at`, as
   * `ringForm` says: float64 values, or the integers k its page holds (`out`
   * an Int16Array or Int32Array to match); returns the offset after them.
   */
  saveRing(slot: number, out: Float64Array | Int32Array | Int16Array, at: number): number {
    const page = this.#pages[slot >>> PAGE_BITS];
    const i = slot & MASK;
    const filled = page.i[i * 2 * S + FILLED];
    const r = slot >>> this.#ringBits;
    const base = (slot & this.#ringMask) * this.window;
    const oldest = filled < this.window ? 0 : page.i[i * 2 * S + NEXT];
    const ring = this.#scale[r] === 0 ? this.#rings[r]! : this.#narrow[r]!;
    let o = at;
    for (let k = base + oldest; k < base + filled; k++) out[o++] = ring[k];
    for (let k = base; k < base + oldest; k++) out[o++] = ring[k];
    return o;
  }

  /**
   * Restores a reset slot from `[last, timeMs]` at `f64[at]` and `filled`
   * ring values (≤ window) at `ring[ringAt]` in form `form` (`ringForm`;
   * integers are divided back out, giving the very doubles that were added).
   */
  restoreParts(
    slot: number,
    f64: Float64Array,
    at: number,
    filled: number,
    ring: ArrayLike<number>,
    ringAt: number,
    form: number,
  ): void {
    if (filled > this.window) {
      throw new RangeError(`Cannot restore ${filled} values into a window of ${this.window}`);
    }
    if (!(form >= 0 && form <= 10 && form % 1 === 0)) {
      throw new RangeError(`Cannot restore a ring saved in form ${form}`);
    }
    // Every column of the slot is written below: no reset first.
    if (slot >= this.#capacity || slot >>> this.#ringBits >= this.#scale.length) {
      this.reserve(slot + 1);
    }
    const page = this.#pages[slot >>> PAGE_BITS];
    const i = slot & MASK;
    page.f[i * S + LAST] = f64[at];
    page.f[i * S + TIME] = f64[at + 1];
    page.i[i * 2 * S + FILLED] = filled;
    page.i[i * 2 * S + NEXT] = filled === this.window ? 0 : filled;
    page.i[i * 2 * S + KEPT] = 0; // summed at its first read
    const base = (slot & this.#ringMask) * this.window;
    const r = slot >>> this.#ringBits;
    // The saved integers' scale (1 for doubles: a division by 1 gives the value back).
    const q = form === 0 ? 1 : POW10[(form - 1) % 5];
    // Loops, not set(subarray): a restart restores every slot, and a view per slot is garbage.
    // The page's array and scale are read once a slot; a value it cannot take goes through `#put`.
    let k = 0;
    const p = this.#scale[r];
    if (p === 0) {
      const wide = this.#rings[r]!;
      for (; k < filled; k++) wide[base + k] = ring[ringAt + k] / q;
    } else {
      const narrow = this.#narrow[r]!;
      const limit = this.#limit[r];
      if (form !== 0 && q === p) {
        // Integers saved at this page's scale: themselves, while they fit.
        for (; k < filled; k++) {
          const n = ring[ringAt + k];
          if (!(n <= limit && n >= -limit)) break;
          narrow[base + k] = n;
        }
      } else {
        for (; k < filled; k++) {
          const n = scaledWithin(ring[ringAt + k] / q, p, limit);
          if (n !== n) break; // NaN: the page cannot take it as it is
          narrow[base + k] = n;
        }
      }
      if (base + k > this.#top[r]) this.#top[r] = base + k;
    }
    // A value the page cannot take as it is (rare): through `#put`, from a column (no boxed double).
    const one = MovingWindows.#arg;
    for (; k < filled; k++) {
      one[0] = ring[ringAt + k] / q;
      this.#put(r, base + k, one, 0);
    }
  }

  /** Stores `from[i]` at `k` of ring page `r`: narrow when it comes back exactly, else widens the page. */
  #put(r: number, k: number, from: Float64Array, i: number): void {
    const value = from[i];
    const p = this.#scale[r];
    if (p === 0) {
      this.#rings[r]![k] = value;
      return;
    }
    if (k >= this.#top[r]) this.#top[r] = k + 1;
    const n = scaledWithin(value, p, this.#limit[r]);
    if (n === n) {
      this.#narrow[r]![k] = n;
      return;
    }
    this.#rescale(r, value);
    this.#put(r, k, from, i);
  }

  /**
   * Ring page `r` cannot take `value` as it is: moves it to the least scale
   * (the same or larger) that takes it, in int16 if every value then fits,
   * else int32; if none fits, widens it to float64 (every value divided back
   * out, exactly as a read would).
   */
  #rescale(r: number, value: number): void {
    // The page's slots' kept sums are at the old scale (or the page widens): each is rescanned at its next read.
    for (let s = r << this.#ringBits; s < (r + 1) << this.#ringBits && s < this.#capacity; s++) {
      this.#pages[s >>> PAGE_BITS].i[(s & MASK) * 2 * S + KEPT] = 0;
    }
    const narrow = this.#narrow[r]!;
    const p = this.#scale[r];
    let d = POW10.indexOf(p);
    let n = 0;
    for (; d <= MAX_DECIMALS; d++) {
      n = scaledWithin(value, POW10[d], INT32_MAX);
      if (n === n) break;
    }
    if (d <= MAX_DECIMALS) {
      // Multiplying by a power of ten is exact here (|k * f| < 2^53), and k * f / 10^d === k / p.
      const f = POW10[d] / p;
      const top = this.#top[r];
      let most = Math.abs(n);
      for (let k = 0; k < top; k++) {
        const a = Math.abs(narrow[k] * f);
        if (a > most) most = a;
      }
      if (most <= INT32_MAX) {
        // In place, unless an int16 page must become int32 (a page never goes back to int16).
        const wider = this.#limit[r] === INT16_MAX && most > INT16_MAX;
        const to = wider ? new Int32Array(this.#ringLength) : narrow;
        for (let k = 0; k < top; k++) to[k] = narrow[k] * f;
        this.#narrow[r] = to;
        if (wider) this.#limit[r] = INT32_MAX;
        this.#scale[r] = POW10[d];
        return;
      }
    }
    const wide = new Float64Array(this.#ringLength);
    for (let k = 0; k < this.#top[r]; k++) wide[k] = narrow[k] / p;
    this.#rings[r] = wide;
    this.#narrow[r] = null;
    this.#scale[r] = 0;
  }
}
