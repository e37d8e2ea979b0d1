import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { shardFor } from "./shard_for.ts";

// Reference FNV-1a over UTF-8 bytes, written independently of the product code.
function fnv1aUtf8(text: string): number {
  let hash = 2166136261n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 16777619n) % 2n ** 32n;
  }
  return Number(hash);
}

Deno.test("shardFor is FNV-1a of the id modulo the shard count, stable across calls", () => {
  for (const id of ["sensor_0", "sensor_17", "a", "plant-a/line-3", "x".repeat(128)]) {
    for (const shards of [1, 2, 16, 1024]) {
      assertEquals(shardFor(id, shards), fnv1aUtf8(id) % shards, `${id} over ${shards}`);
      assertEquals(shardFor(id, shards), shardFor(id, shards));
    }
  }
  assertEquals(fnv1aUtf8(""), 2166136261);
});

Deno.test("shardFor spreads 5,000 sensors over 16 shards within 25% of the mean", () => {
  const counts = new Array(16).fill(0);
  for (let i = 0; i < 5000; i++) counts[shardFor(`sensor_${i}`, 16)]++;
  const mean = 5000 / 16;
  for (const count of counts) {
    assert(Math.abs(count - mean) <= mean * 0.25, `shard counts ${counts}`);
  }
});
