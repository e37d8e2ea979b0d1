/**
 * A token bucket: `capacity` tokens, refilled at `perSecond`. Each message
 * takes one; none left means over the limit. Pure: time is passed in.
 */
export class TokenBucket {
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

  /** Takes one token if there is one; false when over the limit. */
  take(now: number): boolean {
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens < 1 - 1e-9) return false; // tolerate float drift from many small refills
    this.#tokens -= 1;
    return true;
  }
}
