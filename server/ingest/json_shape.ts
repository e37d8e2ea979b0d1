// What a JSON body would cost to parse, told from its bytes before it is
// parsed: JSON.parse of 8 MB of `{},{},…` (2.8 million objects) took 2.8 s of
// the server's only thread, and 8 MB of `[[[[…` 1.7 s, before the batch's
// reading count could be checked.

/** Bounds on a JSON body's shape. */
export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most values (each array element, object member and the top value). */
  maxValues: number;
}

/** Bounds for a batch of at most `maxReadings` readings (each at most 32 metrics, a few fields). */
export function batchShapeLimits(maxReadings: number): JsonShapeLimits {
  return { maxDepth: 32, maxValues: 64 * maxReadings + 64 };
}

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c;
const OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d;

/**
 * Why a body's shape is past `limits`, or null: one pass over its bytes,
 * counting outside strings (malformed JSON is left to the parser to name).
 */
export function jsonShapeRefusal(body: Uint8Array, limits: JsonShapeLimits): string | null {
  let depth = 0, values = 1, inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === COMMA) values++;
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
