// Which topics each sensor belongs to, so that a tick's updates are split
// among the topics in one pass. Each topic scanning every update for its own
// members was 10 scans of the tick for 10 group topics (the largest part of
// the topics' filtering at the modest load), where one pass finds every
// topic's rows.

import { grownCapacity } from "./capacity.ts";

/** Row indexes all topics' lists may hold together; past it the topics scan for themselves. */
const MAX_ROWS = 1 << 20;

/**
 * Topic membership as bits, one word per 32 topic slots for each sensor
 * index, and the rows of one tick's updates per slot. A topic takes a slot
 * (`acquire`), sets its sensors' bits as its membership changes (`set`),
 * and gives the slot back when dropped (`release`). Once per tick, after
 * every topic's membership is up to date, `split` lists each slot's rows of
 * the tick's updates, in order; `taken` hands a topic its list for those
 * updates until `clear`. Nothing is allocated per tick once the lists have
 * grown to the tick's size.
 */
export class TopicRows {
  /** Words per sensor: slots / 32, rounded up. */
  #words = 1;
  /** Sensors the bits have room for. */
  #sensors = 0;
  /** Bit `slot % 32` of word `sensor * #words + slot / 32`: the sensor is a member. */
  #bits = new Int32Array(0);
  /** Per slot: 1 while a topic holds it. */
  #used = new Uint8Array(32);
  /** One past the highest slot ever taken (the slots `split` visits). */
  #top = 0;
  /** Per slot: its rows of the split updates (the first `#counts[slot]`). */
  readonly #lists: Int32Array[] = [];
  #counts = new Int32Array(32);
  /** Sum of the lists' lengths (bounded by `MAX_ROWS`). */
  #held = 0;
  /** The updates the lists are of; null when none are (or a tick's were too many). */
  #of: { readonly length: number; readonly sensor: ArrayLike<number> } | null = null;

  /** A free slot for a topic. */
  acquire(): number {
    let slot = this.#used.indexOf(0);
    if (slot < 0) {
      slot = this.#used.length;
      const used = new Uint8Array(slot * 2);
      used.set(this.#used);
      this.#used = used;
      const counts = new Int32Array(slot * 2);
      counts.set(this.#counts);
      this.#counts = counts;
    }
    this.#used[slot] = 1;
    if (slot >= this.#words * 32) this.#layout(this.#sensors, Math.ceil((slot + 1) / 32));
    if (slot >= this.#top) this.#top = slot + 1;
    this.#lists[slot] ??= new Int32Array(0);
    return slot;
  }

  /** Frees `slot`: its bits are cleared (rare: a topic dropped). */
  release(slot: number): void {
    if (this.#used[slot] !== 1) return;
    this.#used[slot] = 0;
    const word = slot >>> 5, mask = ~(1 << (slot & 31)), words = this.#words, bits = this.#bits;
    for (let at = word; at < bits.length; at += words) bits[at] &= mask;
    this.#counts[slot] = 0;
  }

  /** Notes whether `sensor` is a member of the topic in `slot`. */
  set(sensor: number, slot: number, member: boolean): void {
    if (sensor >= this.#sensors) {
      if (!member) return;
      this.#layout(grownCapacity(this.#sensors, sensor + 1), this.#words);
    }
    const at = sensor * this.#words + (slot >>> 5);
    if (member) this.#bits[at] |= 1 << (slot & 31);
    else this.#bits[at] &= ~(1 << (slot & 31));
  }

  /**
   * Lists each slot's rows of `updates` (indexes below `updates.length`
   * whose sensor is a member), in order, for `taken` until `clear`.
   */
  split(updates: { readonly length: number; readonly sensor: ArrayLike<number> }): void {
    this.#of = null;
    const counts = this.#counts, lists = this.#lists, words = this.#words, bits = this.#bits;
    counts.fill(0, 0, this.#top);
    const n = updates.length, sensors = this.#sensors, sensor = updates.sensor;
    for (let i = 0; i < n; i++) {
      const s = sensor[i];
      if (s >= sensors) continue;
      for (let w = 0; w < words; w++) {
        let b = bits[s * words + w];
        while (b !== 0) {
          const low = b & -b;
          b ^= low;
          const slot = (w << 5) + 31 - Math.clz32(low);
          const at = counts[slot]++;
          if (at >= lists[slot].length && !this.#grow(slot, at + 1)) return;
          lists[slot][at] = i;
        }
      }
    }
    this.#of = updates;
  }

  /**
   * How many rows `slot` has of `updates` (its list: `rows(slot)`), or -1
   * when they were not split (the topic then finds its rows itself).
   */
  taken(slot: number, updates: object): number {
    return this.#of !== null && this.#of === updates ? this.#counts[slot] : -1;
  }

  /** The rows `taken` counts, in order (valid until the next `split`). */
  rows(slot: number): Int32Array {
    return this.#lists[slot];
  }

  /** The split is done with (its updates' buffers are written again later). */
  clear(): void {
    this.#of = null;
  }

  #grow(slot: number, needed: number): boolean {
    const list = this.#lists[slot];
    const size = grownCapacity(list.length, needed, 64);
    if (this.#held - list.length + size > MAX_ROWS) return false;
    const grown = new Int32Array(size);
    grown.set(list);
    this.#held += size - list.length;
    this.#lists[slot] = grown;
    return true;
  }

  #layout(sensors: number, words: number): void {
    const bits = new Int32Array(sensors * words);
    const before = this.#words;
    for (let s = 0; s < this.#sensors; s++) {
      for (let w = 0; w < before; w++) bits[s * words + w] = this.#bits[s * before + w];
    }
    this.#bits = bits;
    this.#sensors = sensors;
    this.#words = words;
  }
}
