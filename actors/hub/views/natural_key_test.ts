import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/assert.ts";
import { compareNames, naturalKey } from "./natural_key.ts";

/**
 * The listing rule, recomputed another way: case folded, cut into runs of
 * ASCII digits and single other code units; runs compare by numeric value,
 * a run against another character as "0" would, other characters by code
 * unit; a prefix first. Names equal under that compare by code units.
 */
function listingCompare(a: string, b: string): number {
  const chunks = (s: string) => s.toLowerCase().match(/[0-9]+|[^0-9]/g) ?? [];
  const x = chunks(a), y = chunks(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i], q = y[i];
    const pNum = /^[0-9]/.test(p), qNum = /^[0-9]/.test(q);
    if (pNum && qNum) {
      const m = BigInt(p), n = BigInt(q);
      if (m !== n) return m < n ? -1 : 1;
      continue;
    }
    const c = pNum ? "0" : p, d = qNum ? "0" : q;
    if (c !== d) return c < d ? -1 : 1;
  }
  if (x.length !== y.length) return x.length - y.length;
  return a === b ? 0 : a < b ? -1 : 1;
}

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
