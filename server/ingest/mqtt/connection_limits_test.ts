import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { ConnectionLimits } from "./connection_limits.ts";
import { RateBucket } from "./rate_bucket.ts";

const options = {
  maxConnections: 10,
  maxConnectionsPerAddress: 3,
  maxConnectionsPerKey: 4,
  connectRate: 2,
  publishRate: 100,
};

Deno.test("connections are capped in all, per address and per key; a release frees the slot", () => {
  const limits = new ConnectionLimits(options);
  const at = 0;
  assertEquals([1, 2, 3, 4].map(() => limits.admitAddress("a", at)), [
    "ok",
    "ok",
    "ok",
    "over_address",
  ]);
  limits.releaseAddress("a");
  assertEquals(limits.admitAddress("a", at), "ok");
  for (const address of ["b", "c", "d"]) {
    for (let i = 0; i < 3; i++) limits.admitAddress(address, at);
  }
  // 3 + 3 × 3 would be 12: the total stops at 10.
  assertEquals(limits.open, 10);
  assertEquals(limits.admitAddress("e", at), "over_connections");
  assertEquals([1, 2, 3, 4, 5].map(() => limits.admitKey("k", at)), [
    true,
    true,
    true,
    true,
    false,
  ]);
  limits.releaseKey("k");
  assertEquals(limits.admitKey("k", at), true);
});

Deno.test("connection attempts per address follow the connect rate: a 5 s burst, then the rate", () => {
  const limits = new ConnectionLimits({ ...options, maxConnectionsPerAddress: 1000 });
  let admitted = 0;
  for (let i = 0; i < 50; i++) if (limits.admitAddress("a", 0) === "ok") admitted++;
  assertEquals(admitted, 10); // 2/s × 5 s
  // Reconnecting does not reset it: releasing every connection keeps the bucket.
  for (let i = 0; i < admitted; i++) limits.releaseAddress("a");
  limits.sweep(0);
  assertEquals(limits.admitAddress("a", 0), "over_address");
  assertEquals(limits.admitAddress("a", 500), "ok");
  // Once idle and full again it is forgotten.
  limits.releaseAddress("a");
  limits.sweep(60_000);
  assertEquals(limits.tracked, 0);
});

Deno.test("a token bucket in debt serves waiting callers in order at exactly its rate", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 200 }), (rate, n) => {
      const bucket = new RateBucket({ capacity: rate, perSecond: rate }, 0);
      const waits = Array.from({ length: rate + n }, () => bucket.reserve(0));
      // The burst goes at once; caller k past it waits k / rate seconds (rounded up to a ms).
      for (let k = 0; k < rate; k++) assertEquals(waits[k], 0);
      for (let k = 1; k <= n; k++) {
        assertEquals(waits[rate + k - 1], Math.ceil((k * 1000) / rate - 1e-6));
      }
    }),
  );
});
