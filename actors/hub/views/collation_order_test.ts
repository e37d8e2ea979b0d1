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
        const expected = freshOrder(names);
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

/** A fresh sort of `names` by item, as the listing order defines it. */
function freshOrder(names: Map<number, string>): number[] {
  return [...names.keys()].sort((a, b) =>
    compareNames(
      naturalKey(names.get(a)!),
      names.get(a)!,
      naturalKey(names.get(b)!),
      names.get(b)!,
    ) ||
    a - b
  );
}

Deno.test("an expected order saved before a restart lists the items as a fresh sort, however it was tampered with", () => {
  const id = fc.stringMatching(/^[aB-]{0,2}[0-9]{0,3}$/);
  const tamper = fc.oneof(
    fc.constant({ kind: "none" as const }),
    fc.record({ kind: fc.constant("swap" as const), at: fc.nat(), to: fc.nat() }),
    fc.record({ kind: fc.constant("dup" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("foreign" as const), at: fc.nat(), item: fc.nat(100) }),
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(id, { maxLength: 60 }),
      fc.array(id, { maxLength: 10 }),
      fc.array(tamper, { maxLength: 3 }),
      (before, news, tampers) => {
        // The order saved before the restart...
        const saved = new CollationOrder();
        before.forEach((name, item) => saved.add(item, name));
        saved.commit();
        const expected = [...saved.order];
        assertEquals(expected, freshOrder(new Map(before.map((n, i) => [i, n]))));
        for (const t of tampers) {
          if (expected.length === 0) break;
          const at = t.kind === "none" ? 0 : t.at % expected.length;
          if (t.kind === "swap") {
            const to = t.to % expected.length;
            [expected[at], expected[to]] = [expected[to], expected[at]];
          } else if (t.kind === "dup") expected.splice(at, 0, expected[at]);
          else if (t.kind === "drop") expected.splice(at, 1);
          else if (t.kind === "foreign") expected.splice(at, 0, t.item);
        }
        // ...and the items after it: some gone, some given other names, some new.
        const names = new Map<number, string>();
        const renames = [...news];
        before.forEach((name, item) => {
          if (item % 3 === 1) return;
          names.set(item, item % 4 === 2 && renames.length > 0 ? renames.pop()! : name);
        });
        renames.forEach((name, j) => names.set(before.length + j, name));
        const order = new CollationOrder();
        order.expect(Uint32Array.from(expected));
        for (const [item, name] of names) order.add(item, name);
        order.commit();
        const fresh = freshOrder(names);
        assertEquals([...order.order], fresh);
        fresh.forEach((item, rank) => assertEquals(order.rank(item), rank));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("an expected order in order is taken without sorting; one out of order is sorted instead", () => {
  const names = Array.from({ length: 2000 }, (_, i) => `sensor-${i}`);
  // Item i is named names[(i * 7) % 2000] (7 is prime to 2000): items and names in different orders.
  const itemOf = (rank: number) => (rank * 1143) % 2000; // 1143 = 7⁻¹ mod 2000
  const inOrder = Uint32Array.from(names, (_, rank) => itemOf(rank));
  const listed = (expected: Uint32Array, leave: Set<number> = new Set()) => {
    const order = new CollationOrder();
    order.expect(expected);
    for (let i = 0; i < 2000; i++) if (!leave.has(i)) order.add(i, names[(i * 7) % 2000]);
    order.commit();
    return { names: [...order.order].map((item) => order.name(item)), sorted: order.sortedItems };
  };
  assertEquals(listed(inOrder), { names, sorted: 0 });
  const swapped = inOrder.slice();
  [swapped[10], swapped[11]] = [swapped[11], swapped[10]];
  assertEquals(listed(swapped), { names, sorted: 2000 });
  // Two sensors new since the save: only they are sorted, and merged in.
  const saved = inOrder.filter((item) => item !== itemOf(5) && item !== itemOf(1500));
  assertEquals(listed(saved), { names, sorted: 2 });
  // Two sensors gone since: the rest is taken as it is.
  const gone = new Set([itemOf(7), itemOf(1999)]);
  assertEquals(listed(inOrder, gone), {
    names: names.filter((_, rank) => rank !== 7 && rank !== 1999),
    sorted: 0,
  });
});

Deno.test("an expected order is for the next commit into an empty order only", () => {
  const order = new CollationOrder();
  order.add(1, "b");
  order.commit();
  order.expect(Uint32Array.of(3, 2, 1)); // out of order, and the order is not empty: ignored
  order.add(2, "a");
  order.add(3, "c");
  order.commit();
  assertEquals([...order.order].map((i) => order.name(i)), ["a", "b", "c"]);
});
