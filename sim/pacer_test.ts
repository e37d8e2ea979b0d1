import { assertEquals } from "../tests/assert.ts";
import { Pacer } from "./pacer.ts";

Deno.test("pacer issues exactly rate × elapsed readings however the time is sliced", () => {
  const pacer = new Pacer(10_000, 0);
  let taken = 0;
  for (let t = 0; t < 10_000; t += 7) taken += pacer.take(t, 1_000);
  taken += pacer.take(10_000, 1_000);
  assertEquals(taken, 100_000);
});

Deno.test("pacer catches up after a stall, limited per take by max", () => {
  const pacer = new Pacer(1_000, 0);
  assertEquals(pacer.take(5_000, 2_000), 2_000);
  assertEquals(pacer.take(5_000, 2_000), 2_000);
  assertEquals(pacer.take(5_000, 2_000), 1_000);
  assertEquals(pacer.take(5_000, 2_000), 0);
  assertEquals(pacer.waitMs(5_000, 10), 10);
});
