/**
 * Rolling state of one sensor's metric. The moving average, min and max all
 * describe the same readings: the most recent `window` of them in arrival
 * (log) order, late ones included, since they are real measurements. `last`
 * is the value with the newest event time; on a tie the later arrival wins.
 * `count` and `sum` run since start; they are kept for checkpoints and not
 * published. Pure: no clocks, no I/O, and no allocation per reading.
 */
export class MovingWindow {
  readonly #ring: Float64Array;
  #next = 0;
  #filled = 0;
  #windowSum = 0;
  #sinceResum = 0;
  // Monotonic deques of ring positions, oldest first: the values at the
  // positions in `#maxAt` fall strictly from front to back, those in `#minAt`
  // rise, so each front is the window's max or min. Every reading enters and
  // leaves each deque once: O(1) amortized, exact for any window size. Each
  // is a circular buffer of window + 1 slots, empty when head === tail.
  readonly #maxAt: Uint32Array;
  readonly #minAt: Uint32Array;
  #maxHead = 0;
  #maxTail = 0;
  #minHead = 0;
  #minTail = 0;

  last = NaN;
  timeMs = -Infinity;
  count = 0;
  sum = 0;
  /** Set when changed since the last flush. */
  dirty = false;

  constructor(window: number) {
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(`Cannot keep a moving average over ${window} readings`);
    }
    this.#ring = new Float64Array(window);
    this.#maxAt = new Uint32Array(window + 1);
    this.#minAt = new Uint32Array(window + 1);
  }

  /** Numbers `save` writes for a window of this size. */
  static recordLength(window: number): number {
    return 10 + window;
  }

  /** Smallest of the last `window` readings (Infinity before the first). */
  get min(): number {
    return this.#minHead === this.#minTail ? Infinity : this.#ring[this.#minAt[this.#minHead]];
  }

  /** Largest of the last `window` readings (-Infinity before the first). */
  get max(): number {
    return this.#maxHead === this.#maxTail ? -Infinity : this.#ring[this.#maxAt[this.#maxHead]];
  }

  /** Moving average over the last `window` readings. */
  get average(): number {
    return this.#filled === 0 ? NaN : this.#windowSum / this.#filled;
  }

  /** Writes the whole state into `out` at `at`; returns the offset after it. */
  save(out: Float64Array, at: number): number {
    out[at] = this.count;
    out[at + 1] = this.sum;
    out[at + 2] = this.min;
    out[at + 3] = this.max;
    out[at + 4] = this.last;
    out[at + 5] = this.timeMs;
    out[at + 6] = this.#filled;
    out[at + 7] = this.#next;
    out[at + 8] = this.#sinceResum;
    out[at + 9] = this.#windowSum;
    out.set(this.#ring, at + 10);
    return at + 10 + this.#ring.length;
  }

  /**
   * Reads a state written by `save` for the same window size; returns the
   * offset after it. Min and max are recomputed from the ring: checkpoints
   * from before they covered the window hold them since start.
   */
  restore(data: Float64Array, at: number): number {
    this.count = data[at];
    this.sum = data[at + 1];
    this.last = data[at + 4];
    this.timeMs = data[at + 5];
    this.#filled = data[at + 6];
    this.#next = data[at + 7];
    this.#sinceResum = data[at + 8];
    this.#windowSum = data[at + 9];
    this.#ring.set(data.subarray(at + 10, at + 10 + this.#ring.length));
    this.#maxHead = this.#maxTail = 0;
    this.#minHead = this.#minTail = 0;
    const size = this.#ring.length;
    const oldest = this.#filled < size ? 0 : this.#next;
    for (let i = 0; i < this.#filled; i++) this.#enter((oldest + i) % size);
    return at + 10 + size;
  }

  add(value: number, timeMs: number): void {
    const ring = this.#ring;
    const at = this.#next;
    if (this.#filled === ring.length) {
      this.#windowSum -= ring[at];
      // The reading at `at` leaves the window; if it heads a deque, it leaves
      // that too (the deques are not empty: they hold the newest reading).
      if (this.#maxAt[this.#maxHead] === at) {
        this.#maxHead = this.#maxHead === ring.length ? 0 : this.#maxHead + 1;
      }
      if (this.#minAt[this.#minHead] === at) {
        this.#minHead = this.#minHead === ring.length ? 0 : this.#minHead + 1;
      }
    } else this.#filled++;
    ring[at] = value;
    this.#enter(at);
    this.#windowSum += value;
    this.#next = at + 1 === ring.length ? 0 : at + 1;
    // Re-add from scratch once per window so rounding errors cannot pile up.
    if (++this.#sinceResum >= ring.length) {
      let sum = 0;
      for (let i = 0; i < this.#filled; i++) sum += ring[i];
      this.#windowSum = sum;
      this.#sinceResum = 0;
    }
    // Late readings still count, but the last value is the newest by event time.
    if (timeMs >= this.timeMs) {
      this.last = value;
      this.timeMs = timeMs;
    }
    this.count++;
    this.sum += value;
    this.dirty = true;
  }

  /** Puts the newest reading (at ring position `at`) at the back of both deques. */
  #enter(at: number): void {
    const ring = this.#ring;
    const last = ring.length; // the deques' last slot (they have window + 1)
    const value = ring[at];
    // Older readings no larger (smaller) can never be the max (min) again.
    const maxAt = this.#maxAt;
    const maxHead = this.#maxHead;
    let tail = this.#maxTail;
    while (tail !== maxHead) {
      const before = tail === 0 ? last : tail - 1;
      if (ring[maxAt[before]] > value) break;
      tail = before;
    }
    maxAt[tail] = at;
    this.#maxTail = tail === last ? 0 : tail + 1;
    const minAt = this.#minAt;
    const minHead = this.#minHead;
    tail = this.#minTail;
    while (tail !== minHead) {
      const before = tail === 0 ? last : tail - 1;
      if (ring[minAt[before]] < value) break;
      tail = before;
    }
    minAt[tail] = at;
    this.#minTail = tail === last ? 0 : tail + 1;
  }
}
