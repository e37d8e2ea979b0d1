import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { defaultMaxClients } from "./client_limit.ts";

const MiB = 1 << 20;

Deno.test("the default client bound is half of memory over a stalled client's worst, within 64..100,000", () => {
  // 8 GiB, 1 MiB buffered: 4 GiB over 1 MiB each.
  assertEquals(defaultMaxClients(8 * 1024 * MiB, MiB), 4096);
  // This machine's class (24 GiB) takes the 10,000 dashboards issue 11 asks for.
  assert(defaultMaxClients(24 * 1024 * MiB, MiB) >= 10_000);
  assertEquals(defaultMaxClients(64 * MiB, MiB), 64);
  assertEquals(defaultMaxClients(1024 * 1024 * MiB, MiB), 100_000);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 4096, max: 1 << 30 }),
      (memory, buffered) => {
        const n = defaultMaxClients(memory, buffered);
        const worst = (clients: number) => clients * buffered;
        // The most clients whose worst case fits half of memory, unless clamped.
        if (n > 64) assert(worst(n) <= memory / 2, `${n} clients fit`);
        if (n < 100_000) assert(worst(n + 1) > memory / 2 || n === 64, `${n + 1} do not`);
        assert(n >= 64 && n <= 100_000);
      },
    ),
  );
});
