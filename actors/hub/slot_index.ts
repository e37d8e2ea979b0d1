// Where each (sensor, metric) keeps its value in the mirror's columns. A Map
// keyed by `sensor * 65,536 + metric` was a quarter of the hub's tick at
// 100,000 sensors: keys past 2^30 are not small integers in V8, so every
// lookup hashed a heap number (about 0.35 µs, against a few ns here).

const EMPTY = -1;

/**
 * A hash table from pairs of non-negative integers (a < 2^31, b < 2^31) to
 * non-negative integers, in typed arrays: open addressing with linear
 * probing, at most half full, deletion by shifting back (no tombstones).
 * Nothing is allocated per operation.
 */
export class SlotIndex {
  #a: Int32Array;
  #b: Int32Array;
  #value: Int32Array;
  #mask: number;
  #size = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < 2 * capacity) n *= 2;
    this.#a = new Int32Array(n).fill(EMPTY);
    this.#b = new Int32Array(n);
    this.#value = new Int32Array(n);
    this.#mask = n - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The value of (a, b), or -1. */
  get(a: number, b: number): number {
    const keys = this.#a, bs = this.#b, mask = this.#mask;
    for (let i = hash(a, b) & mask;; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === EMPTY) return -1;
      if (k === a && bs[i] === b) return this.#value[i];
    }
  }

  /** Sets (a, b) to `value` (≥ 0). */
  set(a: number, b: number, value: number): void {
    if (2 * (this.#size + 1) > this.#a.length) this.#grow();
    const keys = this.#a, bs = this.#b, mask = this.#mask;
    for (let i = hash(a, b) & mask;; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === EMPTY) {
        keys[i] = a;
        bs[i] = b;
        this.#value[i] = value;
        this.#size++;
        return;
      }
      if (k === a && bs[i] === b) {
        this.#value[i] = value;
        return;
      }
    }
  }

  /** Removes (a, b); false if absent. */
  delete(a: number, b: number): boolean {
    const keys = this.#a, bs = this.#b, values = this.#value, mask = this.#mask;
    let i = hash(a, b) & mask;
    for (;; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === EMPTY) return false;
      if (k === a && bs[i] === b) break;
    }
    // Shift back the entries after the hole that probed past it.
    let hole = i;
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      const k = keys[j];
      if (k === EMPTY) break;
      const home = hash(k, bs[j]) & mask;
      // j's entry may move to the hole when its home is not within (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = k;
        bs[hole] = bs[j];
        values[hole] = values[j];
        hole = j;
      }
    }
    keys[hole] = EMPTY;
    this.#size--;
    return true;
  }

  get bytes(): number {
    return this.#a.byteLength * 3;
  }

  #grow(): void {
    const a = this.#a, b = this.#b, v = this.#value;
    const n = a.length * 2;
    this.#a = new Int32Array(n).fill(EMPTY);
    this.#b = new Int32Array(n);
    this.#value = new Int32Array(n);
    this.#mask = n - 1;
    this.#size = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== EMPTY) this.set(a[i], b[i], v[i]);
  }
}

function hash(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) ^ (h >>> 12);
}
