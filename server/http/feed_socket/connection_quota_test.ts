import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { ConnectionQuota } from "./connection_quota.ts";

Deno.test("a connection quota admits at most its limit per key, and forgets keys with none open", () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 4 }),
    fc.array(fc.tuple(fc.boolean(), fc.constantFrom("a", "b", "c")), { maxLength: 60 }),
    (limit, steps) => {
      const quota = new ConnectionQuota(limit);
      const open = new Map<string, number>(); // the model
      for (const [take, key] of steps) {
        const now = open.get(key) ?? 0;
        if (take) {
          assertEquals(quota.take(key), now < limit);
          if (now < limit) open.set(key, now + 1);
        } else if (now > 0) {
          quota.give(key);
          if (now === 1) open.delete(key);
          else open.set(key, now - 1);
        }
        assertEquals(quota.count(key), open.get(key) ?? 0);
        assertEquals(quota.keys, open.size);
      }
    },
  ));
});
