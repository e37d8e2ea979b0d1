/**
 * Decides how many readings are due, from elapsed time rather than timer
 * ticks, so timer drift and slow requests do not lower the achieved rate.
 * Pure: time is passed in.
 */
export class Pacer {
  readonly #rate: number;
  readonly #startMs: number;
  #issued = 0;

  constructor(ratePerSecond: number, startMs: number) {
    if (!(ratePerSecond > 0)) throw new RangeError("The rate must be positive");
    this.#rate = ratePerSecond;
    this.#startMs = startMs;
  }

  /** Readings due at `nowMs` that have not been taken yet. */
  due(nowMs: number): number {
    return Math.max(0, Math.floor(((nowMs - this.#startMs) / 1000) * this.#rate) - this.#issued);
  }

  /** Takes up to `max` of the readings due at `nowMs`; returns how many. */
  take(nowMs: number, max: number): number {
    const n = Math.min(this.due(nowMs), max);
    this.#issued += n;
    return n;
  }

  /** Milliseconds until `count` more readings are due (0 if they already are). */
  waitMs(nowMs: number, count = 1): number {
    const at = this.#startMs + ((this.#issued + count) / this.#rate) * 1000;
    return Math.max(0, at - nowMs);
  }
}
