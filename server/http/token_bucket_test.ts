import { assertEquals } from "../../tests/testing/assert.ts";
import { TokenBucket } from "./token_bucket.ts";

Deno.test("token bucket allows a burst of its capacity, then its refill rate", () => {
  const bucket = new TokenBucket({ capacity: 5, perSecond: 10 }, 0);
  const burst = Array.from({ length: 7 }, () => bucket.take(0));
  assertEquals(burst, [true, true, true, true, true, false, false]);
  assertEquals(bucket.take(99), false, "not yet a whole token after 99 ms");
  assertEquals(bucket.take(100), true, "one token per 100 ms");
  let allowed = 0;
  for (let t = 100; t <= 10_100; t += 10) if (bucket.take(t)) allowed++;
  assertEquals(allowed, 100, "10 per second over 10 s");
});

Deno.test("a cost takes that many tokens; msUntil says when they are back", () => {
  const bucket = new TokenBucket({ capacity: 100, perSecond: 50 }, 0);
  assertEquals(bucket.take(0, 80), true);
  assertEquals(bucket.has(0, 21), false);
  assertEquals(bucket.take(0, 21), false, "nothing taken when short");
  assertEquals(bucket.msUntil(0, 60), 800, "40 more at 50 a second");
  assertEquals(bucket.take(799, 60), false);
  assertEquals(bucket.take(800, 60), true);
  assertEquals(bucket.msUntil(800, 500), 2_000, "a cost over the capacity waits for a full bucket");
  assertEquals(bucket.take(500, 1), false, "a clock stepping back refills nothing");
});
