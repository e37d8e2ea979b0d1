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
