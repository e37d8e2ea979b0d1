/**
 * A token bucket: `capacity` tokens, refilled at `perSecond`. Each message
 * takes one (or a cost of several); none left means over the limit. Pure:
 * time is passed in.
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

  get capacity(): number {
    return this.#capacity;
  }

  /** Takes `cost` tokens (default one) if there are that many; false when over the limit. */
  take(now: number, cost = 1): boolean {
    if (!this.has(now, cost)) return false;
    this.#tokens -= cost;
    return true;
  }

  /** Whether `cost` tokens are there now (refilled up to `now`), taking none. */
  has(now: number, cost = 1): boolean {
    this.#refill(now);
    return this.#tokens >= cost - 1e-9; // tolerate float drift from many small refills
  }

  /** How long until `cost` tokens are there, if none are taken meanwhile (0: now). */
  msUntil(now: number, cost: number): number {
    this.#refill(now);
    const short = Math.min(cost, this.#capacity) - this.#tokens;
    return short <= 1e-9 ? 0 : Math.ceil(short / this.#perMs);
  }

  #refill(now: number): void {
    // A clock that steps back refills nothing (and takes nothing back).
    if (now > this.#at) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
  }
}
