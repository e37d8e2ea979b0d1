import fc from "fast-check";
import { createHmac } from "node:crypto";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { topicLabeler } from "./topic_label.ts";

Deno.test("topic labels are opaque keyed hashes, stable per key, and * stays *", () => {
  const secret = new Uint8Array(32).fill(7);
  const label = topicLabeler(secret);
  assertEquals(label("*"), "*");
  fc.assert(
    fc.property(fc.string({ minLength: 1 }), (key) => {
      fc.pre(key !== "*");
      const expected = "t" + createHmac("sha256", secret).update(key).digest("hex").slice(0, 12);
      assertEquals(label(key), expected);
      assertEquals(label(key), label(key));
    }),
  );
  // Another process (another secret) gives other ids: guesses cannot be hashed offline.
  const key = "groups=;sensors=sensor-17;scope=plant-a";
  assert(topicLabeler()(key) !== topicLabeler()(key));
  assert(/^t[0-9a-f]{12}$/.test(topicLabeler()(key)));
});
