/**
 * Event-time tumbling windows for one shard: per sensor and metric, windows
 * of each configured size (default 1 s, 10 s, 1 min) aligned to the epoch.
 * Pure: no clocks, no I/O. Time only moves with the readings' event times,
 * each bounded by when the server accepted the reading (recorded in the log
 * with it: a function of the log, like the rest).
 *
 * The shard's watermark trails the newest event time it has seen by the
 * grace period; a reading moves that time on no further than its acceptance
 * time, so readings stamped ahead of the server's clock (a fast device clock,
 * up to `--max-future`) go into their windows by their own time but cannot
 * close windows early and make other readings late: their windows stay open
 * until the accepted readings' times get there. A window is *ended* once the newest event time reaches its
 * end (it is then published with provisional values), and *closed* once the
 * watermark reaches its end (published final, then forgotten). A reading is
 * late when the earliest-ending window containing it is closed: it is then
 * dropped from every window and counted, so windows of all sizes hold the
 * same readings and a closed window never changes.
 *
 * Only open windows take memory: each is a record in a paged arena (seven
 * numbers and a few links), reused once closed. A metric's open windows of
 * one size are chained from its owner's head; every open window is also in
 * the bucket of its end time, so a `take` publishes and closes windows
 * without scanning every metric.
 *
 * A value updates only its smallest window. A larger window's record holds
 * the smallest windows inside it that have closed, merged (count, sum, min,
 * max, mean and m2 combine exactly: Chan et al.'s parallel variance); when it
 * is published, the smallest windows inside it that are still open are
 * merged in, oldest first, so its values are those of every reading in it.
 * A larger window is opened with the first smallest window inside it, so
 * it is in its end bucket and chain from then on.
 */

import {
  allocateWindowStates,
  copyWindowStates,
  prefixWindowStates,
  WINDOW_BYTES,
  WINDOW_CHANGED,
  WINDOW_FINAL,
} from "../../protocol/columns.ts";
import type { PrefixWindowStates, WindowStates } from "../../protocol/columns.ts";
import { startOf } from "./window_start.ts";

export type { WindowStates };

export interface WindowSpec {
  /** Window sizes in ms, ascending, each a multiple of the previous. */
  sizesMs: readonly number[];
  /** How far the watermark trails the newest event time. */
  graceMs: number;
}

export const DEFAULT_WINDOW_SPEC: Readonly<WindowSpec> = Object.freeze({
  sizesMs: Object.freeze([1_000, 10_000, 60_000]),
  graceMs: 5_000,
});

/** A window the store still holds (`EventWindowStore.heldWindows`). */
export interface HeldWindow {
  startMs: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** The watermark passed its end: no reading can change it any more. */
  final: boolean;
}

/**
 * Numbers per saved window at most (`EventWindowStore.saveWindows`): size and
 * state, start, count, sum, min, max, mean, m2 (of a larger window: those of
 * its closed smallest windows only). Checkpoints with another layout are not restored.
 */
export const SLOT_LENGTH = 9;

/**
 * Saved forms (`form * 64` added to a window's code). Most saved windows hold
 * no reading (a larger window just opened) or one (a 1 s window of a sensor
 * reporting every few seconds): their numbers follow from the start and the
 * value, so they are saved as 2 and 3 numbers instead of 9. A window is
 * saved short only when the short form restores every number to the bit.
 */
const FULL = 0, EMPTY = 1, SINGLE = 2;
/** Numbers a saved window of each form takes, code included. */
const FORM_LENGTH = [SLOT_LENGTH, 2, 3];

/** Checks a spec and returns how many windows of each size can be open at once. */
export function slotsPerSize(spec: WindowSpec): number[] {
  const { sizesMs, graceMs } = spec;
  if (sizesMs.length > 8) {
    throw new RangeError(`Cannot keep ${sizesMs.length} window sizes: at most 8`);
  }
  if (!Number.isInteger(graceMs) || graceMs < 0) {
    throw new RangeError(`The grace period must be a whole number of ms ≥ 0, got ${graceMs}`);
  }
  sizesMs.forEach((size, k) => {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`A window size must be a whole number of ms ≥ 1, got ${size}`);
    }
    if (k > 0 && size % sizesMs[k - 1] !== 0) {
      throw new RangeError(`Window sizes must each be a multiple of the previous: ${sizesMs}`);
    }
  });
  // Open windows of a size start within (newest - grace - size, newest] (and, past the newest,
  // those of readings ahead of their acceptance time, up to `--max-future`).
  return sizesMs.map((size) => Math.ceil(graceMs / size) + 1);
}

/**
 * Why `n` windows saved by `saveWindows` at `f64[at]` cannot be restored
 * with this spec, or null: each a known size and a saved state (open,
 * published or revised), sizes ascending, per size starts descending, each
 * start a whole multiple of its size, counts whole.
 */
export function savedWindowsError(
  spec: WindowSpec,
  f64: Float64Array,
  at: number,
  n: number,
  end = f64.length,
): string | null {
  return savedWindowsEnd(spec, f64, at, n, end) >= 0
    ? null
    : badWindows(spec.sizesMs, f64, at, n, end);
}

/**
 * The offset after `n` windows saved by `saveWindows` at `f64[at]`, read no
 * further than `end`; -1 when they break the layout (`savedWindowsError`
 * says why). Small: it runs per window, for millions of them.
 */
export function savedWindowsEnd(
  spec: WindowSpec,
  f64: Float64Array,
  at: number,
  n: number,
  end = f64.length,
): number {
  if (!(n >= 0 && at >= 0 && end <= f64.length)) return -1;
  const sizesMs = spec.sizesMs;
  let beforeK = -1, beforeStart = Infinity;
  for (let w = 0; w < n; w++) {
    if (at + 2 > end) return -1;
    // No `%` on doubles here: it is a call per use, and this runs for millions of windows.
    const code = f64[at];
    const form = code >>> 6, rest = code - form * 64;
    const k = rest >>> 3, state = rest - k * 8;
    if (
      !(form <= SINGLE && k < sizesMs.length &&
        (state === OPEN || state === PUBLISHED || state === REVISED))
    ) return -1;
    const length = FORM_LENGTH[form];
    if (at + length > end) return -1;
    // A whole multiple of its size (NaN and ±Infinity fail: their quotient is not whole or finite).
    const start = f64[at + 1];
    const size = sizesMs[k];
    if (!(Math.floor(start / size) * size === start && Number.isFinite(start))) return -1;
    if (form === FULL) {
      const count = f64[at + 2];
      if (!(count >= 0 && Math.floor(count) === count && count < 2 ** 53)) return -1;
    }
    if (k < beforeK || (k === beforeK && !(start < beforeStart))) return -1;
    beforeK = k;
    beforeStart = start;
    at += length;
  }
  return at;
}

/** Why the windows at `f64[at]` are refused (`savedWindowsEnd` found a fault): the first fault. */
function badWindows(
  sizesMs: readonly number[],
  f64: Float64Array,
  at: number,
  n: number,
  end: number,
): string {
  if (!(n >= 0 && at >= 0 && end <= f64.length)) return `${n} windows: the page ends before them`;
  let beforeK = -1, beforeStart = Infinity;
  for (let w = 0; w < n; w++) {
    if (at + 2 > end) return `${n} windows: the page ends before them`;
    const code = f64[at];
    const form = Math.floor(code / 64), rest = code - form * 64;
    const k = Math.floor(rest / 8), state = rest - k * 8;
    if (!(form >= 0 && form <= SINGLE && form % 1 === 0)) return `a window saved in form ${form}`;
    if (!(k >= 0 && k < sizesMs.length && state >= OPEN && state <= REVISED && state % 1 === 0)) {
      return `a window of size ${k} in state ${state}`;
    }
    if (at + FORM_LENGTH[form] > end) return `${n} windows: the page ends before them`;
    const start = f64[at + 1];
    if (!(Math.floor(start / sizesMs[k]) * sizesMs[k] === start && Number.isFinite(start))) {
      return `a window starting at ${start}: not a start of a ${sizesMs[k]} ms window`;
    }
    const count = f64[at + 2];
    if (form === FULL && !(count >= 0 && Math.floor(count) === count && count < 2 ** 53)) {
      return `a window of ${count} readings`;
    }
    if (k < beforeK || (k === beforeK && !(start < beforeStart))) {
      return `windows of size ${k} out of order`;
    }
    beforeK = k;
    beforeStart = start;
    at += FORM_LENGTH[form];
  }
  return "no fault";
}

/** End buckets a restore finds without the map (a power of two). */
const KNOWN_ENDS = 256;

/** Record states. */
const FREE = 0, OPEN = 1, PUBLISHED = 2, REVISED = 3, DEAD = 4;
/** Numbers per record. */
const F = 7;
const START = 0, COUNT = 1, SUM = 2, MIN = 3, MAX = 4, MEAN = 5, M2 = 6;
/**
 * A record takes 72 bytes: its F numbers, then four int32 (the Int32Array's
 * index is `j * I + ...`): owner, size and state in one (`META`), and the
 * links. All of a window in one or two cache lines: at 5,000 sensors the
 * arena is larger than the caches, and the six arrays a record was spread
 * over before were most of the time a reading took to open or close one.
 */
const D = F + 2;
const I = 2 * D;
/** `owner * 64 + size * 8 + state` (owners below 2^25, sizes at most 8, states below 8). */
const META = 2 * F;
/** Next open window of the same owner and size, latest start first (-1: none). */
const CHAIN = META + 1;
/** Next window in the same end bucket (-1: none); also the free list's link. */
const NEXT = META + 2;
/** The open window before this one in its chain (-1: it is the chain's head). */
const PREV = META + 3;
const MAX_OWNERS = 2 ** 25;

const RECORD_BITS = 12;
const RECORD_PAGE = 1 << RECORD_BITS;
const RECORD_MASK = RECORD_PAGE - 1;
const OWNER_BITS = 10;
const OWNER_PAGE = 1 << OWNER_BITS;
const OWNER_MASK = OWNER_PAGE - 1;

/** Records of windows: the numbers by `f[j * D + ...]`, owner, size, state and links by `i[j * I + ...]`. */
class RecordPage {
  readonly f: Float64Array;
  readonly i: Int32Array;
  constructor() {
    const buffer = new ArrayBuffer(RECORD_PAGE * D * 8);
    this.f = new Float64Array(buffer);
    this.i = new Int32Array(buffer);
  }
}

class OwnerPage {
  readonly sensor = new Uint32Array(OWNER_PAGE);
  readonly metric = new Uint16Array(OWNER_PAGE);
  /** Per owner and size: its open window that starts latest (-1: none)... */
  readonly head: Int32Array;
  /**
   * ...and that window's start (-Infinity: none), so a reading finds
   * whether its window is open, or opens it, without reading the records.
   */
  readonly start: Float64Array;
  constructor(sizes: number) {
    this.head = new Int32Array(OWNER_PAGE * Math.max(1, sizes)).fill(-1);
    this.start = new Float64Array(OWNER_PAGE * Math.max(1, sizes)).fill(-Infinity);
  }
}

/** The open windows that end at one time, linked through `endNext`. */
interface EndBucket {
  head: number;
  tail: number;
  /** The last entry published as ended (-1: none yet); later entries are new since. */
  published: number;
  /** Entries linked, and how many of them up to `published`: a take's output is sized from these. */
  count: number;
  seen: number;
}

/**
 * A shard's event-time windows: the open windows of every sensor metric,
 * the watermark, and the open windows kept in buckets by end time. Not a
 * clock: time moves only with the readings' event times. An owner is a
 * sensor metric, named by a small number the caller chooses (`windowsFor`).
 */
export class EventWindowStore {
  readonly spec: WindowSpec;
  readonly #sizes: number;
  readonly #records: RecordPage[] = [];
  #freeHead = -1;
  #recordCount = 0;
  readonly #owners: OwnerPage[] = [];
  #nextOwner = 0;
  /**
   * Newest event time seen, each reading's bounded by its acceptance time
   * (`add`); -Infinity before the first reading.
   */
  newestMs = -Infinity;
  readonly #byEnd = new Map<number, EndBucket>();
  /** End times with a bucket, ascending. */
  #ends: number[] = [];
  /** The bucket of each of `#ends`, in the same order: a take walks these without the map. */
  #endBuckets: EndBucket[] = [];
  readonly #out: OutColumns;
  /** Windows revised by late readings since the last `take`. */
  #revised: number[] = [];
  /** Scratch: a larger window's values with its open smallest windows merged in. */
  readonly #merged = new Float64Array(F);
  /** Where in the array `#values` returned its window's values are (no object per window published). */
  #valuesAt = 0;
  /** Per size: the end bucket a window last went into, and its end (`#pend`). */
  readonly #lastBucket: (EndBucket | null)[];
  readonly #lastEnd: Float64Array;
  /** Restores and `#pend`: end buckets met lately, by end (a direct-mapped cache in front of the map). */
  readonly #knownEnds = new Float64Array(KNOWN_ENDS);
  readonly #knownBuckets: (EndBucket | null)[] = new Array(KNOWN_ENDS).fill(null);
  /** Scratch: the open smallest windows inside one larger window. */
  /** `#values`' scratch of records inside a window (typed: a JS array emptied with `length = 0` regrows each time). */
  #inside = new Int32Array(8);
  /** Readings dropped as late since the start (or restore). */
  lateDropped = 0;
  /** Windows open now. */
  open = 0;

  /** Due windows a take hands out at least (see `take`); Infinity: all of them. */
  readonly #takeAtLeast: number;

  /**
   * With `reuse`, `take` hands out two buffers used in turn, whole: their
   * columns may be longer than `length` (read only the first `length`
   * entries); what one take returned is overwritten by the take after next.
   * Without it (columns transferred to another thread), each take is a
   * fresh copy of exactly `length` entries.
   */
  constructor(
    spec: WindowSpec = DEFAULT_WINDOW_SPEC,
    options: { reuse?: boolean; takeAtLeast?: number } = {},
  ) {
    slotsPerSize(spec);
    this.spec = spec;
    this.#takeAtLeast = options.takeAtLeast ?? TAKE_AT_LEAST;
    if (
      !(Number.isInteger(this.#takeAtLeast) || this.#takeAtLeast === Infinity) ||
      this.#takeAtLeast < 1
    ) {
      throw new RangeError(`takeAtLeast ${this.#takeAtLeast} is not a positive integer`);
    }
    this.#sizes = spec.sizesMs.length;
    this.#out = new OutColumns(options.reuse ?? false);
    this.#lastBucket = new Array(this.#sizes).fill(null);
    this.#lastEnd = new Float64Array(this.#sizes);
  }

  get watermarkMs(): number {
    return this.newestMs - this.spec.graceMs;
  }

  /** Bytes the arenas and output buffers hold (for memory accounting). */
  get bytes(): number {
    return this.#records.length * RECORD_PAGE * D * 8 +
      this.#owners.length * OWNER_PAGE * (6 + 12 * Math.max(1, this.#sizes)) + this.#out.bytes;
  }

  /**
   * Makes `owner` (the next unused number when not given) the empty windows
   * of one sensor's metric, and returns it.
   */
  windowsFor(sensor: number, metric: number, owner = this.#nextOwner): number {
    if (!(owner >= 0 && owner < MAX_OWNERS)) {
      throw new RangeError(`Cannot keep windows of owner ${owner}: at most ${MAX_OWNERS}`);
    }
    while (owner >= this.#owners.length * OWNER_PAGE) this.#owners.push(new OwnerPage(this.#sizes));
    if (owner >= this.#nextOwner) this.#nextOwner = owner + 1;
    const page = this.#owners[owner >>> OWNER_BITS];
    const i = owner & OWNER_MASK;
    page.sensor[i] = sensor;
    page.metric[i] = metric;
    // A loop, not fill(): a restart makes 300,000 owners, and a call per owner shows.
    for (let h = i * this.#sizes, end = h + this.#sizes; h < end; h++) {
      page.head[h] = -1;
      page.start[h] = -Infinity;
    }
    return owner;
  }

  /**
   * Whether a reading at `timeMs` is late: the earliest-ending window holding
   * it is already closed. Call before `add`; late readings must not be added.
   */
  isLate(timeMs: number): boolean {
    // With no windows (`--windows none`) nothing can be late.
    if (this.#sizes === 0) return false;
    const size = this.spec.sizesMs[0];
    return startOf(timeMs, size) + size <= this.watermarkMs;
  }

  /**
   * Adds one value at event time `timeMs` (not late): to its smallest window
   * only. The newest event time moves on to `timeMs`, but not past
   * `acceptedMs`, when the server accepted the reading (Infinity: no bound).
   */
  add(owner: number, value: number, timeMs: number, acceptedMs = Infinity): void {
    const arg = EventWindowStore.#arg;
    arg[0] = value;
    arg[1] = timeMs;
    arg[2] = acceptedMs;
    this.addFrom(owner, arg, 0, arg, 1, arg, 2);
  }

  static readonly #arg = new Float64Array(3);

  /**
   * `add` of `values[v]` at `times[row]`, accepted at `accepted[at]`, read
   * from the columns here: the shards' hot path. V8 boxes a double passed to
   * a function it does not inline (this one is too large), ~30 bytes of
   * garbage per value.
   */
  addFrom(
    owner: number,
    values: Float64Array,
    v: number,
    times: Float64Array,
    row: number,
    accepted: Float64Array,
    acceptedRow: number,
  ): void {
    const value = values[v], timeMs = times[row];
    const sizes = this.#sizes;
    if (sizes === 0) return;
    const op = this.#owners[owner >>> OWNER_BITS];
    const h0 = (owner & OWNER_MASK) * sizes;
    const size = this.spec.sizesMs[0];
    let r = op.head[h0];
    // Most readings fall in the newest window: no division then.
    const newest = op.start[h0];
    if (!(timeMs >= newest && timeMs < newest + size)) {
      const start = startOf(timeMs, size);
      // Chains run latest start first: a window after the head's is not open yet.
      r = !(start < newest) ? -1 : this.#find(r, start);
      if (r < 0) r = this.#openSmallest(owner, start);
    }
    const page = this.#records[r >>> RECORD_BITS];
    const at = (r & RECORD_MASK) * D;
    const f = page.f;
    const count = ++f[at + COUNT];
    f[at + SUM] += value;
    if (value < f[at + MIN]) f[at + MIN] = value;
    if (value > f[at + MAX]) f[at + MAX] = value;
    const delta = value - f[at + MEAN];
    f[at + MEAN] += delta / count;
    f[at + M2] += delta * (value - f[at + MEAN]);
    const m = (r & RECORD_MASK) * I + META;
    const ints = page.i;
    if ((ints[m] & 7) === PUBLISHED) {
      ints[m] += REVISED - PUBLISHED;
      this.#revised.push(r);
    }
    // Into a window that has ended: the larger ones around it may have been published too.
    if (sizes > 1 && f[at + START] + size <= this.newestMs) this.#reviseLarger(owner, timeMs);
    if (timeMs > this.newestMs) {
      // Not past the time the server accepted it: a clock running ahead closes no window.
      const bound = accepted[acceptedRow];
      const newest = timeMs < bound ? timeMs : bound;
      if (newest > this.newestMs) this.newestMs = newest;
    }
  }

  /**
   * Publishes windows that ended (provisional) and closes those the
   * watermark passed (final), oldest end first and at most a share of those
   * due (the rest in the next takes), then hands over everything published
   * since the previous call. A window appears at most once per call, with
   * its latest values.
   */
  take(): WindowStates {
    const watermark = this.watermarkMs;
    // What is due: windows ended (to publish) and closed (to publish final and free).
    let due = 0;
    const ends = this.#ends, buckets = this.#endBuckets;
    for (let e = 0; e < ends.length; e++) {
      const end = ends[e];
      if (end > this.newestMs) break;
      const bucket = buckets[e];
      due += end <= watermark ? bucket.count : bucket.count - bucket.seen;
    }
    // Every window of a size ends together (300,000 at a 10 s boundary at 100,000 sensors):
    // handed out over a few takes, oldest first, so no take (nor the hub's merged tick) holds
    // them all. What waits is neither late-prone nor lost: lateness goes by the watermark.
    let left = Math.max(this.#takeAtLeast, Math.ceil(due / TAKE_SPREAD));
    // Room for all this take hands out, at once (a restore's windows to publish again are in
    // ended buckets: counted there).
    this.#out.reserve(Math.min(due, left) + this.#revised.length);
    let closedUpTo = 0;
    for (let e = 0; e < ends.length; e++) {
      const end = ends[e];
      if (end > this.newestMs || left === 0) break;
      const bucket = buckets[e];
      if (end <= watermark) {
        let r = bucket.head;
        for (; r >= 0 && left > 0; left--) {
          const next = this.#records[r >>> RECORD_BITS].i[(r & RECORD_MASK) * I + NEXT];
          this.#close(r);
          bucket.count--;
          r = next;
        }
        if (r >= 0) {
          bucket.head = r; // the rest next take
          break;
        }
        this.#byEnd.delete(end);
        this.#lastBucket.fill(null);
        this.#knownBuckets.fill(null);
        closedUpTo++;
        continue;
      }
      // Ended but open: only entries added since the last take need publishing.
      let r = bucket.published < 0 ? bucket.head : this.#records[bucket.published >>> RECORD_BITS]
        .i[(bucket.published & RECORD_MASK) * I + NEXT];
      while (r >= 0 && left > 0) {
        const ints = this.#records[r >>> RECORD_BITS].i;
        const b = (r & RECORD_MASK) * I;
        // Revised here: restored (`restoreWindows`); a live revision is never past `published`.
        const state = ints[b + META] & 7;
        if (state === OPEN || state === REVISED) {
          ints[b + META] += PUBLISHED - state;
          this.#publish(r, WINDOW_CHANGED);
        }
        bucket.published = r;
        bucket.seen++;
        left--;
        r = ints[b + NEXT];
      }
    }
    if (closedUpTo > 0) {
      // In place: two new lists a flush that closed a bucket (most seconds, every shard) for nothing.
      ends.copyWithin(0, closedUpTo);
      ends.length -= closedUpTo;
      buckets.copyWithin(0, closedUpTo);
      buckets.length -= closedUpTo;
    }
    // Revisions of windows still open (a closed one went out final, with its changes).
    for (const r of this.#revised) {
      const ints = this.#records[r >>> RECORD_BITS].i;
      const m = (r & RECORD_MASK) * I + META;
      if ((ints[m] & 7) !== REVISED) continue;
      ints[m] += PUBLISHED - REVISED;
      this.#publish(r, WINDOW_CHANGED);
    }
    this.#revised.length = 0;
    return this.#out.take();
  }

  /**
   * Drops a removed sensor metric's windows: they are skipped when their
   * end comes, so nothing of them is published any more.
   */
  forget(owner: number): void {
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    for (let k = 0; k < this.#sizes; k++) {
      for (let r = heads[h0 + k]; r >= 0;) {
        const ints = this.#records[r >>> RECORD_BITS].i;
        const b = (r & RECORD_MASK) * I;
        ints[b + META] += DEAD - (ints[b + META] & 7);
        r = ints[b + CHAIN];
      }
      heads[h0 + k] = -1;
      this.#owners[owner >>> OWNER_BITS].start[h0 + k] = -Infinity;
    }
  }

  /** Open windows of `owner` (all sizes), for a checkpoint's record count. */
  windowCount(owner: number): number {
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    let n = 0;
    for (let k = 0; k < this.#sizes; k++) {
      for (
        let r = heads[h0 + k];
        r >= 0;
        r = this.#records[r >>> RECORD_BITS].i[(r & RECORD_MASK) * I + CHAIN]
      ) n++;
    }
    return n;
  }

  /** Numbers `saveWindows` writes for the open windows of `owner` (a page is sized from these). */
  savedLength(owner: number): number {
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    let n = 0;
    for (let k = 0; k < this.#sizes; k++) {
      for (let r = heads[h0 + k]; r >= 0;) {
        const page = this.#records[r >>> RECORD_BITS];
        n += FORM_LENGTH[formOf(page.f, (r & RECORD_MASK) * D)];
        r = page.i[(r & RECORD_MASK) * I + CHAIN];
      }
    }
    return n;
  }

  /**
   * Writes the open windows of `owner`, oldest-opened last per size; returns
   * the offset after them. Each starts with its code, `form * 64 + size * 8 +
   * state`; then, in the full form, start, count, sum, min, max, mean, m2 (a
   * larger window's are those of its closed smallest windows); a window of no
   * reading saves its start only, one of a single reading its start and value.
   */
  saveWindows(owner: number, f64: Float64Array, at: number): number {
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    for (let k = 0; k < this.#sizes; k++) {
      for (let r = heads[h0 + k]; r >= 0;) {
        const page = this.#records[r >>> RECORD_BITS];
        const j = r & RECORD_MASK;
        const f = page.f, from = j * D;
        const form = formOf(f, from);
        f64[at] = form * 64 + k * 8 + (page.i[j * I + META] & 7);
        f64[at + 1] = f[from + START];
        if (form === SINGLE) f64[at + 2] = f[from + SUM];
        else if (form === FULL) {
          // A loop, not set(subarray): a view per window saved was most of a checkpoint's garbage.
          for (let q = 0; q < F; q++) f64[at + 1 + q] = f[from + q];
        }
        at += FORM_LENGTH[form];
        r = page.i[j * I + CHAIN];
      }
    }
    return at;
  }

  /**
   * Room for `windows` more records and owners up to `owners` (a restore
   * knows both up front: the arenas then grow once, not page by page).
   */
  reserve(windows: number, owners: number): void {
    const records = Math.ceil((this.#recordCount + windows) / RECORD_PAGE);
    while (this.#records.length < records) this.#records.push(new RecordPage());
    while (owners > this.#owners.length * OWNER_PAGE) this.#owners.push(new OwnerPage(this.#sizes));
  }

  /**
   * Re-creates `n` windows saved by `saveWindows` for a fresh `owner`.
   * The newest ended one of each size (and any with a revision not yet
   * handed over) is published again at the next `take`, so a fresh hub
   * mirror has them; older ones it had sent stay sent (a mirror keeps the
   * newest of a size). Returns the offset after them. Saved windows that
   * break the layout are refused (RangeError) before anything changes,
   * unless `checked` says `savedWindowsError` has passed them already.
   */
  restoreWindows(owner: number, f64: Float64Array, at: number, n: number, checked = false): number {
    if (!checked) {
      const error = savedWindowsError(this.spec, f64, at, n);
      if (error !== null) throw new RangeError(`Cannot restore ${error}`);
    }
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const starts = this.#owners[owner >>> OWNER_BITS].start;
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    const sizesMs = this.spec.sizesMs;
    const records = this.#records;
    const knownEnds = this.#knownEnds, knownBuckets = this.#knownBuckets;
    const size0 = sizesMs[0];
    // A restart restores millions of windows: one tight loop, no allocation per window.
    let before = -1, beforeK = -1, ended = false;
    for (let w = 0; w < n; w++) {
      const code = f64[at];
      const form = code >>> 6, rest = code - form * 64;
      const k = rest >>> 3;
      let r = this.#freeHead;
      if (r >= 0) this.#freeHead = records[r >>> RECORD_BITS].i[(r & RECORD_MASK) * I + NEXT];
      else {
        r = this.#recordCount++;
        if (r >>> RECORD_BITS === records.length) records.push(new RecordPage());
      }
      const page = records[r >>> RECORD_BITS];
      const j = r & RECORD_MASK;
      const f = page.f;
      const to = j * D;
      const ints = page.i;
      const b = j * I;
      const start = f64[at + 1];
      f[to] = start;
      if (form === FULL) {
        f[to + 1] = f64[at + 2];
        f[to + 2] = f64[at + 3];
        f[to + 3] = f64[at + 4];
        f[to + 4] = f64[at + 5];
        f[to + 5] = f64[at + 6];
        f[to + 6] = f64[at + 7];
      } else if (form === SINGLE) {
        const value = f64[at + 2];
        f[to + 1] = 1;
        f[to + 2] = value;
        f[to + 3] = value;
        f[to + 4] = value;
        f[to + 5] = value;
        f[to + 6] = 0;
      } else {
        f[to + 1] = 0;
        f[to + 2] = 0;
        f[to + 3] = Infinity;
        f[to + 4] = -Infinity;
        f[to + 5] = 0;
        f[to + 6] = 0;
      }
      at += FORM_LENGTH[form];
      ints[b + CHAIN] = -1;
      ints[b + NEXT] = -1;
      // Saved in chain order per size, newest-opened first: keep it.
      if (k !== beforeK) {
        heads[h0 + k] = r;
        starts[h0 + k] = start;
        ints[b + PREV] = -1;
        ended = false;
      } else {
        records[before >>> RECORD_BITS].i[(before & RECORD_MASK) * I + CHAIN] = r;
        ints[b + PREV] = before;
      }
      before = r;
      beforeK = k;
      // The newest ended window of each size goes to a fresh hub mirror again (it
      // keeps the newest of a size only, as `endedWindows` gives): revised, and in a
      // bucket not published from, so the next `take` publishes it without a list.
      const state = rest - k * 8;
      ints[b + META] = owner * 64 + k * 8 + (state === OPEN ? OPEN : ended ? state : REVISED);
      if (state !== OPEN) ended = true;
      // Ends are whole multiples of the smallest size: the quotient picks a cache entry.
      const end = start + sizesMs[k];
      const e = (end / size0 >>> 0) & (KNOWN_ENDS - 1);
      const bucket = knownBuckets[e];
      if (bucket !== null && knownEnds[e] === end) {
        records[bucket.tail >>> RECORD_BITS].i[(bucket.tail & RECORD_MASK) * I + NEXT] = r;
        bucket.tail = r;
        bucket.count++;
      } else {
        this.#pend(r, k, end);
        knownEnds[e] = end;
        knownBuckets[e] = this.#lastBucket[k];
      }
    }
    this.open += n;
    return at;
  }

  /**
   * The windows of one metric and size that this store still holds, oldest
   * first: open ones (readings within the grace can still change them),
   * final when the watermark passed their end (they close at the next `take`).
   */
  heldWindows(owner: number, size: number): HeldWindow[] {
    const held: HeldWindow[] = [];
    if (size >= this.#sizes) return held;
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    for (let r = heads[(owner & OWNER_MASK) * this.#sizes + size]; r >= 0;) {
      const page = this.#records[r >>> RECORD_BITS];
      const j = r & RECORD_MASK;
      const f = this.#values(r), at = this.#valuesAt;
      if (f[at + COUNT] > 0) {
        held.push({
          startMs: f[at + START],
          count: f[at + COUNT],
          sum: f[at + SUM],
          min: f[at + MIN],
          max: f[at + MAX],
          // Passed by the watermark: closed at the next `take`, and no reading can change it.
          final: f[at + START] + this.spec.sizesMs[size] <= this.watermarkMs,
        });
      }
      r = page.i[j * I + CHAIN];
    }
    return held.sort((a, b) => a.startMs - b.startMs);
  }

  /**
   * The newest ended window of each size of these owners that the store
   * still holds (ended, not yet closed), as provisional windows: what a
   * fresh mirror can learn of windows from the shard. Those closed before
   * are no longer here.
   */
  endedWindows(owners: Iterable<number>): WindowStates {
    const out = new OutColumns(false);
    for (const owner of owners) {
      const heads = this.#owners[owner >>> OWNER_BITS].head;
      const h0 = (owner & OWNER_MASK) * this.#sizes;
      for (let k = 0; k < this.#sizes; k++) {
        let newest = -1, newestStart = -Infinity;
        for (let r = heads[h0 + k]; r >= 0;) {
          const page = this.#records[r >>> RECORD_BITS];
          const j = r & RECORD_MASK;
          const start = page.f[j * D + START];
          if ((page.i[j * I + META] & 7) !== OPEN && start > newestStart) {
            newest = r;
            newestStart = start;
          }
          r = page.i[j * I + CHAIN];
        }
        if (newest >= 0) this.#publishTo(out, newest, 0);
      }
    }
    return out.take();
  }

  /** The open window starting at `start` in the chain from `r` (latest start first), or -1. */
  #find(r: number, start: number): number {
    while (r >= 0) {
      const page = this.#records[r >>> RECORD_BITS];
      const at = page.f[(r & RECORD_MASK) * D + START];
      if (at === start) return r;
      if (at < start) return -1;
      r = page.i[(r & RECORD_MASK) * I + CHAIN];
    }
    return -1;
  }

  /** Opens the smallest window of `owner` at `start`, and the larger ones around it not open yet. */
  #openSmallest(owner: number, start: number): number {
    const op = this.#owners[owner >>> OWNER_BITS];
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    const sizesMs = this.spec.sizesMs;
    for (let k = 1; k < this.#sizes; k++) {
      const startK = startOf(start, sizesMs[k]);
      // Mostly the size's latest window, or one after it: no record read then.
      const latest = op.start[h0 + k];
      if (latest === startK) continue;
      if (startK > latest || this.#find(op.head[h0 + k], startK) < 0) this.#open(owner, k, startK);
    }
    return this.#open(owner, 0, start);
  }

  /** A value went into an ended smallest window: the published larger windows holding it are revised. */
  #reviseLarger(owner: number, timeMs: number): void {
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    const sizesMs = this.spec.sizesMs;
    for (let k = 1; k < this.#sizes; k++) {
      const start = startOf(timeMs, sizesMs[k]);
      // Sizes nest: when this one has not ended, no larger one has.
      if (start + sizesMs[k] > this.newestMs) return;
      const r = this.#find(heads[h0 + k], start);
      if (r < 0) continue;
      const ints = this.#records[r >>> RECORD_BITS].i;
      const m = (r & RECORD_MASK) * I + META;
      if ((ints[m] & 7) === PUBLISHED) {
        ints[m] += REVISED - PUBLISHED;
        this.#revised.push(r);
      }
    }
  }

  /**
   * The values of window `r` (at `#valuesAt` in the array returned): its record for a smallest one;
   * for a larger one, the scratch with its open smallest windows merged in
   * (oldest first, as they close, so its final values repeat its last provisional ones).
   */
  #values(r: number): Float64Array {
    const page = this.#records[r >>> RECORD_BITS];
    const j = r & RECORD_MASK;
    const meta = page.i[j * I + META];
    const k = (meta >>> 3) & 7;
    if (k === 0) {
      this.#valuesAt = j * D;
      return page.f;
    }
    const merged = this.#merged;
    for (let i = 0; i < F; i++) merged[i] = page.f[j * D + i];
    const start = merged[START], end = start + this.spec.sizesMs[k];
    const owner = meta >>> 6;
    let inside = this.#inside;
    let n = 0;
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    // The chain runs latest start first: collect those inside, merge them from the oldest.
    for (let s = heads[(owner & OWNER_MASK) * this.#sizes]; s >= 0;) {
      const sp = this.#records[s >>> RECORD_BITS];
      const t = sp.f[(s & RECORD_MASK) * D + START];
      if (t < start) break;
      if (t < end) {
        if (n === inside.length) {
          const grown = new Int32Array(2 * n);
          grown.set(inside);
          inside = this.#inside = grown;
        }
        inside[n++] = s;
      }
      s = sp.i[(s & RECORD_MASK) * I + CHAIN];
    }
    for (let i = n - 1; i >= 0; i--) {
      const s = inside[i];
      merge(merged, 0, this.#records[s >>> RECORD_BITS].f, (s & RECORD_MASK) * D);
    }
    this.#valuesAt = 0;
    return merged;
  }

  #chainOf(r: number): number {
    return this.#records[r >>> RECORD_BITS].i[(r & RECORD_MASK) * I + CHAIN];
  }

  #startOf(r: number): number {
    return this.#records[r >>> RECORD_BITS].f[(r & RECORD_MASK) * D + START];
  }

  /**
   * A fresh record for a window of `owner` and size `k` starting at `start`,
   * in its end bucket and in its chain, which stays latest start first.
   */
  #open(owner: number, k: number, start: number): number {
    let r = this.#freeHead;
    if (r >= 0) {
      this.#freeHead = this.#records[r >>> RECORD_BITS].i[(r & RECORD_MASK) * I + NEXT];
    } else {
      r = this.#recordCount++;
      if (r >>> RECORD_BITS === this.#records.length) this.#records.push(new RecordPage());
    }
    const page = this.#records[r >>> RECORD_BITS];
    const j = r & RECORD_MASK;
    const op = this.#owners[owner >>> OWNER_BITS];
    const heads = op.head;
    const h = (owner & OWNER_MASK) * this.#sizes + k;
    const f = page.f, at = j * D;
    f[at + START] = start;
    f[at + COUNT] = 0;
    f[at + SUM] = 0;
    f[at + MIN] = Infinity;
    f[at + MAX] = -Infinity;
    f[at + MEAN] = 0;
    f[at + M2] = 0;
    const ints = page.i, b = j * I;
    ints[b + META] = owner * 64 + k * 8 + OPEN;
    ints[b + NEXT] = -1;
    const first = heads[h];
    if (first < 0 || op.start[h] < start) {
      ints[b + CHAIN] = first;
      ints[b + PREV] = -1;
      if (first >= 0) this.#records[first >>> RECORD_BITS].i[(first & RECORD_MASK) * I + PREV] = r;
      heads[h] = r;
      op.start[h] = start;
    } else {
      // Opened by a reading older than the newest: after the windows that start later.
      let before = first;
      for (let next = this.#chainOf(before); next >= 0 && this.#startOf(next) > start;) {
        before = next;
        next = this.#chainOf(next);
      }
      const next = this.#chainOf(before);
      ints[b + CHAIN] = next;
      ints[b + PREV] = before;
      this.#records[before >>> RECORD_BITS].i[(before & RECORD_MASK) * I + CHAIN] = r;
      if (next >= 0) this.#records[next >>> RECORD_BITS].i[(next & RECORD_MASK) * I + PREV] = r;
    }
    this.open++;
    this.#pend(r, k, start + this.spec.sizesMs[k]);
    return r;
  }

  #pend(r: number, k: number, end: number): void {
    // Windows of one size mostly open into the same bucket as the last one: no Map lookup then.
    let bucket = this.#lastBucket[k];
    if (bucket === null || this.#lastEnd[k] !== end) {
      // Readings of a batch straddle a second: ends alternate, and the map lookup showed.
      const e = (end / this.spec.sizesMs[0] >>> 0) & (KNOWN_ENDS - 1);
      bucket = this.#knownEnds[e] === end ? this.#knownBuckets[e] : null;
      if (bucket === null) {
        bucket = this.#byEnd.get(end) ?? null;
        if (bucket !== null) {
          this.#knownEnds[e] = end;
          this.#knownBuckets[e] = bucket;
        }
      }
    }
    if (bucket === null) {
      bucket = { head: r, tail: r, published: -1, count: 1, seen: 0 };
      this.#byEnd.set(end, bucket);
      this.#lastBucket[k] = bucket;
      this.#lastEnd[k] = end;
      const ends = this.#ends;
      let i = ends.length;
      while (i > 0 && ends[i - 1] > end) i--;
      ends.splice(i, 0, end);
      this.#endBuckets.splice(i, 0, bucket);
      return;
    }
    this.#records[bucket.tail >>> RECORD_BITS].i[(bucket.tail & RECORD_MASK) * I + NEXT] = r;
    bucket.tail = r;
    bucket.count++;
    this.#lastBucket[k] = bucket;
    this.#lastEnd[k] = end;
  }

  /**
   * Publishes a window final (unless its owner was forgotten), unchains and
   * frees it; a smallest window is merged into the larger ones around it
   * that are still open.
   */
  #close(r: number): void {
    const page = this.#records[r >>> RECORD_BITS];
    const j = r & RECORD_MASK;
    const ints = page.i, b = j * I;
    const meta = ints[b + META];
    const state = meta & 7;
    if (state !== DEAD) {
      // A revision not yet handed over goes out with the final values instead.
      this.#publish(r, WINDOW_FINAL | (state !== PUBLISHED ? WINDOW_CHANGED : 0));
      const owner = meta >>> 6, k = (meta >>> 3) & 7;
      const op = this.#owners[owner >>> OWNER_BITS];
      const heads = op.head;
      const h0 = (owner & OWNER_MASK) * this.#sizes;
      // Out of its chain by its links: the window closing is mostly the chain's oldest, its last.
      const prev = ints[b + PREV], next = ints[b + CHAIN];
      if (prev < 0) {
        heads[h0 + k] = next;
        op.start[h0 + k] = next < 0 ? -Infinity : this.#startOf(next);
      } else this.#records[prev >>> RECORD_BITS].i[(prev & RECORD_MASK) * I + CHAIN] = next;
      if (next >= 0) this.#records[next >>> RECORD_BITS].i[(next & RECORD_MASK) * I + PREV] = prev;
      if (k === 0) {
        const start = page.f[j * D + START];
        for (let k = 1; k < this.#sizes; k++) {
          // Closed already when it ends with this one (its final values counted this one as open).
          const startK = startOf(start, this.spec.sizesMs[k]);
          const into = op.start[h0 + k] === startK
            ? heads[h0 + k]
            : this.#find(heads[h0 + k], startK);
          if (into >= 0) {
            merge(this.#records[into >>> RECORD_BITS].f, (into & RECORD_MASK) * D, page.f, j * D);
          }
        }
      }
    }
    ints[b + META] = meta - state + FREE;
    ints[b + NEXT] = this.#freeHead;
    this.#freeHead = r;
    this.open--;
  }

  #publish(r: number, flags: number): void {
    this.#publishTo(this.#out, r, flags);
  }

  #publishTo(out: OutColumns, r: number, flags: number): void {
    const meta = this.#records[r >>> RECORD_BITS].i[(r & RECORD_MASK) * I + META];
    const owner = meta >>> 6;
    const op = this.#owners[owner >>> OWNER_BITS];
    const f = this.#values(r);
    out.push(
      op.sensor[owner & OWNER_MASK],
      op.metric[owner & OWNER_MASK],
      (meta >>> 3) & 7,
      flags,
      f,
      this.#valuesAt,
    );
  }
}

/**
 * How the record at `f[at]` is saved: short when the short form gives back
 * every number to the bit (a -0 value, for one, has sum +0: saved in full).
 */
function formOf(f: Float64Array, at: number): number {
  const count = f[at + COUNT];
  if (count === 0) {
    return Object.is(f[at + SUM], 0) && f[at + MIN] === Infinity && f[at + MAX] === -Infinity &&
        Object.is(f[at + MEAN], 0) && Object.is(f[at + M2], 0)
      ? EMPTY
      : FULL;
  }
  if (count !== 1) return FULL;
  const v = f[at + SUM];
  return Object.is(f[at + MIN], v) && Object.is(f[at + MAX], v) && Object.is(f[at + MEAN], v) &&
      Object.is(f[at + M2], 0)
    ? SINGLE
    : FULL;
}

/**
 * Merges the window statistics at `b[bi]` into those at `a[ai]` (Chan et
 * al.: counts add, means weigh, m2 gains the squared mean gap).
 */
function merge(a: Float64Array, ai: number, b: Float64Array, bi: number): void {
  const nb = b[bi + COUNT];
  if (nb === 0) return;
  const na = a[ai + COUNT];
  a[ai + SUM] += b[bi + SUM];
  if (b[bi + MIN] < a[ai + MIN]) a[ai + MIN] = b[bi + MIN];
  if (b[bi + MAX] > a[ai + MAX]) a[ai + MAX] = b[bi + MAX];
  if (na === 0) {
    a[ai + COUNT] = nb;
    a[ai + MEAN] = b[bi + MEAN];
    a[ai + M2] = b[bi + M2];
    return;
  }
  const n = na + nb;
  const delta = b[bi + MEAN] - a[ai + MEAN];
  a[ai + COUNT] = n;
  a[ai + MEAN] += delta * nb / n;
  a[ai + M2] += b[bi + M2] + delta * delta * na * nb / n;
}

/**
 * Fewer entries than this share of a buffer, this many takes running: it is
 * made smaller. About 100 s of 100 ms flushes: longer than the bursts' period
 * (every window of a size ends together, each size's period apart, the largest
 * 60 s by default), so a buffer is not shrunk between bursts only to be
 * allocated again at the next one (at 100k sensors that churned ~70 MB of
 * columns every 5 s, dead until a major GC).
 */
const SHRINK_SHARE = 8;
const SHRINK_AFTER = 1024;
/**
 * A take hands out at least this many due windows (ended or closed), and at
 * least an eighth of those due: a burst (a size's windows all ending
 * together) goes out over a few takes, and a backlog cannot grow (what is due
 * beyond eight times a take's share of the rate waits at most eight takes).
 */
const TAKE_AT_LEAST = 4096;
const TAKE_SPREAD = 8;
const MIN_OUT = 256;
/**
 * A burst-size buffer of at most this many entries (~460 KB) keeps its
 * partner at its size too. Sent back to a quarter, the partner was allocated
 * again at the next burst: at 5,000 sensors two buffers of ~2,900 entries a
 * shard, every second, were a fifth of the server's ArrayBuffer churn, and
 * that churn set how often V8 ran a full collection. Larger fleets' bursts
 * (~65,000 entries a shard at 100,000 sensors) still halve as before.
 */
const KEEP_PAIR_UPTO = 8192;

/**
 * Growable output columns. `take` hands over what was pushed since the last
 * call: a copy, or (`reuse`) views of the buffer, the next pushes then going
 * to the other one. Of the two, at most one stays at burst size (the other
 * goes back to a quarter of it) once bursts pass `KEEP_PAIR_UPTO`; one far
 * larger than its takes for a while shrinks.
 */
class OutColumns {
  readonly #reuse: boolean;
  #states = allocateWindowStates(MIN_OUT);
  /** With `reuse`: the buffer handed out by the last take (written after the next one). */
  #other: WindowStates | null = null;
  #length = 0;
  #small = 0;
  /**
   * With `reuse`: what takes hand out for the two latest buffers handed out,
   * their columns whole with `length` set (made once per buffer: views were
   * eleven objects a take, kept by the hub's tick long enough to be promoted).
   */
  #handed: PrefixWindowStates | null = null;
  #handedBefore: PrefixWindowStates | null = null;

  constructor(reuse: boolean) {
    this.#reuse = reuse;
  }

  get bytes(): number {
    return ((this.#states.length) + (this.#other?.length ?? 0)) * WINDOW_BYTES;
  }

  push(sensor: number, metric: number, size: number, flags: number, f: Float64Array, at: number) {
    if (this.#length === this.#states.length) this.#grow();
    const s = this.#states;
    const n = this.#length++;
    s.sensor[n] = sensor;
    s.metric[n] = metric;
    s.size[n] = size;
    s.flags[n] = flags;
    s.startMs[n] = f[at + START];
    s.count[n] = f[at + COUNT];
    s.sum[n] = f[at + SUM];
    s.min[n] = f[at + MIN];
    s.max[n] = f[at + MAX];
    s.std[n] = Math.sqrt(Math.max(0, f[at + M2] / f[at + COUNT]));
  }

  /** What was pushed since the last call. */
  take(): WindowStates {
    const n = this.#length;
    this.#length = 0;
    const s = this.#states;
    let out: WindowStates;
    if (this.#reuse) {
      out = this.#hand(s, n);
      this.#states = this.#other ?? allocateWindowStates(MIN_OUT);
      this.#other = s;
    } else {
      out = allocateWindowStates(n);
      copyWindowStates(s, out, n);
    }
    // Of two buffers, only one need stay at burst size: when a burst lands in the other, that
    // one (written next, no larger than the one just handed out) goes back to a quarter of it,
    // which still holds the smaller sizes' bursts. At 100k sensors two burst-size buffers a
    // shard were ~117 MB in all.
    const quarter = Math.max(MIN_OUT, (this.#other?.length ?? 0) >>> 2);
    if (
      this.#other !== null && this.#other.length > KEEP_PAIR_UPTO &&
      this.#states.length > quarter &&
      this.#states.length <= this.#other.length && n * SHRINK_SHARE < this.#states.length
    ) {
      this.#states = allocateWindowStates(quarter);
      this.#small = 0;
      return out;
    }
    // Shrink the buffer written next if takes have long been far smaller than it.
    this.#small = n * SHRINK_SHARE < this.#states.length ? this.#small + 1 : 0;
    if (this.#small >= SHRINK_AFTER && this.#states.length > MIN_OUT) {
      this.#states = allocateWindowStates(Math.max(MIN_OUT, this.#states.length >>> 2));
      this.#small = 0;
    }
    return out;
  }

  /** Buffer `s` handed out with its first `n` entries valid (its wrapper reused when it has one). */
  #hand(s: WindowStates, n: number): WindowStates {
    // Buffers alternate: the wrapper handed out the take before last is this buffer's, unless it
    // was grown or shrunk since. The one handed out last stays as it is until the next take.
    let out = this.#handedBefore;
    if (out === null || out.sensor !== s.sensor) out = prefixWindowStates(s);
    this.#handedBefore = this.#handed;
    this.#handed = out;
    out.length = n;
    return out;
  }

  /** Room for `n` more entries: grown once, with a quarter to spare (the next burst is alike). */
  reserve(n: number): void {
    const least = this.#length + n;
    if (least > this.#states.length) this.#grow(least + (least >>> 2));
  }

  #grow(least = 0): void {
    const old = this.#states;
    const next = allocateWindowStates(Math.max(old.length * 2, least));
    copyWindowStates(old, next, this.#length);
    this.#states = next;
  }
}
