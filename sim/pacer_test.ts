import { assert, assertEquals } from "../tests/testing/assert.ts";
import { Pacer } from "./pacer.ts";

Deno.test("pacer issues exactly rate × elapsed readings however the time is sliced", () => {
  for (const [rate, slice] of [[10_000, 7], [333, 13], [250_000, 1.5]]) {
    const pacer = new Pacer(rate, 1_000);
    let taken = 0;
    for (let t = 1_000; t < 11_000; t += slice) taken += pacer.take(t, 1_000_000);
    taken += pacer.take(11_000, 1_000_000);
    assertEquals(taken, Math.floor(rate * 10), `rate ${rate}`);
  }
});

Deno.test("pacer catches up after a stall, limited per take by max", () => {
  const pacer = new Pacer(1_000, 0);
  assertEquals(pacer.take(5_000, 2_000), 2_000);
  assertEquals(pacer.take(5_000, 2_000), 2_000);
  assertEquals(pacer.take(5_000, 2_000), 1_000);
  assertEquals(pacer.take(5_000, 2_000), 0);
  assertEquals(pacer.waitMs(5_000, 10), 10);
});

Deno.test("pacer holds a batch until it is full or its oldest reading has lingered", () => {
  const pacer = new Pacer(1_000, 0); // one reading per ms
  assert(!pacer.ready(0, 100, 50), "nothing due at the start");
  assertEquals(pacer.readyInMs(0, 100, 50), 51); // reading 0 is due at 1 ms, lingered at 51
  assert(!pacer.ready(50, 100, 50));
  assert(pacer.ready(51, 100, 50), "the oldest waited 50 ms");
  assertEquals(pacer.take(51, 100), 51);
  // With a long linger the batch goes when it is full: reading 150 is due at 151 ms.
  assertEquals(pacer.readyInMs(60, 100, 1_000), 91);
  assert(!pacer.ready(150, 100, 1_000));
  assert(pacer.ready(151, 100, 1_000));
});

Deno.test("pacer skips readings due longer ago than the backlog allows", () => {
  const pacer = new Pacer(1_000, 0);
  assertEquals(pacer.take(100, 1_000), 100);
  // Stalled until 5 s: keep the last second's readings, skip the rest.
  assertEquals(pacer.skipStale(5_000, 1_000), 3_900);
  assertEquals(pacer.due(5_000), 1_000);
  assertEquals(pacer.skipStale(5_000, 1_000), 0);
  assertEquals(pacer.issued + pacer.due(5_000), 5_000, "taken + skipped + due = rate × elapsed");
});
