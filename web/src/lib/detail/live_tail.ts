// The values of one sensor's metric as they arrive from the feed, for the
// chart's live edge: a fixed ring of raw samples (time, value). Memory is
// capacity × 16 bytes. When the ring overwrites a sample newer than the
// history's end, the chart must reload history to stay gap-free
// (`droppedThroughMs` tells). Pure.

export class LiveTail {
  readonly capacity: number;
  readonly #t: Float64Array;
  readonly #v: Float64Array;
  #head = 0;
  #size = 0;
  /** Time of the newest sample the ring has overwritten; -Infinity when none. */
  droppedThroughMs = -Infinity;

  constructor(capacity = 4096) {
    this.capacity = capacity;
    this.#t = new Float64Array(capacity);
    this.#v = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Appends a sample. Out-of-order samples are kept; readers sort by bucket. */
  push(timeMs: number, value: number): void {
    if (!Number.isFinite(timeMs) || !Number.isFinite(value)) return;
    if (this.#size === this.capacity) {
      this.droppedThroughMs = Math.max(this.droppedThroughMs, this.#t[this.#head]);
    } else this.#size++;
    this.#t[this.#head] = timeMs;
    this.#v[this.#head] = value;
    this.#head = (this.#head + 1) % this.capacity;
  }

  /** Calls `fn` for each sample after `afterMs`, oldest first. */
  forEachAfter(afterMs: number, fn: (timeMs: number, value: number) => void): void {
    const start = (this.#head - this.#size + this.capacity) % this.capacity;
    for (let i = 0; i < this.#size; i++) {
      const at = (start + i) % this.capacity;
      if (this.#t[at] > afterMs) fn(this.#t[at], this.#v[at]);
    }
  }
}
