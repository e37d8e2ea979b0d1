// Threshold levels per (sensor, metric) cell, judged on every reading in
// event time. Column-friendly: the state is typed arrays indexed by a dense
// cell number the owner gives (a shard's tracked metric, or sensor slot ×
// metric stride in a columnar shard); observing a reading allocates nothing.
import type { Thresholds } from "../../protocol/metric_meta.ts";

export const LEVEL_OK = 0;
export const LEVEL_WARN = 1;
export const LEVEL_CRITICAL = 2;

/** The level a single value is at (ignoring the hold): 0 ok, 1 warn, 2 critical. */
export function valueLevel(t: Thresholds, value: number): number {
  ONE[0] = value;
  return levelAt(t, ONE, 0);
}

const ONE = new Float64Array(1);

/** `valueLevel` of `values[v]`, read here: a double passed to a call V8 does not inline is boxed. */
function levelAt(t: Thresholds, values: Float64Array, v: number): number {
  const value = values[v];
  const c = t.critical;
  if (
    c && ((c.above !== undefined && value > c.above) || (c.below !== undefined && value < c.below))
  ) {
    return LEVEL_CRITICAL;
  }
  const w = t.warn;
  if (
    w && ((w.above !== undefined && value > w.above) || (w.below !== undefined && value < w.below))
  ) {
    return LEVEL_WARN;
  }
  return LEVEL_OK;
}

/**
 * A level is raised once every reading for `holdMs` of event time has been
 * at or past it (from the first reading of the run to the current one), so
 * a single spike does not flap; it drops at the first reading back under.
 * A reading older (by event time) than the cell's newest is not judged: the
 * level describes the newest value, as the status does.
 */
export class ThresholdLevels {
  #newestMs = new Float64Array(0);
  /** Event time of the first reading of the current run at or past warn (critical); NaN: none. */
  #warnSince = new Float64Array(0);
  #criticalSince = new Float64Array(0);
  #level = new Uint8Array(0);

  get capacity(): number {
    return this.#level.length;
  }

  /** Makes room for cells `0..cells-1`; new cells start empty (ok, no reading). */
  ensure(cells: number): void {
    if (cells <= this.#level.length) return;
    // A quarter more, not double (the hub's columns' rule): cells arrive one at a time, and
    // doubling left 32,768 per shard for ~19,000 at 100,000 sensors (25 bytes each, 16 shards).
    const size = Math.max(cells, Math.ceil(this.#level.length * 1.25), 64);
    const grow = (old: Float64Array) => {
      const next = new Float64Array(size).fill(NaN);
      next.set(old);
      return next;
    };
    this.#newestMs = grow(this.#newestMs);
    this.#warnSince = grow(this.#warnSince);
    this.#criticalSince = grow(this.#criticalSince);
    const level = new Uint8Array(size);
    level.set(this.#level);
    this.#level = level;
  }

  /** Forgets a cell (its sensor was removed, or the cell is reused). */
  clear(cell: number): void {
    // Past the arrays: never judged, so empty already.
    if (cell >= this.#level.length) return;
    this.#newestMs[cell] = NaN;
    this.#warnSince[cell] = NaN;
    this.#criticalSince[cell] = NaN;
    this.#level[cell] = LEVEL_OK;
  }

  level(cell: number): number {
    return cell < this.#level.length ? this.#level[cell] : LEVEL_OK;
  }

  /**
   * Whether the cell holds anything a checkpoint must keep (it was judged
   * since it was last cleared). Cells of metrics without thresholds never
   * are: the arrays grow only as far as judged cells (most shards judge none).
   */
  held(cell: number): boolean {
    return cell < this.#level.length &&
      !(this.#newestMs[cell] !== this.#newestMs[cell] && this.#level[cell] === LEVEL_OK &&
        this.#warnSince[cell] !== this.#warnSince[cell] &&
        this.#criticalSince[cell] !== this.#criticalSince[cell]);
  }

  /** Judges one reading; true when the cell's level changed. */
  observe(cell: number, t: Thresholds, value: number, timeMs: number): boolean {
    const arg = ThresholdLevels.#arg;
    arg[0] = value;
    arg[1] = timeMs;
    return this.observeFrom(cell, t, arg, 0, arg, 1);
  }

  static readonly #arg = new Float64Array(2);

  /**
   * `observe` of `values[v]` at `times[row]`, read from the columns here
   * (the shards' hot path): a double passed to a function V8 does not
   * inline is boxed, ~30 bytes of garbage per value.
   */
  observeFrom(
    cell: number,
    t: Thresholds,
    values: Float64Array,
    v: number,
    times: Float64Array,
    row: number,
  ): boolean {
    if (cell >= this.#level.length) this.ensure(cell + 1);
    const timeMs = times[row];
    const newest = this.#newestMs[cell];
    if (timeMs < newest) return false; // NaN (no reading yet) compares false: judged
    this.#newestMs[cell] = timeMs;
    const raw = levelAt(t, values, v);
    if (raw >= LEVEL_WARN) {
      if (!(this.#warnSince[cell] <= timeMs)) this.#warnSince[cell] = timeMs;
    } else this.#warnSince[cell] = NaN;
    if (raw >= LEVEL_CRITICAL) {
      if (!(this.#criticalSince[cell] <= timeMs)) this.#criticalSince[cell] = timeMs;
    } else this.#criticalSince[cell] = NaN;
    const level = timeMs - this.#criticalSince[cell] >= t.holdMs
      ? LEVEL_CRITICAL
      : timeMs - this.#warnSince[cell] >= t.holdMs
      ? LEVEL_WARN
      : LEVEL_OK;
    if (level === this.#level[cell]) return false;
    this.#level[cell] = level;
    return true;
  }

  /** Numbers per saved cell. */
  static readonly RECORD = 4;

  /** Writes the cell's state (`held`) at `out[at..at+RECORD)`; returns the next offset. */
  save(cell: number, out: Float64Array, at: number): number {
    out[at] = this.#newestMs[cell];
    out[at + 1] = this.#warnSince[cell];
    out[at + 2] = this.#criticalSince[cell];
    out[at + 3] = this.#level[cell];
    return at + ThresholdLevels.RECORD;
  }

  /** Reads a cell's state saved by `save`; returns the next offset. */
  restore(cell: number, from: ArrayLike<number>, at: number): number {
    this.ensure(cell + 1);
    this.#newestMs[cell] = from[at];
    this.#warnSince[cell] = from[at + 1];
    this.#criticalSince[cell] = from[at + 2];
    const level = from[at + 3];
    if (level !== LEVEL_OK && level !== LEVEL_WARN && level !== LEVEL_CRITICAL) {
      throw new RangeError(`Cannot restore threshold level ${level}`);
    }
    this.#level[cell] = level;
    return at + ThresholdLevels.RECORD;
  }
}

/**
 * The level a reported device status asks for: "critical" (and alarm, error,
 * fault, fail) is critical, "warn"/"warning" warn; anything else (ok, unknown
 * words) raises nothing.
 */
export function statusLevel(status: string): number {
  switch (status.toLowerCase()) {
    case "critical":
    case "crit":
    case "alarm":
    case "error":
    case "fault":
    case "fail":
    case "failed":
      return LEVEL_CRITICAL;
    case "warn":
    case "warning":
      return LEVEL_WARN;
    default:
      return LEVEL_OK;
  }
}
