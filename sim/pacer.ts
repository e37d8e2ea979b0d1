/**
 * Decides how many readings are due, from elapsed time rather than timer
 * ticks, so timer drift and slow requests do not change the achieved rate.
 * Reading number n (from 0) is due at start + n / rate. Pure: time is passed in.
 */
export class Pacer {
  readonly #rate: number;
  readonly #startMs: number;
  #issued = 0;

  constructor(ratePerSecond: number, startMs: number) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new RangeError("The rate must be a positive number");
    }
    this.#rate = ratePerSecond;
    this.#startMs = startMs;
  }

  /** Readings taken or skipped so far. */
  get issued(): number {
    return this.#issued;
  }

  /** Readings due at `nowMs` that have not been taken yet. */
  due(nowMs: number): number {
    return Math.max(0, this.#dueBy(nowMs) - this.#issued);
  }

  /** Takes up to `max` of the readings due at `nowMs`; returns how many. */
  take(nowMs: number, max: number): number {
    const n = Math.min(this.due(nowMs), max);
    this.#issued += n;
    return n;
  }

  /**
   * Whether a batch should go now: `batch` readings are due, or the oldest
   * due one has waited `lingerMs`.
   */
  ready(nowMs: number, batch: number, lingerMs: number): boolean {
    const due = this.due(nowMs);
    return due >= batch || (due > 0 && nowMs - this.#dueAtMs(this.#issued) >= lingerMs);
  }

  /** Milliseconds until `ready` can turn true. */
  readyInMs(nowMs: number, batch: number, lingerMs: number): number {
    const full = this.#dueAtMs(this.#issued + batch - 1);
    const lingered = this.#dueAtMs(this.#issued) + lingerMs;
    return Math.max(0, Math.min(full, lingered) - nowMs);
  }

  /**
   * Gives up readings that have been due for more than `maxBacklogMs` (the
   * server or this process fell behind), so a stall is not followed by a
   * burst. Returns how many were skipped.
   */
  skipStale(nowMs: number, maxBacklogMs: number): number {
    const keepFrom = this.#dueBy(nowMs - maxBacklogMs);
    const skipped = Math.max(0, keepFrom - this.#issued);
    this.#issued += skipped;
    return skipped;
  }

  /** Milliseconds until `count` more readings are due (0 if they already are). */
  waitMs(nowMs: number, count = 1): number {
    return Math.max(0, this.#dueAtMs(this.#issued + count - 1) - nowMs);
  }

  /** How many readings are due by `nowMs` in total (n is due when n + 1 <= elapsed · rate). */
  #dueBy(nowMs: number): number {
    return Math.max(0, Math.floor(((nowMs - this.#startMs) / 1000) * this.#rate));
  }

  /** When reading number `n` (from 0) is due. */
  #dueAtMs(n: number): number {
    return this.#startMs + ((n + 1) / this.#rate) * 1000;
  }
}
