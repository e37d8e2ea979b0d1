import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { CollationOrder } from "./collation_order.ts";
import { compareNames, naturalKey } from "./natural_key.ts";

type Step = { add: [number, string] } | { remove: number } | { commit: true };

Deno.test("items added and removed over many commits are listed as a fresh sort would list them", () => {
  const name = fc.stringMatching(/^[aB]{0,2}[0-9]{0,3}$/);
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.nat(40), name).map((add) => ({ add })) },
    { weight: 2, arbitrary: fc.nat(40).map((remove) => ({ remove })) },
    { weight: 1, arbitrary: fc.constant({ commit: true as const }) },
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
      const order = new CollationOrder();
      const names = new Map<number, string>();
      const check = () => {
        order.commit();
        const expected = [...names.keys()].sort((a, b) =>
          compareNames(
            naturalKey(names.get(a)!),
            names.get(a)!,
            naturalKey(names.get(b)!),
            names.get(b)!,
          ) ||
          a - b
        );
        assertEquals([...order.order], expected);
        expected.forEach((item, rank) => assertEquals(order.rank(item), rank));
      };
      for (const s of steps) {
        if ("add" in s) {
          order.add(s.add[0], s.add[1]);
          names.set(s.add[0], s.add[1]);
        } else if ("remove" in s) {
          order.remove(s.remove);
          names.delete(s.remove);
        } else check();
      }
      check();
    }),
    { numRuns: 300 },
  );
});

Deno.test("a few items among many are placed by search, many by merge; both list the same", () => {
  const order = new CollationOrder();
  for (let i = 0; i < 5000; i++) order.add(i, `s-${(i * 7919) % 5000}`);
  order.commit();
  for (let i = 5000; i < 5003; i++) order.add(i, `s-${i - 4999}x`); // few: binary search
  order.commit();
  for (let i = 5003; i < 9000; i++) order.add(i, `t-${i}`); // many: linear merge
  order.commit();
  const listed = [...order.order].map((i) => order.name(i)!);
  const expected = [...listed].sort((a, b) => compareNames(naturalKey(a), a, naturalKey(b), b));
  assertEquals(listed, expected);
  assertEquals(listed.slice(0, 4), ["s-0", "s-1", "s-1x", "s-2"]);
});
