// A dead worker's shards are replayed even when reading the checkpoint fails
// once (a save may replace it while it is read): the source tries again
// instead of dropping them from its list.
import { assertEquals } from "../../../tests/testing/assert.ts";
import { withTempKv } from "../../../tests/testing/temp_kv.ts";
import { eventually, recompute, sameState } from "../../../tests/testing/recompute.ts";
import type { PlainReading } from "../../../tests/testing/recompute.ts";
import type { MetricState } from "../../../tests/testing/feed_client.ts";
import { DEFAULT_WINDOW_SPEC, ShardSet } from "../../../actors/shards/mod.ts";
import { FeedView } from "../../../actors/hub/feed_view.ts";
import { blockFromReadings } from "../../../protocol/reading_block.ts";
import { CheckpointStore, KvLog } from "../../store/mod.ts";
import type { Checkpoint, StoredShard } from "../../store/mod.ts";
import { Checkpointer } from "../checkpointer.ts";
import { LogSource } from "./log_source.ts";
import { viewValues } from "../../../tests/testing/view_values.ts";

const SHARDS = 4;
const WINDOW = 5;

/** Fails the first `failures` loads, as a load racing a save that deleted its pieces does. */
class FlakyCheckpointer extends Checkpointer {
  loads = 0;
  failures = 1;
  override saved<S extends StoredShard>(
    options: { shards?: readonly number[] } = {},
  ): Promise<Checkpoint<S> | null> {
    if (this.loads++ < this.failures) {
      return Promise.reject(new Error("Cannot load checkpoint: a piece is missing"));
    }
    return super.saved<S>(options);
  }
}

async function values(shards: ShardSet): Promise<Record<string, MetricState>> {
  const view = new FeedView();
  view.apply(await shards.flushAll({ timeoutMs: 10_000 }));
  return viewValues(view);
}

Deno.test({
  name:
    "a replay whose checkpoint read fails once is tried again: the emptied shard ends equal to a recomputation from the log",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withTempKv(async (kv) => {
    const readings: PlainReading[] = Array.from({ length: 600 }, (_, i) => ({
      sensorId: `s${(i * 7) % 40}`,
      group: "line/a",
      timeMs: 1_800_000_000_000 + i * 50,
      values: { t: (i % 13) + 0.25 },
    }));
    const log = new KvLog(kv, { now: () => 2_000_000_000_000 });
    for (let at = 0; at < readings.length; at += 50) {
      await log.append(blockFromReadings(readings.slice(at, at + 50)));
    }
    const shards = ShardSet.create({
      count: SHARDS,
      window: WINDOW,
      windowSpec: DEFAULT_WINDOW_SPEC,
    });
    const checkpointer = new FlakyCheckpointer(shards, {
      store: new CheckpointStore(kv),
      everyMs: 3_600_000,
    });
    const errors: Error[] = [];
    const source = new LogSource(log, shards, {
      checkpointer,
      idleMs: 20,
      onError: (error) => errors.push(error),
    });
    source.start();
    try {
      await eventually(
        () => source.caughtUp && source.readingsRead === 600,
        10_000,
        "the log read",
      );
      // Shard 1 loses its state, as when its worker dies, and asks for its replay.
      await shards.restore(1, null);
      source.requestReplay(1);
      await eventually(() => checkpointer.loads >= 2, 10_000, "a second load");
      await eventually(
        async () => sameState(await values(shards), recompute(readings, WINDOW)),
        10_000,
        "the replayed state",
      );
      assertEquals(errors.map((e) => e.message), ["Cannot load checkpoint: a piece is missing"]);
    } finally {
      await source.stop();
      await shards.stop();
    }
  });
});
