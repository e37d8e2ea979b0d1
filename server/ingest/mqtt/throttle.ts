/**
 * Says yes once per key per `intervalMs`, so a device that repeats a mistake
 * (a refused topic it reconnects to resend, a bad payload on every publish)
 * is logged once a while, not on every try. Keeps at most `maxKeys` keys,
 * forgetting the oldest first.
 */
export class Throttle {
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #last = new Map<string, { at: number; skipped: number }>();

  constructor(options: { intervalMs: number; maxKeys?: number }) {
    this.#intervalMs = options.intervalMs;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /** Null when `key` was let through within the interval; else how many were held back since. */
  pass(key: string, now: number): number | null {
    const last = this.#last.get(key);
    if (last && now - last.at < this.#intervalMs) {
      last.skipped++;
      return null;
    }
    const skipped = last?.skipped ?? 0;
    this.#last.delete(key);
    this.#last.set(key, { at: now, skipped: 0 });
    if (this.#last.size > this.#maxKeys) this.#last.delete(this.#last.keys().next().value!);
    return skipped;
  }
}
