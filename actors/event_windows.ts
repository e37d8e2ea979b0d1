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

import type { WindowStates } from "../protocol/frames.ts";

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

/** Numbers per slot: start, count, sum, min, max, mean, m2, state, pending entry. */
const SLOT = 9;
const START = 0, COUNT = 1, SUM = 2, MIN = 3, MAX = 4, MEAN = 5, M2 = 6, STATE = 7, OUT = 8;
/** Numbers per window slot in saved state: checkpoints with another layout are not restored. */
export const SLOT_LENGTH = SLOT;
/** Slot states. A free slot has start NaN. */
const OPEN = 0, PUBLISHED = 1, REVISED = 2;

/** Flags of a published window. */
export const WINDOW_FINAL = 1;
/** Values changed since the window was last sent to clients. */
export const WINDOW_CHANGED = 2;

/** Checks a spec and returns the slots each size needs. */
export function slotsPerSize(spec: WindowSpec): number[] {
  const { sizesMs, graceMs } = spec;
  if (sizesMs.length === 0 || sizesMs.length > 8) {
    throw new RangeError(`Cannot keep ${sizesMs.length} window sizes: 1 to 8`);
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

/** The windows of one sensor's metric. */
export class MetricWindows {
  readonly sensor: number;
  readonly metric: number;
  /** Every size's slots, size after size. */
  readonly slots: Float64Array;

  constructor(sensor: number, metric: number, totalSlots: number) {
    this.sensor = sensor;
    this.metric = metric;
    this.slots = new Float64Array(totalSlots * SLOT).fill(NaN);
  }
}

interface Pending {
  windows: MetricWindows;
  /** Offset of the slot in `windows.slots`. */
  at: number;
  start: number;
  size: number;
}

/** A shard's window clock and the bookkeeping of its open windows. */
export class WindowClock {
  readonly spec: WindowSpec;
  readonly #slots: number[];
  /** Offset of each size's first slot, in slots. */
  readonly #firstSlot: number[];
  readonly totalSlots: number;
  /** Newest event time seen; -Infinity before the first reading. */
  newestMs = -Infinity;
  /** Open windows by end time; `#ends` keeps those times sorted. */
  readonly #byEnd = new Map<number, Pending[]>();
  #ends: number[] = [];
  /** Published since the last `take`: slot snapshots, as flat entries. */
  #out: OutEntry[] = [];
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
  }

  get watermarkMs(): number {
    return this.newestMs - this.spec.graceMs;
  }

  /** A fresh set of windows for one sensor's metric. */
  windowsFor(sensor: number, metric: number): MetricWindows {
    return new MetricWindows(sensor, metric, this.totalSlots);
  }

  /**
   * Whether a reading at `timeMs` is late: the earliest-ending window holding
   * it is already closed. Call before `add`; late readings must not be added.
   */
  isLate(timeMs: number): boolean {
    const size = this.spec.sizesMs[0];
    return timeMs - (timeMs % size) + size <= this.watermarkMs;
  }

  /** Adds one value at event time `timeMs` (not late) to every size's window. */
  add(windows: MetricWindows, value: number, timeMs: number): void {
    const { sizesMs } = this.spec;
    const slots = windows.slots;
    for (let k = 0; k < sizesMs.length; k++) {
      const size = sizesMs[k];
      const start = timeMs - (timeMs % size);
      const at = (this.#firstSlot[k] + ((start / size) % this.#slots[k])) * SLOT;
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
        this.#pend({ windows, at, start, size: k }, start + size);
      }
      const count = ++slots[at + COUNT];
      slots[at + SUM] += value;
      if (value < slots[at + MIN]) slots[at + MIN] = value;
      if (value > slots[at + MAX]) slots[at + MAX] = value;
      const delta = value - slots[at + MEAN];
      slots[at + MEAN] += delta / count;
      slots[at + M2] += delta * (value - slots[at + MEAN]);
      if (slots[at + STATE] === PUBLISHED) {
        slots[at + STATE] = REVISED;
        slots[at + OUT] = this.#out.length;
        this.#out.push({ windows, at, start, size: k, flags: WINDOW_CHANGED });
      }
    }
    if (timeMs > this.newestMs) this.newestMs = timeMs;
  }

  /**
   * Publishes windows that ended (provisional) and closes those the
   * watermark passed (final), then hands over everything published since the
   * previous call. Revised windows appear once per call with their latest values.
   */
  take(): WindowStates {
    const watermark = this.watermarkMs;
    let closedUpTo = 0;
    for (const end of this.#ends) {
      if (end > this.newestMs) break;
      const pending = this.#byEnd.get(end)!;
      const closing = end <= watermark;
      for (const p of pending) {
        const slots = p.windows.slots;
        if (slots[p.at + START] !== p.start) continue; // closed early on reuse
        if (closing) this.#close(p.windows, p.at, p.size);
        else if (slots[p.at + STATE] === OPEN) {
          slots[p.at + STATE] = PUBLISHED;
          this.#out.push({
            windows: p.windows,
            at: p.at,
            start: p.start,
            size: p.size,
            flags: WINDOW_CHANGED,
          });
        }
      }
      if (closing) {
        this.#byEnd.delete(end);
        closedUpTo++;
      }
    }
    if (closedUpTo > 0) this.#ends = this.#ends.slice(closedUpTo);
    return this.#drain();
  }

  /** Rebuilds the bookkeeping for restored windows (their slots hold the state). */
  adopt(windows: MetricWindows): void {
    const { sizesMs } = this.spec;
    const slots = windows.slots;
    for (let k = 0; k < sizesMs.length; k++) {
      for (let s = 0; s < this.#slots[k]; s++) {
        const at = (this.#firstSlot[k] + s) * SLOT;
        const start = slots[at + START];
        if (start !== start) continue;
        this.#pend({ windows, at, start, size: k }, start + sizesMs[k]);
        // Ended before the save: publish again, so a fresh hub mirror has it.
        if (slots[at + STATE] !== OPEN) {
          slots[at + STATE] = REVISED;
          slots[at + OUT] = this.#out.length;
          this.#out.push({ windows, at, start, size: k, flags: WINDOW_CHANGED });
        }
      }
    }
  }

  /**
   * Windows closed but not yet handed over by `take`, as
   * `[sensor, metric, size, flags, ...slot numbers]` records: a checkpoint
   * keeps them, so a restart still publishes (and stores) them.
   */
  savePending(): number[] {
    const out: number[] = [];
    for (const e of this.#out) {
      if (!e.values) continue;
      out.push(e.windows.sensor, e.windows.metric, e.size, e.flags, ...e.values);
    }
    return out;
  }

  /** Re-queues windows saved by `savePending`; `windowsOf` finds a metric's windows. */
  restorePending(
    data: readonly number[],
    windowsOf: (sensor: number, metric: number) => MetricWindows,
  ): void {
    for (let at = 0; at + 4 + SLOT <= data.length; at += 4 + SLOT) {
      const values = Float64Array.from(data.slice(at + 4, at + 4 + SLOT));
      this.#out.push({
        windows: windowsOf(data[at], data[at + 1]),
        at: 0,
        start: values[START],
        size: data[at + 2],
        flags: data[at + 3],
        values,
      });
    }
  }

  #pend(pending: Pending, end: number): void {
    let list = this.#byEnd.get(end);
    if (list === undefined) {
      list = [];
      this.#byEnd.set(end, list);
      const ends = this.#ends;
      let i = ends.length;
      while (i > 0 && ends[i - 1] > end) i--;
      ends.splice(i, 0, end);
    }
    list.push(pending);
  }

  #close(windows: MetricWindows, at: number, size: number): void {
    const slots = windows.slots;
    const changed = slots[at + STATE] !== PUBLISHED;
    // A revision still waiting to be handed over is superseded by the final values.
    if (slots[at + STATE] === REVISED) this.#out[slots[at + OUT]].flags = -1;
    this.#out.push({
      windows,
      at,
      start: slots[at + START],
      size,
      flags: WINDOW_FINAL | (changed ? WINDOW_CHANGED : 0),
      // The slot is freed now; keep its numbers.
      values: slots.slice(at, at + SLOT),
    });
    slots[at + START] = NaN;
  }

  #drain(): WindowStates {
    const out = this.#out;
    this.#out = [];
    let length = 0;
    for (const e of out) if (e.flags >= 0) length++;
    const states = allocateWindowStates(length);
    let n = 0;
    for (const e of out) {
      if (e.flags < 0) continue;
      const v = e.values ?? e.windows.slots;
      const at = e.values ? 0 : e.at;
      if (!e.values && v[at + STATE] === REVISED) v[at + STATE] = PUBLISHED;
      states.sensor[n] = e.windows.sensor;
      states.metric[n] = e.windows.metric;
      states.size[n] = e.size;
      states.flags[n] = e.flags;
      states.startMs[n] = e.start;
      states.count[n] = v[at + COUNT];
      states.sum[n] = v[at + SUM];
      states.min[n] = v[at + MIN];
      states.max[n] = v[at + MAX];
      states.std[n] = Math.sqrt(Math.max(0, v[at + M2] / v[at + COUNT]));
      n++;
    }
    return states;
  }
}

interface OutEntry {
  windows: MetricWindows;
  at: number;
  start: number;
  size: number;
  flags: number;
  /** A closed window's numbers, copied before its slot was freed. */
  values?: Float64Array;
}

export function allocateWindowStates(length: number): WindowStates {
  return {
    length,
    sensor: new Uint32Array(length),
    metric: new Uint16Array(length),
    size: new Uint8Array(length),
    flags: new Uint8Array(length),
    startMs: new Float64Array(length),
    count: new Float64Array(length),
    sum: new Float64Array(length),
    min: new Float64Array(length),
    max: new Float64Array(length),
    std: new Float64Array(length),
  };
}
