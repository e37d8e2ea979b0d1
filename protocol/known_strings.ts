// The strings of the batches read (sensor ids, groups, metric names), found by
// their bytes. A fleet sends the same ids every few seconds: each id is
// decoded to a string once and then found by hashing its bytes where they lie
// in the request and comparing them with the kept ones, so the same bytes give
// the same string object (V8 keeps its hash: the router's map finds it fast).
// What a user learns of an id once (that it is well formed, the router's index
// for it) is kept beside it (`marks`, `hints`), so it is not worked out again
// for each batch.

/** Longest key kept, in bytes (longer strings are decoded each time). */
export const KNOWN_MAX_BYTES = 512;

/** Slots a table starts with (it grows as entries come). */
const MIN_SLOTS = 1024;

/** FNV-1a over `bytes[from, from + length)`, seeded with the length. */
export function hashBytes(bytes: Uint8Array, from: number, length: number): number {
  let hash = 0x811c9dc5 ^ length;
  const end = from + length;
  for (let k = from; k < end; k++) hash = Math.imul(hash ^ bytes[k], 0x01000193);
  return hash;
}

/**
 * A bounded open-addressing table of strings keyed by their UTF-8 bytes. An
 * entry's number, string and bytes stay as they are until the table is
 * emptied (`sweep` when full), which moves `generation` on: a user that kept
 * entry numbers checks it first. Nothing is allocated on a hit.
 */
export class KnownStrings {
  /** Most entries before `sweep` empties the table. */
  readonly maxEntries: number;
  /** Moves on each time the table is emptied: entry numbers of an older generation mean nothing. */
  generation = 0;
  /** Per entry: a byte its users keep about the string (ingest: its verdict as a sensor id); 0 until set. */
  readonly marks: Uint8Array;
  /** Per entry: a number its users keep (ingest: the router's index of the sensor); -1 until set. */
  readonly hints: Int32Array;
  #mask: number;
  /**
   * Per slot: entry + 1, or 0 for an empty slot (linear probing). It grows
   * with the entries (at most half the slots taken), so a fleet of a few
   * thousand ids probes a few dozen KB, not the room for the largest fleet:
   * each lookup lands on a random slot, and a slot array larger than the
   * cache made most of them a miss to memory.
   */
  #slots: Int32Array;
  readonly #hashes: Int32Array;
  readonly #starts: Uint32Array;
  readonly #lengths: Uint16Array;
  readonly #arena: Uint8Array;
  readonly #strings: string[] = [];
  #arenaUsed = 0;

  /** `maxEntries`: a power of two (default 2^17: a 100,000-sensor fleet's ids and names). */
  constructor(maxEntries = 1 << 17, options: { arenaBytes?: number } = {}) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || (maxEntries & (maxEntries - 1)) !== 0) {
      throw new RangeError(`maxEntries ${maxEntries} is not a power of two`);
    }
    this.maxEntries = maxEntries;
    this.#slots = new Int32Array(Math.min(MIN_SLOTS, 2 * maxEntries));
    this.#mask = this.#slots.length - 1;
    this.#hashes = new Int32Array(maxEntries);
    this.#starts = new Uint32Array(maxEntries);
    this.#lengths = new Uint16Array(maxEntries);
    this.marks = new Uint8Array(maxEntries);
    this.hints = new Int32Array(maxEntries).fill(-1);
    // 64 bytes an entry on average (pages the kept ids do not reach are never touched).
    this.#arena = new Uint8Array(options.arenaBytes ?? maxEntries * 64);
  }

  /** Entries held. */
  get size(): number {
    return this.#strings.length;
  }

  /** The string of entry `entry`. */
  string(entry: number): string {
    return this.#strings[entry];
  }

  /** The entry whose bytes are `bytes[from, from + length)`, or -1. */
  find(bytes: Uint8Array, from: number, length: number): number {
    if (length > KNOWN_MAX_BYTES) return -1;
    const hash = hashBytes(bytes, from, length);
    const slots = this.#slots, mask = this.#mask;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const entry = slots[slot] - 1;
      if (entry < 0) return -1;
      if (this.#hashes[entry] === hash && this.#same(entry, bytes, from, length)) return entry;
    }
  }

  /**
   * Adds `text`, whose UTF-8 bytes are `bytes[from, from + length)` and which
   * `find` does not hold; returns its entry, or -1 when it is too long or the
   * table is full (until the next `sweep`: entries handed out stay valid).
   */
  add(bytes: Uint8Array, from: number, length: number, text: string): number {
    const entry = this.#strings.length;
    if (
      length > KNOWN_MAX_BYTES || entry >= this.maxEntries ||
      this.#arenaUsed + length > this.#arena.length
    ) return -1;
    // Half the slots at most are taken: probes stay short.
    if (2 * (entry + 1) > this.#slots.length) this.#grow();
    const hash = hashBytes(bytes, from, length);
    this.#place(hash, entry);
    this.#hashes[entry] = hash;
    this.#starts[entry] = this.#arenaUsed;
    this.#lengths[entry] = length;
    this.#arena.set(bytes.subarray(from, from + length), this.#arenaUsed);
    this.#arenaUsed += length;
    this.#strings.push(text);
    return entry;
  }

  /**
   * Empties the table if it is full (a fleet larger than it, or a writer
   * sending ever new names), so that new strings are kept again. Called
   * between batches, never while one is read: its entry numbers stay valid.
   */
  sweep(): void {
    if (this.#strings.length < this.maxEntries && this.#arenaUsed < this.#arena.length * 0.9) {
      return;
    }
    this.generation++;
    this.#slots = new Int32Array(Math.min(MIN_SLOTS, 2 * this.maxEntries));
    this.#mask = this.#slots.length - 1;
    this.marks.fill(0);
    this.hints.fill(-1);
    this.#strings.length = 0;
    this.#arenaUsed = 0;
  }

  #place(hash: number, entry: number): void {
    const slots = this.#slots, mask = this.#mask;
    let slot = hash & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = entry + 1;
  }

  /** Twice the slots, every entry placed again by its kept hash. */
  #grow(): void {
    this.#slots = new Int32Array(2 * this.#slots.length);
    this.#mask = this.#slots.length - 1;
    for (let entry = 0; entry < this.#strings.length; entry++) {
      this.#place(this.#hashes[entry], entry);
    }
  }

  #same(entry: number, bytes: Uint8Array, from: number, length: number): boolean {
    if (this.#lengths[entry] !== length) return false;
    const arena = this.#arena;
    const start = this.#starts[entry];
    for (let k = 0; k < length; k++) if (arena[start + k] !== bytes[from + k]) return false;
    return true;
  }
}

/**
 * A block's strings as entries of a `KnownStrings` table (`keys[i]`: the
 * entry of `strings[i]`, -1 for one not in it), as of `generation`.
 */
export interface KnownKeys {
  readonly table: KnownStrings;
  readonly generation: number;
  readonly keys: Int32Array;
}

/** `known`'s keys while its table still holds them (its generation), else undefined. */
export function liveKeys(known: KnownKeys | undefined): Int32Array | undefined {
  return known !== undefined && known.table.generation === known.generation
    ? known.keys
    : undefined;
}
