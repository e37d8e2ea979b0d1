// The router's id pages are reused from the stored checkpoint only when the
// router continues it. After a start whose shards did not take the stored
// checkpoint (another shape: the log is read again from what retention
// kept), the router gives ids again in a new order, in the same epoch 0 as
// a router that never started over: the stored pages must not stand for it.
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";
import { eventually, recompute, sameState } from "../../tests/testing/recompute.ts";
import type { PlainReading } from "../../tests/testing/recompute.ts";
import type { MetricState } from "../../tests/testing/feed_client.ts";
import { ShardSet } from "../../actors/shards/mod.ts";
import type { ShardImage } from "../../actors/shards/mod.ts";
import { FeedView } from "../../actors/hub/feed_view.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { KvLog, LogRetention, openStore } from "./mod.ts";
import { viewValues } from "../../tests/testing/view_values.ts";
import { openLogRestart } from "../../tests/testing/log_restart.ts";

const SHARDS = 4;

/** One process on the file: it starts from the checkpoint if it fits, reads the log, stops. */
async function run(
  path: string,
  window: number,
  check?: (shards: ShardSet, restored: boolean) => Promise<void>,
): Promise<void> {
  const { store, shards, source } = await openLogRestart(path, { shards: SHARDS, window });
  try {
    source.start();
    await eventually(() => source.caughtUp, 10_000, "the log read");
    await check?.(shards, shards.restored);
  } finally {
    await source.stop();
    await shards.stop();
    store.close();
  }
}

async function values(shards: ShardSet): Promise<Record<string, MetricState>> {
  const view = new FeedView();
  view.apply(await shards.flushAll({ timeoutMs: 10_000 }));
  return viewValues(view);
}

Deno.test({
  name:
    "a checkpoint saved after a start that did not take the stored one (another shape, the log's start compacted) holds the router ids in the order it gave them, and restores to a recomputation",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withTempKv(async (kv, path) => {
    // More than one router page (4,096 ids) of sensors, first in one order, then in reverse.
    const sensors = Array.from({ length: 4_300 }, (_, i) => `s${i}`);
    const reading = (id: string, i: number, base: number): PlainReading => ({
      sensorId: id,
      group: "line/a",
      timeMs: base + i,
      values: { t: (i % 97) / 4 },
    });
    const first = sensors.map((id, i) => reading(id, i, 1_800_000_000_000));
    const second = [...sensors].reverse().map((id, i) => reading(id, i, 1_800_000_100_000));
    const log = new KvLog(kv, { now: () => 2_000_000_000_000 });
    for (let at = 0; at < first.length; at += 500) {
      await log.append(blockFromReadings(first.slice(at, at + 500)));
    }
    // A process with --window 5 reads it all and checkpoints at its stop.
    await run(path, 5);
    // Retention compacts the first readings away; the fleet reports again, in another order.
    const firstEnd = (await log.read(null, 1_000)).at(-1)!.cursor;
    const retention = new LogRetention(kv, { retentionMs: 5 });
    await retention.mark(1_000, firstEnd);
    await retention.compact(1_010, firstEnd);
    assertEquals((await log.read(null, 1_000)).length, 0, "the first readings were compacted");
    for (let at = 0; at < second.length; at += 500) {
      await log.append(blockFromReadings(second.slice(at, at + 500)));
    }
    // --window 7: the checkpoint does not fit; the log left is read from its start.
    await run(
      path,
      7,
      (_, restored) => Promise.resolve(assert(!restored, "another shape: not restored")),
    );
    // Again with --window 7: the stop's checkpoint is taken, and equals what the log holds.
    const store = await openStore<ShardImage>(path, { source: "log" });
    const ids = store.checkpoint?.router.sensors;
    store.close();
    assertEquals(ids, [...sensors].reverse(), "the router's ids in the order the log gave them");
    await run(path, 7, async (shards, restored) => {
      assert(restored, "the checkpoint was taken");
      assert(sameState(await values(shards), recompute(second, 7)), "values equal a recomputation");
    });
  });
});
