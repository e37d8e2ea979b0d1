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
  /**
   * Per cell, side by side (one cache line for a reading, not four arrays'
   * worth): the newest event time judged, the event time of the first
   * reading of the current run at or past warn (critical; NaN: none), and
   * the level.
   */
  #cells = new Float64Array(0);

  get capacity(): number {
    return this.#cells.length / CELL;
  }

  /** Makes room for cells `0..cells-1`; new cells start empty (ok, no reading). */
  ensure(cells: number): void {
    const capacity = this.capacity;
    if (cells <= capacity) return;
    // A quarter more, not double (the hub's columns' rule): cells arrive one at a time, and
    // doubling left 32,768 per shard for ~19,000 at 100,000 sensors (32 bytes each, 16 shards).
    const size = Math.max(cells, Math.ceil(capacity * 1.25), 64);
    const next = new Float64Array(size * CELL);
    next.set(this.#cells);
    for (let c = capacity; c < size; c++) {
      next[c * CELL + NEWEST] = NaN;
      next[c * CELL + WARN_SINCE] = NaN;
      next[c * CELL + CRITICAL_SINCE] = NaN;
    }
    this.#cells = next;
  }

  /** Forgets a cell (its sensor was removed, or the cell is reused). */
  clear(cell: number): void {
    // Past the arrays: never judged, so empty already.
    if (cell >= this.capacity) return;
    const c = this.#cells, at = cell * CELL;
    c[at + NEWEST] = NaN;
    c[at + WARN_SINCE] = NaN;
    c[at + CRITICAL_SINCE] = NaN;
    c[at + LEVEL] = LEVEL_OK;
  }

  level(cell: number): number {
    return cell < this.capacity ? this.#cells[cell * CELL + LEVEL] : LEVEL_OK;
  }

  /**
   * Whether the cell holds anything a checkpoint must keep (it was judged
   * since it was last cleared). Cells of metrics without thresholds never
   * are: the arrays grow only as far as judged cells (most shards judge none).
   */
  held(cell: number): boolean {
    if (cell >= this.capacity) return false;
    const c = this.#cells, at = cell * CELL;
    return !(c[at + NEWEST] !== c[at + NEWEST] && c[at + LEVEL] === LEVEL_OK &&
      c[at + WARN_SINCE] !== c[at + WARN_SINCE] &&
      c[at + CRITICAL_SINCE] !== c[at + CRITICAL_SINCE]);
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
    if (cell >= this.capacity) this.ensure(cell + 1);
    const c = this.#cells, at = cell * CELL;
    const timeMs = times[row];
    const newest = c[at + NEWEST];
    if (timeMs < newest) return false; // NaN (no reading yet) compares false: judged
    c[at + NEWEST] = timeMs;
    const raw = levelAt(t, values, v);
    if (raw >= LEVEL_WARN) {
      if (!(c[at + WARN_SINCE] <= timeMs)) c[at + WARN_SINCE] = timeMs;
    } else c[at + WARN_SINCE] = NaN;
    if (raw >= LEVEL_CRITICAL) {
      if (!(c[at + CRITICAL_SINCE] <= timeMs)) c[at + CRITICAL_SINCE] = timeMs;
    } else c[at + CRITICAL_SINCE] = NaN;
    const level = timeMs - c[at + CRITICAL_SINCE] >= t.holdMs
      ? LEVEL_CRITICAL
      : timeMs - c[at + WARN_SINCE] >= t.holdMs
      ? LEVEL_WARN
      : LEVEL_OK;
    if (level === c[at + LEVEL]) return false;
    c[at + LEVEL] = level;
    return true;
  }

  /** Numbers per saved cell. */
  static readonly RECORD = 4;

  /** Writes the cell's state (`held`) at `out[at..at+RECORD)`; returns the next offset. */
  save(cell: number, out: Float64Array, at: number): number {
    const c = this.#cells, from = cell * CELL;
    out[at] = c[from + NEWEST];
    out[at + 1] = c[from + WARN_SINCE];
    out[at + 2] = c[from + CRITICAL_SINCE];
    out[at + 3] = c[from + LEVEL];
    return at + ThresholdLevels.RECORD;
  }

  /** Reads a cell's state saved by `save`; returns the next offset. */
  restore(cell: number, from: ArrayLike<number>, at: number): number {
    this.ensure(cell + 1);
    const level = from[at + 3];
    if (level !== LEVEL_OK && level !== LEVEL_WARN && level !== LEVEL_CRITICAL) {
      throw new RangeError(`Cannot restore threshold level ${level}`);
    }
    const c = this.#cells, to = cell * CELL;
    c[to + NEWEST] = from[at];
    c[to + WARN_SINCE] = from[at + 1];
    c[to + CRITICAL_SINCE] = from[at + 2];
    c[to + LEVEL] = level;
    return at + ThresholdLevels.RECORD;
  }
}

/** Numbers per cell, and where each is. */
const CELL = 4;
const NEWEST = 0, WARN_SINCE = 1, CRITICAL_SINCE = 2, LEVEL = 3;

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
