import { assert, assertEquals } from "../../tests/testing/assert.ts";
import fc from "fast-check";
import { singleValuedQuery } from "./query_params.ts";

Deno.test("a query is refused exactly when some parameter name appears twice, naming it", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom("limit", "cursor", "group", "q", "a b", "é"), fc.string())),
      (pairs) => {
        const url = `http://x/api/sensors?${new URLSearchParams(pairs)}`;
        const names = pairs.map(([name]) => name);
        const repeated = names.find((name, i) => names.indexOf(name) !== i);
        if (repeated === undefined) {
          assertEquals([...singleValuedQuery(url)], pairs);
        } else {
          let thrown: unknown = null;
          try {
            singleValuedQuery(url);
          } catch (error) {
            thrown = error;
          }
          assert(thrown instanceof RangeError, url);
          assertEquals(thrown.message, `Query parameter ${repeated} is given more than once`);
        }
      },
    ),
  );
});
