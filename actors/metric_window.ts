/**
 * Rolling state of one sensor's metric: the last value (by event time), a
 * count-window moving average over the most recent `window` readings (in log
 * order), and running count / sum / min / max. Pure: no clocks, no I/O.
 */
export class MetricWindow {
  readonly #ring: Float64Array;
  #next = 0;
  #filled = 0;
  #windowSum = 0;
  #sinceResum = 0;

  last = NaN;
  timeMs = -Infinity;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** Set when changed since the last flush. */
  dirty = false;

  constructor(window: number) {
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(`Cannot keep a moving average over ${window} readings`);
    }
    this.#ring = new Float64Array(window);
  }

  /** Numbers `save` writes for a window of this size. */
  static recordLength(window: number): number {
    return 10 + window;
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

  /** Reads a state written by `save` for the same window size; returns the offset after it. */
  restore(data: Float64Array, at: number): number {
    this.count = data[at];
    this.sum = data[at + 1];
    this.min = data[at + 2];
    this.max = data[at + 3];
    this.last = data[at + 4];
    this.timeMs = data[at + 5];
    this.#filled = data[at + 6];
    this.#next = data[at + 7];
    this.#sinceResum = data[at + 8];
    this.#windowSum = data[at + 9];
    this.#ring.set(data.subarray(at + 10, at + 10 + this.#ring.length));
    return at + 10 + this.#ring.length;
  }

  /** Moving average over the last `window` readings. */
  get average(): number {
    return this.#filled === 0 ? NaN : this.#windowSum / this.#filled;
  }

  add(value: number, timeMs: number): void {
    const ring = this.#ring;
    if (this.#filled === ring.length) this.#windowSum -= ring[this.#next];
    else this.#filled++;
    ring[this.#next] = value;
    this.#windowSum += value;
    this.#next = (this.#next + 1) % ring.length;
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
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.dirty = true;
  }
}
