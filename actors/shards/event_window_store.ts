/**
 * Event-time tumbling windows for one shard: per sensor and metric, windows
 * of each configured size (default 1 s, 10 s, 1 min) aligned to the epoch.
 * Pure: no clocks, no I/O. Time only moves with the readings' event times.
 *
 * The shard's watermark trails the newest event time it has seen by the
 * grace period. A window is *ended* once the newest event time reaches its
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
 */

import { allocateWindowStates, WINDOW_CHANGED, WINDOW_FINAL } from "../../protocol/columns.ts";
import type { WindowStates } from "../../protocol/columns.ts";

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
 * Numbers per saved window (`EventWindowStore.saveWindows`): size and state,
 * start, count, sum, min, max, mean, m2. Checkpoints with another layout are not restored.
 */
export const SLOT_LENGTH = 9;

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
  // Open windows of a size start within (newest - grace - size, newest].
  return sizesMs.map((size) => Math.ceil(graceMs / size) + 1);
}

/** Record states. */
const FREE = 0, OPEN = 1, PUBLISHED = 2, REVISED = 3, DEAD = 4;
/** Numbers per record. */
const F = 7;
const START = 0, COUNT = 1, SUM = 2, MIN = 3, MAX = 4, MEAN = 5, M2 = 6;

const RECORD_BITS = 12;
const RECORD_PAGE = 1 << RECORD_BITS;
const RECORD_MASK = RECORD_PAGE - 1;
const OWNER_BITS = 10;
const OWNER_PAGE = 1 << OWNER_BITS;
const OWNER_MASK = OWNER_PAGE - 1;

class RecordPage {
  readonly f = new Float64Array(RECORD_PAGE * F);
  readonly owner = new Int32Array(RECORD_PAGE);
  /** Next open window of the same owner and size (-1: none). */
  readonly chain = new Int32Array(RECORD_PAGE);
  /** Next window in the same end bucket (-1: none); also the free list's link. */
  readonly endNext = new Int32Array(RECORD_PAGE);
  readonly size = new Uint8Array(RECORD_PAGE);
  readonly state = new Uint8Array(RECORD_PAGE);
}

class OwnerPage {
  readonly sensor = new Uint32Array(OWNER_PAGE);
  readonly metric = new Uint16Array(OWNER_PAGE);
  /** Per owner and size: its newest-opened open window (-1: none). */
  readonly head: Int32Array;
  constructor(sizes: number) {
    this.head = new Int32Array(OWNER_PAGE * Math.max(1, sizes)).fill(-1);
  }
}

/** The open windows that end at one time, linked through `endNext`. */
interface EndBucket {
  head: number;
  tail: number;
  /** The last entry published as ended (-1: none yet); later entries are new since. */
  published: number;
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
  /** Scratch of `restoreWindows`: per size, the last window restored. */
  readonly #tails: Int32Array;
  #nextOwner = 0;
  /** Newest event time seen; -Infinity before the first reading. */
  newestMs = -Infinity;
  readonly #byEnd = new Map<number, EndBucket>();
  /** End times with a bucket, ascending. */
  #ends: number[] = [];
  #out = new OutColumns();
  /** Windows revised by late readings since the last `take`. */
  #revised: number[] = [];
  /** Readings dropped as late since the start (or restore). */
  lateDropped = 0;
  /** Windows open now. */
  open = 0;

  constructor(spec: WindowSpec = DEFAULT_WINDOW_SPEC) {
    slotsPerSize(spec);
    this.spec = spec;
    this.#sizes = spec.sizesMs.length;
    this.#tails = new Int32Array(Math.max(1, this.#sizes));
  }

  get watermarkMs(): number {
    return this.newestMs - this.spec.graceMs;
  }

  /** Bytes the arenas hold (for memory accounting). */
  get bytes(): number {
    return this.#records.length * RECORD_PAGE * (F * 8 + 14) +
      this.#owners.length * OWNER_PAGE * (6 + 4 * Math.max(1, this.#sizes));
  }

  /**
   * Makes `owner` (the next unused number when not given) the empty windows
   * of one sensor's metric, and returns it.
   */
  windowsFor(sensor: number, metric: number, owner = this.#nextOwner): number {
    while (owner >= this.#owners.length * OWNER_PAGE) this.#owners.push(new OwnerPage(this.#sizes));
    if (owner >= this.#nextOwner) this.#nextOwner = owner + 1;
    const page = this.#owners[owner >>> OWNER_BITS];
    const i = owner & OWNER_MASK;
    page.sensor[i] = sensor;
    page.metric[i] = metric;
    page.head.fill(-1, i * this.#sizes, (i + 1) * this.#sizes);
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
    return timeMs - (timeMs % size) + size <= this.watermarkMs;
  }

  /** Adds one value at event time `timeMs` (not late) to every size's window. */
  add(owner: number, value: number, timeMs: number): void {
    const sizes = this.#sizes;
    if (sizes === 0) return;
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h0 = (owner & OWNER_MASK) * sizes;
    const sizesMs = this.spec.sizesMs;
    for (let k = 0; k < sizes; k++) {
      const size = sizesMs[k];
      let r = heads[h0 + k];
      // Most readings fall in the newest window: no division then.
      let page = r >= 0 ? this.#records[r >>> RECORD_BITS] : undefined;
      let at = (r & RECORD_MASK) * F;
      if (page === undefined || !(timeMs >= page.f[at] && timeMs < page.f[at] + size)) {
        const start = timeMs - (timeMs % size);
        while (r >= 0) {
          page = this.#records[r >>> RECORD_BITS];
          at = (r & RECORD_MASK) * F;
          if (page.f[at] === start) break;
          r = page.chain[r & RECORD_MASK];
        }
        if (r < 0) {
          r = this.#open(owner, k, start);
          heads[h0 + k] = r;
          page = this.#records[r >>> RECORD_BITS];
          at = (r & RECORD_MASK) * F;
        }
      }
      const f = page!.f;
      const count = ++f[at + COUNT];
      f[at + SUM] += value;
      if (value < f[at + MIN]) f[at + MIN] = value;
      if (value > f[at + MAX]) f[at + MAX] = value;
      const delta = value - f[at + MEAN];
      f[at + MEAN] += delta / count;
      f[at + M2] += delta * (value - f[at + MEAN]);
      const j = r & RECORD_MASK;
      if (page!.state[j] === PUBLISHED) {
        page!.state[j] = REVISED;
        this.#revised.push(r);
      }
    }
    if (timeMs > this.newestMs) this.newestMs = timeMs;
  }

  /**
   * Publishes windows that ended (provisional) and closes those the
   * watermark passed (final), then hands over everything published since the
   * previous call. A window appears at most once per call, with its latest values.
   */
  take(): WindowStates {
    const watermark = this.watermarkMs;
    let closedUpTo = 0;
    for (const end of this.#ends) {
      if (end > this.newestMs) break;
      const bucket = this.#byEnd.get(end)!;
      if (end <= watermark) {
        for (let r = bucket.head; r >= 0;) {
          const page = this.#records[r >>> RECORD_BITS];
          const next = page.endNext[r & RECORD_MASK];
          this.#close(r);
          r = next;
        }
        this.#byEnd.delete(end);
        closedUpTo++;
        continue;
      }
      // Ended but open: only entries added since the last take need publishing.
      let r = bucket.published < 0
        ? bucket.head
        : this.#records[bucket.published >>> RECORD_BITS].endNext[bucket.published & RECORD_MASK];
      while (r >= 0) {
        const page = this.#records[r >>> RECORD_BITS];
        const j = r & RECORD_MASK;
        if (page.state[j] === OPEN) {
          page.state[j] = PUBLISHED;
          this.#publish(r, WINDOW_CHANGED);
        }
        r = page.endNext[j];
      }
      bucket.published = bucket.tail;
    }
    if (closedUpTo > 0) this.#ends = this.#ends.slice(closedUpTo);
    // Revisions of windows still open (a closed one went out final, with its changes).
    for (const r of this.#revised) {
      const page = this.#records[r >>> RECORD_BITS];
      if (page.state[r & RECORD_MASK] !== REVISED) continue;
      page.state[r & RECORD_MASK] = PUBLISHED;
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
        const page = this.#records[r >>> RECORD_BITS];
        page.state[r & RECORD_MASK] = DEAD;
        r = page.chain[r & RECORD_MASK];
      }
      heads[h0 + k] = -1;
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
        r = this.#records[r >>> RECORD_BITS].chain[r & RECORD_MASK]
      ) n++;
    }
    return n;
  }

  /**
   * Writes the open windows of `owner`, `SLOT_LENGTH` numbers each (size and
   * state as `size * 8 + state`, then start, count, sum, min, max, mean, m2),
   * oldest-opened last per size; returns the offset after them.
   */
  saveWindows(owner: number, f64: Float64Array, at: number): number {
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    for (let k = 0; k < this.#sizes; k++) {
      for (let r = heads[h0 + k]; r >= 0;) {
        const page = this.#records[r >>> RECORD_BITS];
        const j = r & RECORD_MASK;
        f64[at] = k * 8 + page.state[j];
        f64.set(page.f.subarray(j * F, j * F + F), at + 1);
        at += SLOT_LENGTH;
        r = page.chain[j];
      }
    }
    return at;
  }

  /**
   * Re-creates `n` windows saved by `saveWindows` for a fresh `owner`.
   * Those that had ended are published again at the next `take`, so a fresh
   * hub mirror has them. Returns the offset after them.
   */
  restoreWindows(owner: number, f64: Float64Array, at: number, n: number): number {
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h0 = (owner & OWNER_MASK) * this.#sizes;
    // A restart restores millions of windows: no allocation per owner or window here.
    const tails = this.#tails.fill(-1);
    for (let w = 0; w < n; w++, at += SLOT_LENGTH) {
      const k = Math.floor(f64[at] / 8);
      const state = f64[at] % 8;
      if (!(k < this.#sizes) || !(state >= OPEN && state <= REVISED)) {
        throw new RangeError(`Cannot restore a window of size ${k} in state ${state}`);
      }
      const start = f64[at + 1];
      const r = this.#open(owner, k, start);
      const page = this.#records[r >>> RECORD_BITS];
      const j = r & RECORD_MASK;
      const f = page.f;
      for (let i = 0, to = j * F; i < F; i++) f[to + i] = f64[at + 1 + i];
      // Keep the saved chain order: newest-opened first.
      page.chain[j] = -1;
      if (tails[k] < 0) heads[h0 + k] = r;
      else this.#records[tails[k] >>> RECORD_BITS].chain[tails[k] & RECORD_MASK] = r;
      tails[k] = r;
      if (state !== OPEN) {
        page.state[j] = REVISED;
        this.#revised.push(r);
      }
    }
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
      const f = page.f;
      const at = j * F;
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
      r = page.chain[j];
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
    const out = new OutColumns();
    for (const owner of owners) {
      const heads = this.#owners[owner >>> OWNER_BITS].head;
      const h0 = (owner & OWNER_MASK) * this.#sizes;
      for (let k = 0; k < this.#sizes; k++) {
        let newest = -1, newestStart = -Infinity;
        for (let r = heads[h0 + k]; r >= 0;) {
          const page = this.#records[r >>> RECORD_BITS];
          const j = r & RECORD_MASK;
          const start = page.f[j * F + START];
          if (page.state[j] !== OPEN && start > newestStart) {
            newest = r;
            newestStart = start;
          }
          r = page.chain[j];
        }
        if (newest >= 0) this.#publishTo(out, newest, 0);
      }
    }
    return out.take();
  }

  /** A fresh record for a window of `owner` and size `k` starting at `start`, in its end bucket. */
  #open(owner: number, k: number, start: number): number {
    let r = this.#freeHead;
    if (r >= 0) {
      this.#freeHead = this.#records[r >>> RECORD_BITS].endNext[r & RECORD_MASK];
    } else {
      r = this.#recordCount++;
      if (r >>> RECORD_BITS === this.#records.length) this.#records.push(new RecordPage());
    }
    const page = this.#records[r >>> RECORD_BITS];
    const j = r & RECORD_MASK;
    const heads = this.#owners[owner >>> OWNER_BITS].head;
    const h = (owner & OWNER_MASK) * this.#sizes + k;
    const at = j * F;
    page.f[at + START] = start;
    page.f[at + COUNT] = 0;
    page.f[at + SUM] = 0;
    page.f[at + MIN] = Infinity;
    page.f[at + MAX] = -Infinity;
    page.f[at + MEAN] = 0;
    page.f[at + M2] = 0;
    page.owner[j] = owner;
    page.size[j] = k;
    page.state[j] = OPEN;
    page.chain[j] = heads[h];
    page.endNext[j] = -1;
    this.open++;
    this.#pend(r, start + this.spec.sizesMs[k]);
    return r;
  }

  #pend(r: number, end: number): void {
    let bucket = this.#byEnd.get(end);
    if (bucket === undefined) {
      bucket = { head: r, tail: r, published: -1 };
      this.#byEnd.set(end, bucket);
      const ends = this.#ends;
      let i = ends.length;
      while (i > 0 && ends[i - 1] > end) i--;
      ends.splice(i, 0, end);
      return;
    }
    this.#records[bucket.tail >>> RECORD_BITS].endNext[bucket.tail & RECORD_MASK] = r;
    bucket.tail = r;
  }

  /** Publishes a window final (unless its owner was forgotten), unchains and frees it. */
  #close(r: number): void {
    const page = this.#records[r >>> RECORD_BITS];
    const j = r & RECORD_MASK;
    const state = page.state[j];
    if (state !== DEAD) {
      // A revision not yet handed over goes out with the final values instead.
      this.#publish(r, WINDOW_FINAL | (state !== PUBLISHED ? WINDOW_CHANGED : 0));
      const owner = page.owner[j];
      const heads = this.#owners[owner >>> OWNER_BITS].head;
      const h = (owner & OWNER_MASK) * this.#sizes + page.size[j];
      if (heads[h] === r) heads[h] = page.chain[j];
      else {
        let before = heads[h];
        while (before >= 0) {
          const bp = this.#records[before >>> RECORD_BITS];
          const next = bp.chain[before & RECORD_MASK];
          if (next === r) {
            bp.chain[before & RECORD_MASK] = page.chain[j];
            break;
          }
          before = next;
        }
      }
    }
    page.state[j] = FREE;
    page.endNext[j] = this.#freeHead;
    this.#freeHead = r;
    this.open--;
  }

  #publish(r: number, flags: number): void {
    this.#publishTo(this.#out, r, flags);
  }

  #publishTo(out: OutColumns, r: number, flags: number): void {
    const page = this.#records[r >>> RECORD_BITS];
    const j = r & RECORD_MASK;
    const owner = page.owner[j];
    const op = this.#owners[owner >>> OWNER_BITS];
    out.push(
      op.sensor[owner & OWNER_MASK],
      op.metric[owner & OWNER_MASK],
      page.size[j],
      flags,
      page.f,
      j * F,
    );
  }
}

/** Growable output columns; `take` hands a copy over and starts empty. */
class OutColumns {
  #states = allocateWindowStates(256);
  #length = 0;

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

  /** A copy of what was pushed since the last call. */
  take(): WindowStates {
    const n = this.#length;
    this.#length = 0;
    const s = this.#states;
    const out = allocateWindowStates(n);
    if (n === 0) return out;
    out.sensor.set(s.sensor.subarray(0, n));
    out.metric.set(s.metric.subarray(0, n));
    out.size.set(s.size.subarray(0, n));
    out.flags.set(s.flags.subarray(0, n));
    out.startMs.set(s.startMs.subarray(0, n));
    out.count.set(s.count.subarray(0, n));
    out.sum.set(s.sum.subarray(0, n));
    out.min.set(s.min.subarray(0, n));
    out.max.set(s.max.subarray(0, n));
    out.std.set(s.std.subarray(0, n));
    return out;
  }

  #grow(): void {
    const old = this.#states;
    const next = allocateWindowStates(old.length * 2);
    next.sensor.set(old.sensor);
    next.metric.set(old.metric);
    next.size.set(old.size);
    next.flags.set(old.flags);
    next.startMs.set(old.startMs);
    next.count.set(old.count);
    next.sum.set(old.sum);
    next.min.set(old.min);
    next.max.set(old.max);
    next.std.set(old.std);
    this.#states = next;
  }
}
