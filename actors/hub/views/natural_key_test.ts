import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { listingCompare } from "../../../tests/listing_order.ts";
import { compareNames, compareNamesDirect, naturalKey } from "./natural_key.ts";

const byKey = (a: string, b: string) => compareNames(naturalKey(a), a, naturalKey(b), b);
const sign = (n: number) => Math.sign(n);

Deno.test("numbers in names sort by value, case is folded, exact order breaks ties", () => {
  const names = [
    "sensor-10",
    "Sensor-9",
    "sensor-2",
    "sensor-007",
    "sensor-7",
    "sensor-",
    "sensor-1a",
    "sensor",
  ];
  assertEquals([...names].sort(byKey), [
    "sensor",
    "sensor-",
    "sensor-1a",
    "sensor-2",
    "sensor-007",
    "sensor-7",
    "Sensor-9",
    "sensor-10",
  ]);
});

Deno.test("the key's order equals the listing rule for any names", () => {
  const name = fc.string({
    unit: fc.constantFrom("a", "B", "b", "0", "1", "9", "00", "-", "/", "_", " ", "é", "\u{1F600}"),
    maxLength: 12,
  });
  fc.assert(
    fc.property(name, name, (a, b) => {
      assertEquals(sign(byKey(a, b)), sign(listingCompare(a, b)), `${a} vs ${b}`);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("long digit runs compare by length, then digit by digit", () => {
  const a = "x" + "9".repeat(40), b = "x1" + "0".repeat(40);
  assert(byKey(a, b) < 0);
  assert(byKey("x0000000000000000000000001", "x2") < 0);
});

Deno.test("the key equals its definition (lower case, each digit run as 0, its length, its digits) for any name", () => {
  // The definition spelled out as a regex replace, independent of the scan.
  const defined = (name: string) =>
    name.toLowerCase().replace(/[0-9]+/g, (digits) => {
      const kept = digits.replace(/^0+(?=.)/, "");
      return "0" + String.fromCharCode(0x30 + kept.length) + kept;
    });
  const piece = fc.oneof(
    fc.stringMatching(/^[0-9]{1,12}$/),
    fc.constantFrom("0", "00", "007", "-", "A", "İ", "ß", "sensor-", "Plant/"),
    fc.string({ unit: "grapheme", maxLength: 4 }),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
      const name = pieces.join("");
      assertEquals(naturalKey(name), defined(name));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("comparing names directly gives the keys' order, for ASCII and beyond", () => {
  const name = fc.string({
    unit: fc.constantFrom(
      "a",
      "B",
      "b",
      "Z",
      "z",
      "0",
      "1",
      "9",
      "00",
      "-",
      "/",
      "_",
      " ",
      "@",
      "[",
      "`",
      "{",
      "\x7f",
      "é",
      "\u212a", // Kelvin sign: lower case is ASCII "k"
      "\u0130", // İ: lower case is two chars
      "\u03a3", // Σ: lower case depends on what follows
      "\u{1F600}",
    ),
    maxLength: 12,
  });
  fc.assert(
    fc.property(name, name, (a, b) => {
      assertEquals(
        compareNamesDirect(a, b),
        byKey(a, b),
        `${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
      );
    }),
    { numRuns: 20_000 },
  );
  for (
    const [a, b] of [["a10", "a9"], ["a007", "a7"], ["A7", "a7"], ["a", "a1"], ["x", "\u212a"]]
  ) {
    assertEquals(compareNamesDirect(a, b), byKey(a, b), `${a} vs ${b}`);
    assertEquals(compareNamesDirect(b, a), byKey(b, a), `${b} vs ${a}`);
  }
});
