/**
 * Latencies in 1 ms buckets up to a minute: exact percentiles at that
 * resolution, constant memory however many updates arrive.
 */
export class LatencyHistogram {
  readonly #buckets = new Uint32Array(60_001);
  #count = 0;
  #below = 0;

  get count(): number {
    return this.#count;
  }

  /** Samples under 0 ms (clock skew between processes on one machine is ~0, so these should be rare). */
  get negative(): number {
    return this.#below;
  }

  add(ms: number): void {
    this.#count++;
    if (ms < 0) {
      this.#below++;
      ms = 0;
    }
    this.#buckets[Math.min(Math.round(ms), this.#buckets.length - 1)]++;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.#buckets.length; i++) this.#buckets[i] += other.#buckets[i];
    this.#count += other.#count;
    this.#below += other.#below;
  }

  /** The p-th percentile in ms (NaN when empty); the last bucket means "a minute or more". */
  percentile(p: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i];
      if (seen >= rank) return i;
    }
    return this.#buckets.length - 1;
  }

  reset(): void {
    this.#buckets.fill(0);
    this.#count = 0;
    this.#below = 0;
  }
}
