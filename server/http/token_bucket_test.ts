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
