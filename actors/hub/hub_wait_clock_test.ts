// The hub's run-queue wait per tick, read from an injected clock as the CPU time is.
import { assertEquals } from "../../tests/testing/assert.ts";
import { Hub } from "./hub_actor.ts";
import type { HubStartOptions } from "./hub_actor.ts";
import { ShardSet } from "../shards/shard_set.ts";
import { DEFAULT_WINDOW_SPEC } from "../shards/event_window_store.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";

function harness(options: HubStartOptions = {}) {
  const shards = ShardSet.create({ count: 2, window: 5, windowSpec: DEFAULT_WINDOW_SPEC });
  let now = 1_767_225_600_000;
  const hub = new Hub(shards, { pingIntervalMs: 1e9, now: () => now, ...options });
  const feed = (n: number, t: number) =>
    shards.deliver(blockFromReadings(
      Array.from({ length: n }, (_, i) => ({
        sensorId: `s${i}`,
        group: "g",
        timeMs: now + i,
        values: { t: t + i },
      })),
    ));
  const tick = async () => {
    now += 100;
    await hub.tick();
  };
  const stop = async () => {
    await hub.stop();
    await shards.stop();
  };
  return { hub, feed, tick, stop };
}

Deno.test("with a run-queue clock the tick's wait is recorded (its two readings' difference); without one it stays null", async () => {
  const plain = harness();
  try {
    await plain.feed(10, 0);
    await plain.tick();
    assertEquals(plain.hub.stats.lastMergeWaitMs, null);
  } finally {
    await plain.stop();
  }
  // A fake clock that advances by a different step at each reading, so a
  // difference of any other pair of readings would not match.
  let wait = 0;
  let step = 0;
  const readings: number[] = [];
  const h = harness({ waitNow: () => (readings.push(wait += ++step * 0.5), wait) });
  try {
    for (let i = 0; i < 3; i++) {
      await h.feed(10, i * 100);
      const before = readings.length;
      await h.tick();
      assertEquals(readings.length - before, 2, "two readings a tick");
      const [start, end] = readings.slice(-2);
      assertEquals(h.hub.stats.lastMergeWaitMs, end - start);
    }
  } finally {
    await h.stop();
  }
});
