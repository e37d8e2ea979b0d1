// When the table may re-sort. Values change ten times a second; rows that
// jump on every tick cannot be read or clicked. So the order is a snapshot:
// taken again at once when the operator changes the sort or filter (or the
// set of sensors changes), otherwise at most once per interval, and never
// while the order is held (the pointer is over the rows). Pure.

export interface ResortClockOptions {
  /** Least time between re-sorts caused by changing values; default 1000 ms. */
  intervalMs?: number;
}

export class ResortClock {
  readonly intervalMs: number;
  #sortedAt = -Infinity;
  #dirty = true;

  constructor(options: ResortClockOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1000;
  }

  /** The operator changed the sort or filter, or sensors came or went: re-sort now. */
  invalidate(): void {
    this.#dirty = true;
  }

  /** Whether to re-sort at `nowMs`. A hold defers value-driven re-sorts, not operator ones. */
  due(nowMs: number, held: boolean): boolean {
    if (this.#dirty) return true;
    return !held && nowMs - this.#sortedAt >= this.intervalMs;
  }

  sorted(nowMs: number): void {
    this.#sortedAt = nowMs;
    this.#dirty = false;
  }
}
