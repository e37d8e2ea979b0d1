import { assertEquals } from "../../tests/testing/assert.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";
import { CheckpointStore } from "./checkpoint_store.ts";
import { Router } from "../../actors/shards/router.ts";
import { ShardBehavior } from "../../actors/shards/shard.ts";
import type { ShardChanges, ShardCheckpoint } from "../../actors/shards/shard_messages.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";

function ask<T>(shard: ShardBehavior, type: "flush" | "checkpoint"): T {
  let answer: T | null = null;
  shard.receive({ type, reply: (a: unknown) => (answer = a as T) } as never);
  return answer!;
}

Deno.test("a checkpoint saved to and loaded from Deno KV keeps every sensor's status", async () => {
  await withTempKv(async (kv) => {
    const router = new Router(1);
    const shard = new ShardBehavior({ window: 4 });
    shard.receive(
      router.split(blockFromReadings([
        { sensorId: "a", timeMs: 10, status: "ok", values: { t: 1 } },
        { sensorId: "a", timeMs: 5, status: "old", values: { t: 2 } }, // older event time: ignored
        { sensorId: "b", timeMs: 10, status: "warn", values: { t: 3 } },
        { sensorId: "b", timeMs: 10, status: "fault", values: { t: 4 } }, // tie: later arrival wins
        { sensorId: "c", timeMs: 10, values: { t: 5 } }, // never had a status
      ]))[0]!,
    );
    ask<ShardChanges>(shard, "flush");
    const store = new CheckpointStore(kv);
    await store.save({
      cursor: "c1",
      router: router.save(),
      shards: [ask<ShardCheckpoint>(shard, "checkpoint")],
    });
    const loaded = (await store.load<ShardCheckpoint>())!;
    const restored = new ShardBehavior({ window: 4, state: loaded.shards[0] });
    const statuses = ask<ShardChanges>(restored, "flush").statuses.sort();
    // Indexes are the router's: a = 0, b = 1.
    assertEquals(statuses, [[0, "ok"], [1, "fault"]]);
  });
});

Deno.test("a checkpoint stored before statuses were saved still loads, with no statuses", async () => {
  await withTempKv(async (kv) => {
    // The layout older servers wrote: u32 header length, header JSON without
    // `statuses`, padding to 8 bytes, then the window numbers (none here).
    const header = new TextEncoder().encode(JSON.stringify({
      cursor: "c0",
      source: "log",
      router: { sensors: ["a"], metrics: ["t"] },
      shards: [{
        window: 50,
        sensors: [[0, "a", "default"]],
        metrics: [[0, "t"]],
        numbers: 0,
        events: {
          spec: { sizesMs: [1000], graceMs: 5000 },
          slotLength: 8,
          newestMs: null,
          lateDropped: 0,
          late: [],
        },
      }],
    }));
    const bytes = new Uint8Array((4 + header.byteLength + 7) & ~7);
    new DataView(bytes.buffer).setUint32(0, header.byteLength, true);
    bytes.set(header, 4);
    await kv.set(["checkpoint_pieces", "g0", 0], bytes);
    await kv.set(["checkpoint", "current"], {
      generation: "g0",
      pieces: 1,
      bytes: bytes.byteLength,
      cursor: "c0",
      savedAt: 0,
    });
    const loaded = (await new CheckpointStore(kv).load<ShardCheckpoint>())!;
    assertEquals(loaded.cursor, "c0");
    // The store keeps fields as they were; the shard restores a missing list as empty.
    const restored = new ShardBehavior({
      window: 50,
      windowSpec: { sizesMs: [1000], graceMs: 5000 },
      state: loaded.shards[0],
    });
    assertEquals(ask<ShardChanges>(restored, "flush").statuses, []);
    assertEquals(loaded.shards[0].sensors, [[0, "a", "default"]]);
  });
});
