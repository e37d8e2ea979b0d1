// A stop that comes while a dead shard's replay is under way: the replay is
// cut short, so that shard holds the log only up to where the replay got.
// The stop's final checkpoint must not save it as if it stood at the stop's
// cursor: a restart then equals a recomputation from the whole log.
import { assert } from "../../../tests/testing/assert.ts";
import { withTempKv } from "../../../tests/testing/temp_kv.ts";
import { eventually, recompute, sameState } from "../../../tests/testing/recompute.ts";
import type { PlainReading } from "../../../tests/testing/recompute.ts";
import type { MetricState } from "../../../tests/testing/feed_client.ts";
import { DEFAULT_WINDOW_SPEC, ShardSet } from "../../../actors/shards/mod.ts";
import { FeedView } from "../../../actors/hub/feed_view.ts";
import { blockFromReadings } from "../../../protocol/reading_block.ts";
import { CheckpointStore, KvLog } from "../../store/mod.ts";
import type { LogEntry } from "../../store/mod.ts";
import { Checkpointer } from "../checkpointer.ts";
import { LogSource } from "./log_source.ts";
import { viewValues } from "../../../tests/testing/view_values.ts";
import { openLogRestart } from "../../../tests/testing/log_restart.ts";

const SHARDS = 4;
const WINDOW = 5;

async function values(shards: ShardSet): Promise<Record<string, MetricState>> {
  const view = new FeedView();
  view.apply(await shards.flushAll({ timeoutMs: 10_000 }));
  return viewValues(view);
}

Deno.test({
  name:
    "a stop that cuts a dead shard's replay short saves no checkpoint claiming that shard at the stop's cursor: a restart equals a recomputation",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withTempKv(async (kv, path) => {
    // 40 sensors, every one in every chunk: a shard missing chunks shows in its last values.
    const readings: PlainReading[] = Array.from({ length: 800 }, (_, i) => ({
      sensorId: `s${i % 40}`,
      group: "line/a",
      timeMs: 1_800_000_000_000 + i * 50,
      values: { t: ((i * 7919) % 1000) / 10 },
    }));
    const log = new KvLog(kv, { now: () => 2_000_000_000_000 });
    for (let at = 0; at < readings.length; at += 40) {
      await log.append(blockFromReadings(readings.slice(at, at + 40)));
    }
    const shards = ShardSet.create({
      count: SHARDS,
      window: WINDOW,
      windowSpec: DEFAULT_WINDOW_SPEC,
    });
    const checkpointer = new Checkpointer(shards, {
      store: new CheckpointStore(kv),
      everyMs: 3_600_000,
    });
    const source = new LogSource(log, shards, { checkpointer, idleMs: 20, batch: 1 });
    // The replay's third read waits until the stop has begun (its drain of 0 ms is over).
    const read = log.read.bind(log);
    let armed = false;
    let replayReads = 0;
    const gate = Promise.withResolvers<void>();
    log.read = async (cursor: string | null, limit?: number): Promise<LogEntry[]> => {
      if (armed && ++replayReads === 3) await gate.promise;
      return await read(cursor, limit);
    };
    source.start();
    try {
      await eventually(
        () => source.caughtUp && source.readingsRead === readings.length,
        10_000,
        "the log read",
      );
      // Shard 1 loses its state, as when its worker dies, and asks for its replay.
      armed = true;
      await shards.restore(1, null);
      source.requestReplay(1);
      await eventually(() => replayReads >= 3, 10_000, "the replay under way");
      const stopping = source.stop({ drainMs: 0 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      gate.resolve();
      await stopping;
    } finally {
      gate.resolve();
      await shards.stop();
    }

    const { store, shards: second, source: restarted } = await openLogRestart(path, {
      shards: SHARDS,
      window: WINDOW,
    });
    try {
      restarted.start();
      await eventually(() => restarted.caughtUp, 10_000, "the restart's replay");
      assert(
        sameState(await values(second), recompute(readings, WINDOW)),
        "values after the restart equal a recomputation from the log",
      );
    } finally {
      await restarted.stop();
      await second.stop();
      store.close();
    }
  });
});
