import fc from "fast-check";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { hashBytes, KNOWN_MAX_BYTES, KnownStrings } from "./known_strings.ts";

const encoder = new TextEncoder();

/** `text`'s UTF-8 bytes at `offset` inside a larger buffer, as in a batch. */
function placed(text: string, offset: number): { bytes: Uint8Array; length: number } {
  const utf8 = encoder.encode(text);
  const bytes = new Uint8Array(offset + utf8.length + 3).fill(0x41);
  bytes.set(utf8, offset);
  return { bytes, length: utf8.length };
}

/** Two different strings of one FNV-1a hash and length (4 letters each; found by search). */
function collidingPair(): [string, string] {
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  const seen = new Map<number, string>();
  const bytes = new Uint8Array(4);
  for (let n = 0; n < letters.length ** 4; n++) {
    const s = letters[n & 63] + letters[(n >> 6) & 63] + letters[(n >> 12) & 63] +
      letters[(n >> 18) & 63];
    for (let k = 0; k < 4; k++) bytes[k] = s.charCodeAt(k);
    const hash = hashBytes(bytes, 0, 4);
    const other = seen.get(hash);
    if (other !== undefined) return [other, s];
    seen.set(hash, s);
  }
  throw new Error("no two strings of one hash");
}
const PAIR = collidingPair();

/** Ids: ASCII, any Unicode (accents, CJK, emoji), the empty one, the longest kept, one past it, a colliding pair. */
const anyId = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.string({ unit: "binary", maxLength: 6 }).filter((s) => s.isWellFormed()),
  fc.constantFrom(
    "",
    "x".repeat(KNOWN_MAX_BYTES),
    "é".repeat(KNOWN_MAX_BYTES / 2),
    "x".repeat(KNOWN_MAX_BYTES + 1),
    PAIR[0],
    PAIR[1],
  ),
);

Deno.test("a table of strings by their bytes finds exactly what a Map of the strings holds, until it is swept", () => {
  fc.assert(
    fc.property(
      fc.array(anyId, { minLength: 1, maxLength: 12 }),
      fc.array(fc.tuple(fc.nat(), fc.boolean(), fc.nat(5)), { maxLength: 150 }),
      fc.constantFrom(1, 2, 4, 64),
      fc.constantFrom(64, 1 << 12),
      (ids, steps, maxEntries, arenaBytes) => {
        const table = new KnownStrings(maxEntries, { arenaBytes });
        // The model: the strings added since the last sweep, by text, with their entries.
        const model = new Map<string, number>();
        let generation = table.generation;
        for (const [pick, sweep, offset] of steps) {
          if (sweep) {
            table.sweep();
            if (table.generation !== generation) {
              generation = table.generation;
              model.clear();
            }
            assertEquals(table.size, model.size);
          }
          const id = ids[pick % ids.length];
          const { bytes, length } = placed(id, offset);
          const found = table.find(bytes, offset, length);
          assertEquals(found, model.get(id) ?? -1, `find ${JSON.stringify(id)}`);
          if (found >= 0) {
            // The same object as was added.
            assert(table.string(found) === id);
            continue;
          }
          const entry = table.add(bytes, offset, length, id);
          if (entry >= 0) {
            assertEquals(entry, model.size);
            model.set(id, entry);
            assertEquals(table.find(bytes, offset, length), entry);
          } else {
            // Refused: too long, or no room until a sweep; nothing changed.
            assert(length > KNOWN_MAX_BYTES || table.size === model.size);
            assertEquals(table.find(bytes, offset, length), -1);
          }
        }
        // Every entry's string is still the one added.
        for (const [id, entry] of model) assertEquals(table.string(entry), id);
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("two different strings of one hash and length are two entries, each found as itself", () => {
  const [a, b] = PAIR;
  assertEquals(hashBytes(encoder.encode(a), 0, 4), hashBytes(encoder.encode(b), 0, 4));
  const table = new KnownStrings(2);
  const ea = table.add(encoder.encode(a), 0, 4, a);
  assertEquals(table.find(encoder.encode(b), 0, 4), -1);
  const eb = table.add(encoder.encode(b), 0, 4, b);
  assertEquals([table.find(encoder.encode(a), 0, 4), table.find(encoder.encode(b), 0, 4)], [
    ea,
    eb,
  ]);
  assertEquals([table.string(ea), table.string(eb)], [a, b]);
});

Deno.test("the empty string and one of the longest kept length are kept; one byte longer is not", () => {
  const table = new KnownStrings(4, { arenaBytes: 2 * KNOWN_MAX_BYTES });
  for (const id of ["", "z".repeat(KNOWN_MAX_BYTES)]) {
    const bytes = encoder.encode(id);
    const entry = table.add(bytes, 0, bytes.length, id);
    assert(entry >= 0, `${id.length} bytes kept`);
    assertEquals(table.find(bytes, 0, bytes.length), entry);
  }
  const longer = encoder.encode("z".repeat(KNOWN_MAX_BYTES + 1));
  assertEquals(table.add(longer, 0, longer.length, "z".repeat(KNOWN_MAX_BYTES + 1)), -1);
  assertEquals(table.find(longer, 0, longer.length), -1);
});

Deno.test("a full table keeps its entries until a sweep empties it, with its marks and hints, and moves its generation on", () => {
  const table = new KnownStrings(2);
  const bytes = (s: string) => encoder.encode(s);
  const a = table.add(bytes("a"), 0, 1, "a");
  table.add(bytes("b"), 0, 1, "b");
  table.marks[a] = 1;
  table.hints[a] = 7;
  // Full: a third is not kept, and the first two stay.
  assertEquals(table.add(bytes("c"), 0, 1, "c"), -1);
  assertEquals(table.find(bytes("a"), 0, 1), a);
  const generation = table.generation;
  table.sweep();
  assertEquals(table.generation, generation + 1);
  assertEquals([table.size, table.find(bytes("a"), 0, 1)], [0, -1]);
  const c = table.add(bytes("c"), 0, 1, "c");
  assertEquals([table.marks[c], table.hints[c]], [0, -1]);
  // A sweep of a table with room changes nothing.
  table.sweep();
  assertEquals([table.generation, table.find(bytes("c"), 0, 1)], [generation + 1, c]);
});

Deno.test("the table's size is a power of two", () => {
  for (const size of [0, 3, 1.5, -4]) {
    let error: unknown = null;
    try {
      new KnownStrings(size);
    } catch (e) {
      error = e;
    }
    assert(error instanceof RangeError, `size ${size}: ${error}`);
  }
});

Deno.test("a table whose slots grow with its entries finds every entry as a Map does, and nothing else", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3000 }), fc.nat(1000), (count, salt) => {
      const table = new KnownStrings(1 << 12);
      const model = new Map<string, number>();
      for (let n = 0; n < count; n++) {
        const id = n % 3 === 0 ? `sensor_${n + salt}` : n % 3 === 1 ? `传感器-${n}` : `é${n}ü`;
        const bytes = encoder.encode(id);
        model.set(id, table.add(bytes, 0, bytes.length, id));
      }
      assertEquals(table.size, count);
      for (const [id, entry] of model) {
        const bytes = encoder.encode(id);
        assertEquals(table.find(bytes, 0, bytes.length), entry);
        assert(table.string(entry) === id);
      }
      for (const absent of [`sensor_${count + salt}x`, "", "传感器-"]) {
        const bytes = encoder.encode(absent);
        assertEquals(table.find(bytes, 0, bytes.length), model.get(absent) ?? -1);
      }
    }),
    { numRuns: 30 },
  );
});
