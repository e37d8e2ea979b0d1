import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { TopicCache, topicEntryBytes } from "./topic_cache.ts";

const target = (sensorId: string) => ({ group: "g", sensorId });

Deno.test("the topic cache stays within its bytes, oldest entries first, whatever the topics' length", () => {
  const short = "pulseboard/g/s-0000";
  const cache = new TopicCache({ maxBytes: 10 * topicEntryBytes(short) });
  for (let i = 0; i < 25; i++) {
    cache.set(`pulseboard/g/s-${String(i).padStart(4, "0")}`, target(`${i}`));
  }
  assertEquals(cache.size, 10);
  assertEquals(cache.bytes, 10 * topicEntryBytes(short));
  assertEquals(cache.get("pulseboard/g/s-0014"), undefined);
  assertEquals(cache.get("pulseboard/g/s-0015"), target("15"));
  assertEquals(cache.get("pulseboard/g/s-0024"), target("24"));
  // A long topic pushes out as many short ones as its bytes need.
  const long = `pulseboard/g/${"x".repeat(40)}`;
  cache.set(long, target("x"));
  assertEquals(cache.get(long), target("x"));
  assert(cache.bytes <= 10 * topicEntryBytes(short));
  // One over the whole budget is not kept at all.
  cache.set(`pulseboard/g/${"y".repeat(1000)}`, target("y"));
  assertEquals(cache.get(`pulseboard/g/${"y".repeat(1000)}`), undefined);
  // The same topic again is not charged twice.
  const before = cache.bytes;
  cache.set(long, target("x"));
  assertEquals(cache.bytes, before);
});
