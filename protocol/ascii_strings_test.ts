import fc from "fast-check";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { ASCII_CACHE_MAX_LENGTH, AsciiStrings } from "./ascii_strings.ts";

const decoder = new TextDecoder();

Deno.test("a string read through the cache is the bytes' text, whatever came before into the same slots", () => {
  // Few strings, often repeated, into as few as one slot: hits, evictions and slots shared.
  const ascii = fc.string({
    unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
    maxLength: ASCII_CACHE_MAX_LENGTH,
  });
  fc.assert(
    fc.property(
      fc.array(ascii, { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 200 }),
      fc.constantFrom(1, 2, 8, 1024),
      fc.nat(16),
      (words, picks, slots, offset) => {
        const cache = new AsciiStrings(slots);
        for (const pick of picks) {
          const word = words[pick % words.length];
          // Somewhere inside a larger buffer, as in a batch.
          const bytes = new Uint8Array(offset + word.length + 3).fill(0x41);
          for (let k = 0; k < word.length; k++) bytes[offset + k] = word.charCodeAt(k);
          const read = cache.get(bytes, offset, word.length);
          assertEquals(read, decoder.decode(bytes.subarray(offset, offset + word.length)));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("the cache's slots are a power of two", () => {
  for (const slots of [0, 3, 1.5, -4]) {
    let error: unknown = null;
    try {
      new AsciiStrings(slots);
    } catch (e) {
      error = e;
    }
    assert(error instanceof RangeError, `slots ${slots}: ${error}`);
  }
  assertEquals(new AsciiStrings(1).get(new TextEncoder().encode("sensor-1"), 0, 8), "sensor-1");
});

Deno.test("two different strings of one hash and length each read as themselves", () => {
  // FNV-1a as the cache seeds it; among 4-letter strings two share a 32-bit hash.
  const hashOf = (s: string) => {
    let hash = 0x811c9dc5 ^ s.length;
    for (let k = 0; k < s.length; k++) hash = Math.imul(hash ^ s.charCodeAt(k), 0x01000193);
    return hash;
  };
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  const seen = new Map<number, string>();
  let pair: [string, string] | null = null;
  for (let n = 0; pair === null && n < letters.length ** 4; n++) {
    const s = letters[n & 63] + letters[(n >> 6) & 63] + letters[(n >> 12) & 63] +
      letters[(n >> 18) & 63];
    const other = seen.get(hashOf(s));
    if (other !== undefined) pair = [other, s];
    else seen.set(hashOf(s), s);
  }
  assert(pair !== null, "no two strings of one hash");
  const cache = new AsciiStrings(1);
  const bytes = (s: string) => new TextEncoder().encode(s);
  for (const s of [pair[0], pair[1], pair[0], pair[1]]) assertEquals(cache.get(bytes(s), 0, 4), s);
});
