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

/** Numbers per slot: start, count, sum, min, max, mean, m2, state. */
const SLOT = 8;
const START = 0, COUNT = 1, SUM = 2, MIN = 3, MAX = 4, MEAN = 5, M2 = 6, STATE = 7;
/** Numbers per window slot in saved state: checkpoints with another layout are not restored. */
export const SLOT_LENGTH = SLOT;
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

/** Slot states. A free slot has start NaN. */
const OPEN = 0, PUBLISHED = 1, REVISED = 2;

/** Checks a spec and returns the slots each size needs. */
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

/**
 * Numbers before a region's slots: per size, the arena index of the slot the
 * last reading went to (at most 8 sizes), so a region's slots start 64-byte aligned.
 */
const HEADER = 8;

/**
 * The windows of one sensor's metric: a region of its store's arena (one
 * Float64Array for the whole shard), so a reading touches the region's few
 * cache lines and no per-metric typed array objects.
 */
export class WindowRegion {
  readonly sensor: number;
  readonly metric: number;
  /** Where the region starts in the store's arena. */
  readonly base: number;

  constructor(sensor: number, metric: number, base: number) {
    this.sensor = sensor;
    this.metric = metric;
    this.base = base;
  }
}

/** Windows of one sensor metric, by slot, waiting for one end time. */
class EndBucket {
  windows: WindowRegion[] = [];
  at: number[] = [];
  size: number[] = [];
  /** Entries before this one were already published as ended. */
  published = 0;
}

/**
 * A shard's event-time windows: the slots of every sensor metric (one arena),
 * the watermark, and the open windows kept in lists by end time. Not a clock:
 * time moves only with the readings' event times.
 */
export class EventWindowStore {
  readonly spec: WindowSpec;
  readonly #slots: number[];
  /** Offset of each size's first slot, in slots. */
  readonly #firstSlot: number[];
  readonly totalSlots: number;
  /** Every metric's region, one after the other; grows by doubling, never shrinks. */
  #arena: Float64Array;
  readonly #regionLength: number;
  #regions = 0;
  /** Newest event time seen; -Infinity before the first reading. */
  newestMs = -Infinity;
  /** Open windows by end time; `#ends` keeps those times sorted. */
  readonly #byEnd = new Map<number, EndBucket>();
  #ends: number[] = [];
  /** Published since the last `take`, by column (closed windows' numbers are copied in). */
  #out = new OutColumns();
  /** Windows revised by late readings since the last `take` (their values are read then). */
  #revisedWindows: WindowRegion[] = [];
  #revisedAt: number[] = [];
  #revisedStart: number[] = [];
  #revisedSize: number[] = [];
  /** Readings dropped as late since the start (or restore). */
  lateDropped = 0;

  constructor(spec: WindowSpec = DEFAULT_WINDOW_SPEC) {
    this.spec = spec;
    this.#slots = slotsPerSize(spec);
    this.#firstSlot = [];
    let total = 0;
    for (const n of this.#slots) {
      this.#firstSlot.push(total);
      total += n;
    }
    this.totalSlots = total;
    this.#regionLength = HEADER + total * SLOT;
    this.#arena = new Float64Array(this.#regionLength * 64);
  }

  get watermarkMs(): number {
    return this.newestMs - this.spec.graceMs;
  }

  /** A fresh set of windows for one sensor's metric. */
  windowsFor(sensor: number, metric: number): WindowRegion {
    const base = this.#regions++ * this.#regionLength;
    if (base + this.#regionLength > this.#arena.length) {
      const grown = new Float64Array(this.#arena.length * 2);
      grown.set(this.#arena);
      this.#arena = grown;
    }
    const windows = new WindowRegion(sensor, metric, base);
    this.#arena.fill(NaN, base + HEADER, base + this.#regionLength);
    // Each size starts at its own first slot (a free one: the fast path misses).
    for (let k = 0; k < this.#firstSlot.length; k++) {
      this.#arena[base + k] = base + HEADER + this.#firstSlot[k] * SLOT;
    }
    return windows;
  }

  /**
   * A view of a metric's slots, size after size (`totalSlots × SLOT_LENGTH`
   * numbers), for checkpoints; valid until the next `windowsFor`.
   */
  slotsOf(windows: WindowRegion): Float64Array {
    const start = windows.base + HEADER;
    return this.#arena.subarray(start, start + this.totalSlots * SLOT);
  }

  /**
   * Whether a reading at `timeMs` is late: the earliest-ending window holding
   * it is already closed. Call before `add`; late readings must not be added.
   */
  isLate(timeMs: number): boolean {
    // With no windows (`--windows none`) nothing can be late.
    if (this.spec.sizesMs.length === 0) return false;
    const size = this.spec.sizesMs[0];
    return timeMs - (timeMs % size) + size <= this.watermarkMs;
  }

  /** Adds one value at event time `timeMs` (not late) to every size's window. */
  add(windows: WindowRegion, value: number, timeMs: number): void {
    const { sizesMs } = this.spec;
    const slots = this.#arena;
    const base = windows.base;
    for (let k = 0; k < sizesMs.length; k++) {
      const size = sizesMs[k];
      let at = slots[base + k];
      let start = slots[at + START];
      // Most readings fall in the window the previous one did: no division then.
      if (!(timeMs >= start && timeMs < start + size)) {
        start = timeMs - (timeMs % size);
        at = base + HEADER + (this.#firstSlot[k] + ((start / size) % this.#slots[k])) * SLOT;
        slots[base + k] = at;
      }
      if (slots[at + START] !== start) {
        // The slot's previous window is closed by now (see slotsPerSize), maybe not yet published final.
        if (slots[at + START] === slots[at + START]) this.#close(windows, at, k);
        slots[at + START] = start;
        slots[at + COUNT] = 0;
        slots[at + SUM] = 0;
        slots[at + MIN] = Infinity;
        slots[at + MAX] = -Infinity;
        slots[at + MEAN] = 0;
        slots[at + M2] = 0;
        slots[at + STATE] = OPEN;
        this.#pend(windows, at, k, start + size);
      }
      const count = ++slots[at + COUNT];
      slots[at + SUM] += value;
      if (value < slots[at + MIN]) slots[at + MIN] = value;
      if (value > slots[at + MAX]) slots[at + MAX] = value;
      const delta = value - slots[at + MEAN];
      slots[at + MEAN] += delta / count;
      slots[at + M2] += delta * (value - slots[at + MEAN]);
      if (slots[at + STATE] === PUBLISHED) this.#revise(windows, at, k);
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
      const closing = end <= watermark;
      // Ended but open: only entries added since the last take need publishing.
      for (let i = closing ? 0 : bucket.published; i < bucket.windows.length; i++) {
        const windows = bucket.windows[i];
        const at = bucket.at[i];
        const slots = this.#arena;
        const size = bucket.size[i];
        if (slots[at + START] !== end - this.spec.sizesMs[size]) continue; // closed early on reuse
        if (closing) this.#close(windows, at, size);
        else if (slots[at + STATE] === OPEN) {
          slots[at + STATE] = PUBLISHED;
          this.#out.push(windows, slots, at, size, WINDOW_CHANGED);
        }
      }
      if (closing) {
        this.#byEnd.delete(end);
        closedUpTo++;
      } else bucket.published = bucket.windows.length;
    }
    if (closedUpTo > 0) this.#ends = this.#ends.slice(closedUpTo);
    // Revisions of windows still open (a closed one went out final, with its changes).
    for (let i = 0; i < this.#revisedWindows.length; i++) {
      const windows = this.#revisedWindows[i];
      const at = this.#revisedAt[i];
      const slots = this.#arena;
      if (slots[at + START] !== this.#revisedStart[i] || slots[at + STATE] !== REVISED) continue;
      slots[at + STATE] = PUBLISHED;
      this.#out.push(windows, slots, at, this.#revisedSize[i], WINDOW_CHANGED);
    }
    this.#revisedWindows = [];
    this.#revisedAt = [];
    this.#revisedStart = [];
    this.#revisedSize = [];
    const out = this.#out.take();
    return out;
  }

  /**
   * Drops a removed sensor metric's windows: freed slots are skipped when
   * their end comes, so nothing of them is published any more.
   */
  forget(windows: WindowRegion): void {
    // The region is not reused: pending entries may still point into it.
    this.slotsOf(windows).fill(NaN);
  }

  /** Rebuilds the bookkeeping for restored windows (their slots hold the state). */
  adopt(windows: WindowRegion): void {
    const { sizesMs } = this.spec;
    const slots = this.#arena;
    for (let k = 0; k < sizesMs.length; k++) {
      for (let s = 0; s < this.#slots[k]; s++) {
        const at = windows.base + HEADER + (this.#firstSlot[k] + s) * SLOT;
        const start = slots[at + START];
        if (start !== start) continue;
        this.#pend(windows, at, k, start + sizesMs[k]);
        // Ended before the save: publish again, so a fresh hub mirror has it.
        if (slots[at + STATE] !== OPEN) {
          slots[at + STATE] = PUBLISHED;
          this.#revise(windows, at, k);
        }
      }
    }
  }

  /**
   * Windows closed but not yet handed over by `take`, as rows of
   * `[sensor, metric, size, flags, start, count, sum, min, max, std]`: a
   * checkpoint keeps them, so a restart still publishes (and stores) them.
   */
  savePending(): number[] {
    return this.#out.finalRows();
  }

  /**
   * The windows of one metric and size that this store still holds, oldest
   * first: open ones (readings within the grace can still change them) and
   * those the watermark passed but `take` has not handed over yet (final).
   */
  heldWindows(windows: WindowRegion, size: number): HeldWindow[] {
    const held = this.#out.finalOf(windows.sensor, windows.metric, size);
    const slots = this.#arena;
    for (let s = 0; s < this.#slots[size]; s++) {
      const at = windows.base + HEADER + (this.#firstSlot[size] + s) * SLOT;
      const start = slots[at + START];
      if (start !== start || !(slots[at + COUNT] > 0)) continue;
      held.push({
        startMs: start,
        count: slots[at + COUNT],
        sum: slots[at + SUM],
        min: slots[at + MIN],
        max: slots[at + MAX],
        // Passed by the watermark: closed at the next `take`, and no reading can change it.
        final: start + this.spec.sizesMs[size] <= this.watermarkMs,
      });
    }
    return held.sort((a, b) => a.startMs - b.startMs);
  }

  /**
   * The newest ended window of each size of these regions that the store
   * still holds (ended, not yet closed), as provisional windows: what a
   * fresh mirror can learn of windows from the shard. Those handed over and
   * closed before are no longer here.
   */
  endedWindows(regions: Iterable<WindowRegion>): WindowStates {
    const out = new OutColumns();
    const slots = this.#arena;
    for (const windows of regions) {
      for (let k = 0; k < this.spec.sizesMs.length; k++) {
        let newest = -1;
        for (let s = 0; s < this.#slots[k]; s++) {
          const at = windows.base + HEADER + (this.#firstSlot[k] + s) * SLOT;
          const start = slots[at + START];
          if (start !== start || slots[at + STATE] === OPEN) continue;
          if (newest < 0 || start > slots[newest + START]) newest = at;
        }
        if (newest >= 0) out.push(windows, slots, newest, k, 0);
      }
    }
    return out.take();
  }

  /** Re-queues windows saved by `savePending`. */
  restorePending(data: readonly number[]): void {
    for (let at = 0; at + PENDING_ROW <= data.length; at += PENDING_ROW) {
      this.#out.pushRow(data, at);
    }
  }

  #revise(windows: WindowRegion, at: number, size: number): void {
    this.#arena[at + STATE] = REVISED;
    this.#revisedWindows.push(windows);
    this.#revisedAt.push(at);
    this.#revisedStart.push(this.#arena[at + START]);
    this.#revisedSize.push(size);
  }

  #pend(windows: WindowRegion, at: number, size: number, end: number): void {
    let bucket = this.#byEnd.get(end);
    if (bucket === undefined) {
      bucket = new EndBucket();
      this.#byEnd.set(end, bucket);
      const ends = this.#ends;
      let i = ends.length;
      while (i > 0 && ends[i - 1] > end) i--;
      ends.splice(i, 0, end);
    }
    bucket.windows.push(windows);
    bucket.at.push(at);
    bucket.size.push(size);
  }

  #close(windows: WindowRegion, at: number, size: number): void {
    const slots = this.#arena;
    // A revision not yet handed over goes out with the final values instead.
    const changed = slots[at + STATE] !== PUBLISHED;
    this.#out.push(windows, slots, at, size, WINDOW_FINAL | (changed ? WINDOW_CHANGED : 0));
    slots[at + START] = NaN;
  }
}

/** Numbers per saved pending row. */
const PENDING_ROW = 10;

/** Growable output columns; `take` hands them over and starts empty. */
class OutColumns {
  #states = allocateWindowStates(1024);
  #length = 0;

  push(windows: WindowRegion, slots: Float64Array, at: number, size: number, flags: number): void {
    if (this.#length === this.#states.length) this.#grow();
    const s = this.#states;
    const n = this.#length++;
    s.sensor[n] = windows.sensor;
    s.metric[n] = windows.metric;
    s.size[n] = size;
    s.flags[n] = flags;
    s.startMs[n] = slots[at + START];
    s.count[n] = slots[at + COUNT];
    s.sum[n] = slots[at + SUM];
    s.min[n] = slots[at + MIN];
    s.max[n] = slots[at + MAX];
    s.std[n] = Math.sqrt(Math.max(0, slots[at + M2] / slots[at + COUNT]));
  }

  pushRow(data: readonly number[], at: number): void {
    if (this.#length === this.#states.length) this.#grow();
    const s = this.#states;
    const n = this.#length++;
    s.sensor[n] = data[at];
    s.metric[n] = data[at + 1];
    s.size[n] = data[at + 2];
    s.flags[n] = data[at + 3];
    s.startMs[n] = data[at + 4];
    s.count[n] = data[at + 5];
    s.sum[n] = data[at + 6];
    s.min[n] = data[at + 7];
    s.max[n] = data[at + 8];
    s.std[n] = data[at + 9];
  }

  /** The final windows held of one sensor metric and size. */
  finalOf(sensor: number, metric: number, size: number): HeldWindow[] {
    const s = this.#states;
    const out: HeldWindow[] = [];
    for (let n = 0; n < this.#length; n++) {
      if (
        (s.flags[n] & WINDOW_FINAL) === 0 || s.sensor[n] !== sensor || s.metric[n] !== metric ||
        s.size[n] !== size
      ) continue;
      out.push({
        startMs: s.startMs[n],
        count: s.count[n],
        sum: s.sum[n],
        min: s.min[n],
        max: s.max[n],
        final: true,
      });
    }
    return out;
  }

  /** The final windows held, as saved rows. */
  finalRows(): number[] {
    const s = this.#states;
    const rows: number[] = [];
    for (let n = 0; n < this.#length; n++) {
      if ((s.flags[n] & WINDOW_FINAL) === 0) continue;
      rows.push(
        s.sensor[n],
        s.metric[n],
        s.size[n],
        s.flags[n],
        s.startMs[n],
        s.count[n],
        s.sum[n],
        s.min[n],
        s.max[n],
        s.std[n],
      );
    }
    return rows;
  }

  /** A copy of what was pushed since the last call. */
  take(): WindowStates {
    const n = this.#length;
    this.#length = 0;
    const s = this.#states;
    const out = allocateWindowStates(n);
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
