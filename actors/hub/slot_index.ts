// Where each (sensor, metric) keeps its value in the mirror's columns. A Map
// keyed by `sensor * 65,536 + metric` was a quarter of the hub's tick at
// 100,000 sensors: keys past 2^30 are not small integers in V8, so every
// lookup hashed a heap number (about 0.35 µs, against a few ns here). Even a
// typed hash table missed the cache on each lookup (16 MB for 300,000 pairs,
// half the 1-ordering tick under load): the first few b of each a (a
// sensor's first metrics) sit in a direct table, a's side by side.

import { grownCapacity } from "./capacity.ts";

const EMPTY = -1;
/** b below this (by default), for a below `DIRECT_A`, go in the direct table: 32 bytes per a. */
const DIRECT_B = 8;
const DIRECT_A = 1 << 21;

/**
 * A map from pairs of non-negative integers (a < 2^31, b < 2^31) to
 * non-negative integers, in typed arrays: small pairs in a direct table
 * grown to the largest a seen, others in a hash table (open addressing with
 * linear probing, at most half full, deletion by shifting back, no
 * tombstones). Nothing is allocated per operation.
 */
export class SlotIndex {
  /** How many b per a the direct table holds. */
  readonly #width: number;
  /**
   * Value + 1 of (a, b) at a * width + b, or 0: a fresh (zeroed) table is
   * empty, so growing it to 100,000 sensors' worth (13 MB for the windows)
   * writes nothing but the copy of what it held.
   */
  #direct = new Uint32Array(0);
  #directSize = 0;
  /** Entries of four Int32s (a, b, value, unused): one cache line holds four, a lookup touches one. */
  #table: Int32Array;
  #mask: number;
  #size = 0;

  /**
   * `capacity`: pairs the hash table holds before it first grows.
   * `directWidth`: b below it go in the direct table (default 8), e.g. a
   * metric's window sizes keyed as `metric * 8 + size`.
   */
  constructor(capacity = 16, options: { directWidth?: number } = {}) {
    this.#width = options.directWidth ?? DIRECT_B;
    let n = 16;
    while (n < 2 * capacity) n *= 2;
    this.#table = emptyTable(n);
    this.#mask = n - 1;
  }

  get size(): number {
    return this.#size + this.#directSize;
  }

  /** The value of (a, b), or -1. */
  get(a: number, b: number): number {
    if (b < this.#width && a < DIRECT_A) {
      const at = a * this.#width + b;
      return at < this.#direct.length ? this.#direct[at] - 1 : -1;
    }
    const t = this.#table, mask = this.#mask;
    for (let i = hash(a, b) & mask;; i = (i + 1) & mask) {
      const k = t[4 * i];
      if (k === EMPTY) return -1;
      if (k === a && t[4 * i + 1] === b) return t[4 * i + 2];
    }
  }

  /** Room for every a below `count` without growing again (e.g. a restart's sensors, at once). */
  reserve(count: number): void {
    if (count * this.#width > this.#direct.length) this.#growDirect(count);
  }

  /**
   * The value of (a, b) if it has one; else sets it to `value` and returns
   * -1. One lookup where `get` then `set` would take two.
   */
  claim(a: number, b: number, value: number): number {
    if (b < this.#width && a < DIRECT_A) {
      const at = a * this.#width + b;
      if (at >= this.#direct.length) this.#growDirect(a + 1);
      const held = this.#direct[at];
      if (held !== 0) return held - 1;
      this.#direct[at] = value + 1;
      this.#directSize++;
      return -1;
    }
    const held = this.get(a, b);
    if (held < 0) this.set(a, b, value);
    return held;
  }

  /**
   * `claim` for many pairs at once, new ones taking the values `next`,
   * `next + 1`, ... in order: `into[i]` is the value of (a[i], b[i]), held or
   * new. Returns the next value not taken. One tight loop, for a restart's
   * first tick (1.2 million window rows): call by call it ran cold.
   */
  claimAll(a: Uint32Array, b: Int32Array, o: { into: Int32Array; next: number }): number {
    const width = this.#width;
    let next = o.next;
    let top = 0;
    for (let i = 0; i < a.length; i++) if (a[i] >= top) top = a[i] + 1;
    this.reserve(Math.min(top, DIRECT_A));
    const direct = this.#direct;
    const into = o.into;
    for (let i = 0; i < a.length; i++) {
      const x = a[i], y = b[i];
      if (y < width && x < DIRECT_A) {
        const at = x * width + y;
        const held = direct[at];
        if (held !== 0) into[i] = held - 1;
        else {
          direct[at] = next + 1;
          this.#directSize++;
          into[i] = next++;
        }
      } else {
        const held = this.claim(x, y, next);
        into[i] = held >= 0 ? held : next++;
      }
    }
    return next;
  }

  /** Sets (a, b) to `value` (0 ≤ value < 2^31). */
  set(a: number, b: number, value: number): void {
    if (b < this.#width && a < DIRECT_A) {
      const at = a * this.#width + b;
      if (at >= this.#direct.length) this.#growDirect(a + 1);
      if (this.#direct[at] === 0) this.#directSize++;
      this.#direct[at] = value + 1;
      return;
    }
    if (2 * (this.#size + 1) > this.#mask + 1) this.#grow();
    const t = this.#table, mask = this.#mask;
    for (let i = hash(a, b) & mask;; i = (i + 1) & mask) {
      const k = t[4 * i];
      if (k === EMPTY) {
        t[4 * i] = a;
        t[4 * i + 1] = b;
        t[4 * i + 2] = value;
        this.#size++;
        return;
      }
      if (k === a && t[4 * i + 1] === b) {
        t[4 * i + 2] = value;
        return;
      }
    }
  }

  /** Removes (a, b); false if absent. */
  delete(a: number, b: number): boolean {
    if (b < this.#width && a < DIRECT_A) {
      const at = a * this.#width + b;
      if (at >= this.#direct.length || this.#direct[at] === 0) return false;
      this.#direct[at] = 0;
      this.#directSize--;
      return true;
    }
    const t = this.#table, mask = this.#mask;
    let i = hash(a, b) & mask;
    for (;; i = (i + 1) & mask) {
      const k = t[4 * i];
      if (k === EMPTY) return false;
      if (k === a && t[4 * i + 1] === b) break;
    }
    // Shift back the entries after the hole that probed past it.
    let hole = i;
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      const k = t[4 * j];
      if (k === EMPTY) break;
      const home = hash(k, t[4 * j + 1]) & mask;
      // j's entry may move to the hole when its home is not within (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        t[4 * hole] = k;
        t[4 * hole + 1] = t[4 * j + 1];
        t[4 * hole + 2] = t[4 * j + 2];
        hole = j;
      }
    }
    t[4 * hole] = EMPTY;
    this.#size--;
    return true;
  }

  get bytes(): number {
    return this.#table.byteLength + this.#direct.byteLength;
  }

  #growDirect(count: number): void {
    const n = Math.min(grownCapacity(this.#direct.length / this.#width, count), DIRECT_A);
    const next = new Uint32Array(n * this.#width);
    next.set(this.#direct);
    this.#direct = next;
  }

  #grow(): void {
    const old = this.#table;
    const n = 2 * (this.#mask + 1);
    this.#table = emptyTable(n);
    this.#mask = n - 1;
    this.#size = 0;
    for (let i = 0; i < old.length; i += 4) {
      if (old[i] !== EMPTY) this.set(old[i], old[i + 1], old[i + 2]);
    }
  }
}

function emptyTable(entries: number): Int32Array {
  const t = new Int32Array(4 * entries);
  for (let i = 0; i < t.length; i += 4) t[i] = EMPTY;
  return t;
}

function hash(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) ^ (h >>> 12);
}
