// Short ASCII strings read from bytes (a batch's sensor ids, groups, metric
// names), the same string object each time the same bytes come again. A fleet
// sends the same ids every few seconds, through ingest and again through the
// log: a fresh string per id per batch was garbage (a byte view and a string
// each), and hashing it again in the router's map cost ~5% of the main thread
// at 50,000 readings/s; V8 keeps a string's hash in the string.

/** Longest string kept (longer ones are made each time). */
export const ASCII_CACHE_MAX_LENGTH = 64;

/**
 * A direct-mapped cache of strings by their bytes: a slot per hash, the
 * newest string wins it. Bounded: `slots` strings of at most
 * `ASCII_CACHE_MAX_LENGTH` characters. Nothing is allocated on a hit.
 */
export class AsciiStrings {
  readonly #mask: number;
  readonly #hashes: Int32Array;
  readonly #strings: (string | undefined)[];

  /** `slots`: a power of two (default 2^17: most of a 100,000-sensor fleet's ids). */
  constructor(slots = 1 << 17) {
    if (!Number.isInteger(slots) || slots < 1 || (slots & (slots - 1)) !== 0) {
      throw new RangeError(`slots ${slots} is not a power of two`);
    }
    this.#mask = slots - 1;
    this.#hashes = new Int32Array(slots);
    this.#strings = new Array(slots).fill(undefined);
  }

  /**
   * The string of `bytes[from, from + length)`, which must all be below 0x80
   * and at most `ASCII_CACHE_MAX_LENGTH` long: the kept one when the same
   * bytes came before and still hold its slot, else a new one (then kept).
   */
  get(bytes: Uint8Array, from: number, length: number): string {
    // FNV-1a over the bytes, seeded with the length.
    let hash = 0x811c9dc5 ^ length;
    const end = from + length;
    for (let k = from; k < end; k++) hash = Math.imul(hash ^ bytes[k], 0x01000193);
    const slot = hash & this.#mask;
    const kept = this.#strings[slot];
    if (kept !== undefined && this.#hashes[slot] === hash && kept.length === length) {
      let same = true;
      for (let k = 0; same && k < length; k++) same = kept.charCodeAt(k) === bytes[from + k];
      if (same) return kept;
    }
    const made = String.fromCharCode.apply(null, bytes.subarray(from, end) as unknown as number[]);
    this.#hashes[slot] = hash;
    this.#strings[slot] = made;
    return made;
  }
}
