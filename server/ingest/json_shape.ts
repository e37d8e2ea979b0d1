// What a JSON body would cost to parse, told from its bytes before it is
// parsed: JSON.parse of 8 MB of `{},{},…` (2.8 million objects) took 2.8 s of
// the server's only thread, 8 MB of `[[[[…` 1.7 s, and 7 MB of objects with
// 600,000 distinct member names 2.2 s, before the batch's reading count could
// be checked.

/** Bounds on a JSON body's shape. */
export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most values (each array element, object member and the top value). */
  maxValues: number;
  /** Most distinct member names (told apart by a hash of their bytes: a bound, not a count). */
  maxNames: number;
}

/**
 * Bounds for a batch of at most `maxReadings` readings: each of a few fields
 * and at most 32 metrics, whose names are among the fleet's 1,024.
 */
export function batchShapeLimits(maxReadings: number): JsonShapeLimits {
  return { maxDepth: 32, maxValues: 64 * maxReadings + 64, maxNames: 4_096 };
}

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d;
/** Slots of the names' hash table: twice the most names any limits here allow. */
const NAME_SLOTS = 1 << 14;

/**
 * Why a body's shape is past `limits`, or null: one pass over its bytes,
 * counting outside strings (malformed JSON is left to the parser to name).
 */
export function jsonShapeRefusal(body: Uint8Array, limits: JsonShapeLimits): string | null {
  const maxNames = Math.min(limits.maxNames, NAME_SLOTS / 2);
  const names = new Int32Array(NAME_SLOTS); // hashes | 1 (0: empty)
  let depth = 0, values = 1, distinct = 0, inString = false;
  let hash = 0, lastString = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === BACKSLASH) {
        hash = Math.imul(hash ^ c, 0x01000193);
        i++;
        if (i < body.length) hash = Math.imul(hash ^ body[i], 0x01000193);
      } else if (c === QUOTE) {
        inString = false;
        lastString = hash | 1;
      } else hash = Math.imul(hash ^ c, 0x01000193); // FNV-1a
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      hash = 0x811c9dc5 | 0;
    } else if (c === COLON && lastString !== 0) {
      // The string before a colon is a member name.
      let slot = lastString & (NAME_SLOTS - 1);
      while (names[slot] !== 0 && names[slot] !== lastString) slot = (slot + 1) & (NAME_SLOTS - 1);
      if (names[slot] === 0) {
        names[slot] = lastString;
        if (++distinct > maxNames) {
          return `body uses more than ${maxNames} distinct member names, more than readings may`;
        }
      }
      lastString = 0;
    } else if (c === COMMA) values++;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limits.maxDepth) {
        return `body nests arrays and objects deeper than ${limits.maxDepth} levels`;
      }
      values++; // its first element or member, if it has one
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
    if (values > limits.maxValues) {
      return `body holds more than ${limits.maxValues} JSON values, more than a batch of its size may`;
    }
  }
  return null;
}
