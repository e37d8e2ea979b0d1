import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { hiddenMetrics, NO_HIDDEN } from "./hidden_metrics.ts";

const known = Array.from({ length: 1024 }, (_, index) => ({ index, name: `m${index}` }));

Deno.test("hidden metrics: the mask is exactly the named known metrics; equal sets, equal keys; keys stay short", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(1023), { maxLength: 1024 }),
      fc.array(fc.string({ maxLength: 6 }), { maxLength: 5 }),
      (indexes, unknown) => {
        const names = [...indexes.map((i) => `m${i}`), ...unknown.filter((n) => !/^m\d+$/.test(n))];
        const hidden = hiddenMetrics(names, known);
        const shuffled = hiddenMetrics([...names].reverse(), known);
        assertEquals(shuffled.key, hidden.key);
        assert(hidden.key.length <= 128, `${hidden.key.length} characters`);
        for (let i = 0; i < 1024; i++) {
          assertEquals(hidden.mask?.[i] === 1, indexes.includes(i), `metric ${i}`);
        }
        if (indexes.length === 0) assertEquals(hidden, NO_HIDDEN);
      },
    ),
  );
});

Deno.test("hidden metrics: different sets have different keys", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(1023), { maxLength: 40 }),
      fc.uniqueArray(fc.nat(1023), { maxLength: 40 }),
      (a, b) => {
        const same = a.length === b.length && a.every((i) => b.includes(i));
        const ka = hiddenMetrics(a.map((i) => `m${i}`), known).key;
        const kb = hiddenMetrics(b.map((i) => `m${i}`), known).key;
        assertEquals(ka === kb, same);
      },
    ),
  );
});
