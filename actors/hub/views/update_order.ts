/** Bits of a sensor index one radix pass takes (2,048 counters: they stay in the L1 cache). */
const DIGIT_BITS = 11;
const DIGITS = 1 << DIGIT_BITS;
/** Sensors per update under which one counter per sensor beats two radix passes. */
const DENSE = 2;

/**
 * A tick's updates in sensor order: the indexes of `u.sensor`, stably sorted
 * by sensor (updates of one sensor keep their order, so the last of a
 * (sensor, metric) still wins). The views' per-sensor columns (sort keys,
 * sparkline arenas, the frames' marks: ~100,000 entries each, megabytes in
 * all) are then written in ascending address order, page by page, instead
 * of at random: with ~10,000 updates a tick, cache and TLB misses were most
 * of the time those loops took, and the most slowed by other processes on
 * the same cores. An LSD radix sort, two passes for up to 4 million sensors;
 * the arrays are kept from tick to tick.
 */
export class UpdateOrder {
  #order = new Uint32Array(0);
  #spare = new Uint32Array(0);
  readonly #counts = new Uint32Array(DIGITS);
  /** One counter per sensor, for dense ticks (`#byCount`); grown as needed, kept. */
  #starts = new Uint32Array(0);

  /** The indexes `0..sensor.length` by sensor, stable; valid until the next call. */
  of(sensor: ArrayLike<number>, length = sensor.length): Uint32Array {
    if (this.#order.length < length) {
      const n = Math.max(length, 2 * this.#order.length, 1024);
      this.#order = new Uint32Array(n);
      this.#spare = new Uint32Array(n);
    }
    let top = 0, sorted = true;
    for (let i = 0; i < length; i++) {
      const s = sensor[i];
      if (s >= top) top = s;
      else sorted = false;
    }
    // As many updates as sensors or more (a restart's first tick: ~300,000 of
    // 100,000 sensors, each shard's in order, one shard after another): one
    // counting pass by the whole sensor index, not one per 11 bits.
    if (!sorted && top < DENSE * length) return this.#byCount(sensor, length, top);
    let from = this.#order, to = this.#spare;
    for (let i = 0; i < length; i++) from[i] = i;
    if (sorted) return from.subarray(0, length);
    const counts = this.#counts;
    // One pass per 11 bits of the highest sensor (at least one).
    for (let shift = 0; shift === 0 || (shift < 32 && top >>> shift > 0); shift += DIGIT_BITS) {
      counts.fill(0);
      for (let i = 0; i < length; i++) counts[(sensor[from[i]] >>> shift) & (DIGITS - 1)]++;
      let sum = 0;
      for (let d = 0; d < DIGITS; d++) {
        const c = counts[d];
        counts[d] = sum;
        sum += c;
      }
      for (let i = 0; i < length; i++) {
        const item = from[i];
        to[counts[(sensor[item] >>> shift) & (DIGITS - 1)]++] = item;
      }
      const swap = from;
      from = to;
      to = swap;
    }
    this.#order = from;
    this.#spare = to;
    return from.subarray(0, length);
  }

  /** A stable counting sort with one counter per sensor `0..top`. */
  #byCount(sensor: ArrayLike<number>, length: number, top: number): Uint32Array {
    if (this.#starts.length < top + 2) this.#starts = new Uint32Array(top + 2);
    const starts = this.#starts;
    starts.fill(0, 0, top + 2);
    for (let i = 0; i < length; i++) starts[sensor[i] + 1]++;
    for (let s = 1; s <= top; s++) starts[s] += starts[s - 1];
    const to = this.#spare;
    for (let i = 0; i < length; i++) to[starts[sensor[i]]++] = i;
    this.#spare = this.#order;
    this.#order = to;
    return to.subarray(0, length);
  }
}
