import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { SlotIndex } from "./slot_index.ts";

Deno.test("the slot index answers like a Map under any sequence of sets and deletes, at any direct width", () => {
  // Few distinct keys, so sets, overwrites and deletes of the same key collide often.
  const key = fc.tuple(
    fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(0x7fffffff, 100_000, 65_536)),
    fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(0x7fffffff, 1023)),
  );
  const op = fc.oneof(
    fc.tuple(fc.constant("set" as const), key, fc.integer({ min: 0, max: 0x7fffffff })),
    fc.tuple(fc.constant("claim" as const), key, fc.integer({ min: 0, max: 0x7fffffff })),
    fc.tuple(fc.constant("delete" as const), key, fc.constant(0)),
    fc.tuple(fc.constant("reserve" as const), key, fc.constant(0)),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), fc.constantFrom(1, 2, 8, 32), (ops, width) => {
      const index = new SlotIndex(4, { directWidth: width }); // small: it grows along the way
      const model = new Map<string, number>();
      for (const [kind, [a, b], value] of ops) {
        if (kind === "set") {
          index.set(a, b, value);
          model.set(`${a},${b}`, value);
        } else if (kind === "claim") {
          const held = model.get(`${a},${b}`);
          assertEquals(index.claim(a, b, value), held ?? -1);
          if (held === undefined) model.set(`${a},${b}`, value);
        } else if (kind === "reserve") index.reserve(Math.min(a, 100_000));
        else assertEquals(index.delete(a, b), model.delete(`${a},${b}`));
        assertEquals(index.size, model.size);
      }
      for (const [, [a, b]] of ops) assertEquals(index.get(a, b), model.get(`${a},${b}`) ?? -1);
    }),
    { numRuns: 500 },
  );
});

Deno.test("the slot index holds 300,000 pairs and forgets the deleted ones", () => {
  const index = new SlotIndex();
  for (let s = 0; s < 100_000; s++) for (let m = 0; m < 3; m++) index.set(s, m, s * 3 + m);
  for (let s = 0; s < 100_000; s += 2) index.delete(s, 1);
  assertEquals(index.size, 250_000);
  let wrong = 0;
  for (let s = 0; s < 100_000; s++) {
    for (let m = 0; m < 3; m++) {
      const expected = m === 1 && s % 2 === 0 ? -1 : s * 3 + m;
      if (index.get(s, m) !== expected) wrong++;
    }
  }
  assertEquals(wrong, 0);
});

Deno.test("claimAll gives each pair its held value, or the next new one in order, as claims one by one would", () => {
  const key = fc.tuple(
    fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(100_000, 0x7fffffff)),
    fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constantFrom(1023)),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(key, fc.nat(1000)), { maxLength: 30 }),
      fc.array(key, { maxLength: 80 }),
      fc.constantFrom(1, 8, 32),
      (before, batch, width) => {
        const index = new SlotIndex(4, { directWidth: width });
        const model = new Map<string, number>();
        for (const [[a, b], value] of before) {
          index.set(a, b, value);
          model.set(`${a},${b}`, value);
        }
        let next = 5000;
        const expected = batch.map(([a, b]) => {
          const held = model.get(`${a},${b}`);
          if (held !== undefined) return held;
          model.set(`${a},${b}`, next);
          return next++;
        });
        const into = new Int32Array(batch.length);
        const after = index.claimAll(
          Uint32Array.from(batch, ([a]) => a),
          Int32Array.from(batch, ([, b]) => b),
          { into, next: 5000 },
        );
        assertEquals([...into], expected);
        assertEquals(after, next);
        assertEquals(index.size, model.size);
        for (const [k, v] of model) {
          const [a, b] = k.split(",").map(Number);
          assertEquals(index.get(a, b), v, k);
        }
      },
    ),
    { numRuns: 500 },
  );
});
