// Each sensor's attention state, judged at the hub's tick: the level the
// shards found (thresholds and reported status, in event time) unless the
// sensor has gone quiet, measured on the server's clock from the last tick
// that brought it a reading. Pure: the clock comes in as `now`.
import { ATTENTION } from "../../protocol/attention.ts";
import type { MetricStates, SensorEntry } from "../../protocol/columns.ts";
import { grownCapacity } from "./capacity.ts";
import { BLOCK, DueBlocks } from "./due_blocks.ts";

export interface AttentionOptions {
  /** Stale after this many of the sensor's usual intervals without a reading. Default 5. */
  staleIntervals?: number;
  /** Offline after this long without a reading. Default 60 s. */
  offlineAfterMs?: number;
  /** Never stale sooner than this (a sensor whose interval is unknown, or tiny). Default 2 s. */
  staleFloorMs?: number;
}

/** Weight of the newest gap in the interval's moving average. */
const ALPHA = 0.2;

/**
 * Per dense sensor index: its level from the shards, when a reading last
 * arrived (server clock) and its newest event time, an exponentially
 * weighted average of the gaps between its readings' event times, and its
 * attention code. A sensor the hub has just learned of (a start, a restart,
 * a restored checkpoint) counts as arrived now: a restart does not make the
 * fleet offline, and replayed readings keep sensors fresh.
 */
export class AttentionBoard {
  readonly staleIntervals: number;
  readonly offlineAfterMs: number;
  readonly staleFloorMs: number;
  #known = new Uint8Array(0);
  #level = new Uint8Array(0);
  #code = new Uint8Array(0);
  #arrivedAt = new Float64Array(0);
  #seenMs = new Float64Array(0);
  #intervalMs = new Float64Array(0);
  /**
   * Per sensor, the silence up to which its code stands: past it, it is
   * judged again (-Infinity: judge at the next evaluation). Only sensors that
   * arrived, changed level or crossed a threshold are judged each tick, not
   * all 100,000 (a sixth of the hub's tick with one ordering).
   */
  #standsUntil = new Float64Array(0);
  /**
   * Sensors to judge at the next evaluation whatever the clock (they
   * arrived, changed level or came: `standsUntil` -Infinity), flagged so
   * each is listed once; and the blocks that may hold one whose code
   * stopped standing. An evaluation looks at those only.
   */
  #dirty = new Int32Array(1024);
  #dirtyCount = 0;
  #isDirty = new Uint8Array(0);
  readonly #blocks = new DueBlocks();
  /** The clock at the last evaluation: a clock set back judges every sensor. */
  #lastNow = -Infinity;
  /** Sensors per attention code (index: code). */
  readonly counts = new Float64Array(6);

  constructor(options: AttentionOptions = {}) {
    this.staleIntervals = options.staleIntervals ?? 5;
    this.offlineAfterMs = options.offlineAfterMs ?? 60_000;
    this.staleFloorMs = options.staleFloorMs ?? 2_000;
  }

  code(sensor: number): number {
    return sensor < this.#code.length ? this.#code[sensor] : ATTENTION.unknown;
  }

  /** The usual gap between its readings (ms), NaN until two have come. */
  intervalMs(sensor: number): number {
    return sensor < this.#intervalMs.length ? this.#intervalMs[sensor] : NaN;
  }

  /** Sensors that came (or changed group): known from now, as if a reading just arrived. */
  enter(sensors: readonly SensorEntry[], now: number): void {
    // Grown once to the highest (a restart's first tick brings 100,000), in indexed loops.
    let top = 0;
    for (let j = 0; j < sensors.length; j++) {
      if (sensors[j].index >= top) top = sensors[j].index + 1;
    }
    this.#grow(top);
    for (let j = 0; j < sensors.length; j++) {
      const index = sensors[j].index;
      if (this.#known[index] === 1) continue;
      this.#known[index] = 1;
      this.#arrivedAt[index] = now;
      this.#standsUntil[index] = -Infinity;
      this.#markDirty(index);
      this.counts[this.#code[index]]++;
    }
  }

  remove(sensor: number): void {
    if (sensor >= this.#known.length || this.#known[sensor] === 0) return;
    this.counts[this.#code[sensor]]--;
    this.#known[sensor] = 0;
    this.#level[sensor] = 0;
    this.#code[sensor] = ATTENTION.unknown;
    this.#arrivedAt[sensor] = NaN;
    this.#seenMs[sensor] = NaN;
    this.#intervalMs[sensor] = NaN;
  }

  /** A tick's metric updates: each is a reading arriving now, at its event time. */
  arrive(updates: MetricStates, now: number): void {
    for (let i = 0; i < updates.length; i++) {
      const s = updates.sensor[i];
      if (s >= this.#known.length || this.#known[s] === 0) continue;
      this.#arrivedAt[s] = now;
      this.#standsUntil[s] = -Infinity;
      if (this.#isDirty[s] === 0) this.#markDirty(s);
      const t = updates.timeMs[i];
      const seen = this.#seenMs[s];
      if (t <= seen) continue; // not newer (or another metric of the same reading)
      if (seen === seen) {
        const gap = t - seen;
        const interval = this.#intervalMs[s];
        this.#intervalMs[s] = interval === interval ? interval + ALPHA * (gap - interval) : gap;
      }
      this.#seenMs[s] = t;
    }
  }

  /** Room for sensors below `size` without growing again. */
  reserve(size: number): void {
    this.#grow(size);
  }

  /** The shards' level for a sensor (0 ok, 1 warn, 2 critical). */
  setLevel(sensor: number, level: number): void {
    this.#grow(sensor + 1);
    this.#level[sensor] = level;
    this.#standsUntil[sensor] = -Infinity;
    this.#markDirty(sensor);
  }

  #markDirty(sensor: number): void {
    if (this.#isDirty[sensor] === 1) return;
    this.#isDirty[sensor] = 1;
    if (this.#dirtyCount === this.#dirty.length) {
      const grown = new Int32Array(2 * this.#dirty.length);
      grown.set(this.#dirty);
      this.#dirty = grown;
    }
    this.#dirty[this.#dirtyCount++] = sensor;
  }

  /**
   * Judges every known sensor at `now`; appends `[sensor, code]` of those
   * whose code changed, by sensor. Only the sensors whose code may have
   * changed are looked at: those listed dirty, and the blocks that may
   * hold one whose silence passed the time its code stands until
   * (`DueBlocks`); a clock set back judges them all.
   */
  evaluate(now: number, changed: [number, number][]): void {
    const all = now < this.#lastNow;
    this.#lastNow = now;
    const from = changed.length;
    const known = this.#known, until = this.#standsUntil, arrivedAt = this.#arrivedAt;
    const blocks = this.#blocks;
    if (all) blocks.reset();
    const dirty = this.#dirty;
    for (let k = 0; k < this.#dirtyCount; k++) {
      const s = dirty[k];
      this.#isDirty[s] = 0;
      if (known[s] === 1) this.#judge(s, now, changed);
    }
    this.#dirtyCount = 0;
    for (let b = 0; b < blocks.blocks; b++) {
      if (!blocks.due(b, now)) continue;
      let earliest = Infinity;
      const end = Math.min(known.length, (b + 1) * BLOCK);
      for (let s = b * BLOCK; s < end; s++) {
        if (known[s] === 0) continue;
        // A NaN silence is judged every time (its due time is NaN, see #judge).
        if (!(now - arrivedAt[s] <= until[s]) || all) this.#judge(s, now, changed);
        const due = arrivedAt[s] + until[s] - 1;
        if (due !== due) earliest = -Infinity; // judged at every look
        else if (due < earliest) earliest = due;
      }
      blocks.rescanned(b, earliest);
    }
    // In sensor order, as a scan of every sensor gives them.
    if (changed.length - from > 1) {
      const mine = changed.splice(from).sort((a, b) => a[0] - b[0]);
      for (const c of mine) changed.push(c);
    }
  }

  /** Judges one known sensor at `now`; its block's bound comes down to when it is due again. */
  #judge(s: number, now: number, changed: [number, number][]): void {
    const arrivedAt = this.#arrivedAt[s], interval = this.#intervalMs[s];
    const next = judge(now - arrivedAt, this.#level[s], interval, this);
    const until = standsUntil(next, interval, this);
    this.#standsUntil[s] = until;
    // A millisecond early, so rounding never makes it late (the scan checks it exactly).
    this.#blocks.lower(s, arrivedAt + until - 1);
    const code = this.#code[s];
    if (next === code) return;
    this.counts[code]--;
    this.counts[next]++;
    this.#code[s] = next;
    changed.push([s, next]);
  }

  #grow(size: number): void {
    if (size <= this.#known.length) return;
    const n = grownCapacity(this.#known.length, size);
    const bytes = (old: Uint8Array) => {
      const next = new Uint8Array(n);
      next.set(old);
      return next;
    };
    const floats = (old: Float64Array) => {
      const next = new Float64Array(n).fill(NaN);
      next.set(old);
      return next;
    };
    this.#known = bytes(this.#known);
    this.#level = bytes(this.#level);
    this.#code = bytes(this.#code);
    this.#arrivedAt = floats(this.#arrivedAt);
    this.#seenMs = floats(this.#seenMs);
    this.#intervalMs = floats(this.#intervalMs);
    this.#standsUntil = floats(this.#standsUntil);
    this.#isDirty = bytes(this.#isDirty);
    this.#blocks.grow(n);
  }
}

/**
 * One sensor's code from its silence, its level and its usual interval:
 * stale past `staleIntervals` intervals (not before the floor), offline past
 * `offlineAfterMs` (and twice the stale time), else critical, warn or ok by
 * its level.
 */
export function judge(
  silenceMs: number,
  level: number,
  intervalMs: number,
  o: { staleIntervals: number; offlineAfterMs: number; staleFloorMs: number },
): number {
  if (!(silenceMs === silenceMs)) return ATTENTION.unknown;
  const staleAfter = intervalMs === intervalMs
    ? Math.max(o.staleFloorMs, o.staleIntervals * intervalMs)
    : o.staleFloorMs;
  // A sensor that reports rarely is stale a while before it counts as offline.
  if (silenceMs > Math.max(o.offlineAfterMs, 2 * staleAfter)) return ATTENTION.offline;
  if (silenceMs > staleAfter) return ATTENTION.stale;
  return level >= 2 ? ATTENTION.critical : level === 1 ? ATTENTION.warn : ATTENTION.ok;
}

/**
 * The longest silence for which `judge` keeps giving `code` (while level and
 * interval stay): the stale time for a live code, the offline time for
 * stale, forever for offline; NaN for unknown (judged again every time).
 */
export function standsUntil(
  code: number,
  intervalMs: number,
  o: { staleIntervals: number; offlineAfterMs: number; staleFloorMs: number },
): number {
  if (code === ATTENTION.unknown) return NaN;
  if (code === ATTENTION.offline) return Infinity;
  const staleAfter = intervalMs === intervalMs
    ? Math.max(o.staleFloorMs, o.staleIntervals * intervalMs)
    : o.staleFloorMs;
  return code === ATTENTION.stale ? Math.max(o.offlineAfterMs, 2 * staleAfter) : staleAfter;
}
