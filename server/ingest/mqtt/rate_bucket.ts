/**
 * A token bucket (`capacity` tokens, refilled at `perSecond`) that can also
 * be drawn into debt: `reserve` always takes a token and says how long the
 * caller must wait for it, so waiting callers are served in order and at
 * the rate. Pure: time is passed in.
 */
export class RateBucket {
  readonly #capacity: number;
  readonly #perMs: number;
  #tokens: number;
  #at: number;

  constructor(options: { capacity: number; perSecond: number }, now: number) {
    this.#capacity = options.capacity;
    this.#perMs = options.perSecond / 1000;
    this.#tokens = options.capacity;
    this.#at = now;
  }

  /** Takes a token if one is there now; false when over the rate. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1 - 1e-9) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Takes a token, borrowing if need be; returns the ms until it is really there (0: now). */
  reserve(now: number): number {
    this.#refill(now);
    this.#tokens -= 1;
    // Rounding drift must not add a millisecond to an exact wait.
    return this.#tokens >= -1e-9 ? 0 : Math.ceil(-this.#tokens / this.#perMs - 1e-6);
  }

  /** Whether the bucket is full again at `now` (so forgetting it changes nothing). */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#capacity - 1e-9;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
  }
}
