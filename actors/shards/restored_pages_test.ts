// A shard restored and replayed (its worker died) before this process asked
// any checkpoint: its pages count as saved by no generation, so the next
// checkpoint must take every page of it, not only those changed since the
// generation the process started from (none would count as changed).
import { assert } from "../../tests/testing/assert.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";
import { eventually, recompute, sameState } from "../../tests/testing/recompute.ts";
import type { PlainReading } from "../../tests/testing/recompute.ts";
import type { MetricState } from "../../tests/testing/feed_client.ts";
import { ShardSet } from "./mod.ts";
import { FeedView } from "../hub/feed_view.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { KvLog } from "../../server/store/mod.ts";
import type { LogSource } from "../../server/sources/kv/log_source.ts";
import { viewValues } from "../../tests/testing/view_values.ts";
import { openLogRestart } from "../../tests/testing/log_restart.ts";

const SHARDS = 4;
const WINDOW = 5;

async function values(shards: ShardSet): Promise<Record<string, MetricState>> {
  const view = new FeedView();
  // Everything each shard holds (a flush tells only what changed since the last one).
  view.apply(await shards.stateAll({ timeoutMs: 10_000 }));
  return viewValues(view);
}

/** One process on the file, as the server starts: `during` runs once the log is read. */
async function run(
  path: string,
  workers: number,
  during?: (shards: ShardSet, source: LogSource) => Promise<void>,
): Promise<void> {
  const { store, shards, source } = await openLogRestart(path, {
    shards: SHARDS,
    window: WINDOW,
    workers,
  });
  try {
    source.start();
    await eventually(() => source.caughtUp, 10_000, "the log read");
    await during?.(shards, source);
  } finally {
    await source.stop();
    await shards.stop();
    store.close();
  }
}

for (const workers of [0, 2]) {
  Deno.test({
    name:
      `a shard restored and replayed before the process's first checkpoint is saved whole by it: a restart equals a recomputation (--workers ${workers})`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    await withTempKv(async (kv, path) => {
      // 40 sensors, each in every part: a shard's pages change with every part.
      const part = (n: number): PlainReading[] =>
        Array.from({ length: 400 }, (_, i) => ({
          sensorId: `s${i % 40}`,
          group: "line/a",
          timeMs: 1_800_000_000_000 + n * 100_000 + i * 10,
          values: { t: ((i * 31 + n * 7) % 101) / 4 },
        }));
      const log = new KvLog(kv, { now: () => 2_000_000_000_000 });
      const append = async (readings: PlainReading[]) => {
        for (let at = 0; at < readings.length; at += 40) {
          await log.append(blockFromReadings(readings.slice(at, at + 40)));
        }
      };
      // Two processes: the stored checkpoint's generation is past 0.
      await append(part(0));
      await run(path, workers);
      await append(part(1));
      await run(path, workers);
      const last = part(2);
      await run(path, workers, async (shards, source) => {
        // Shard 1 is restarted empty and replayed from the stored checkpoint, before any round.
        if (workers > 0) shards.crashWorker(1);
        else {
          await shards.restore(1, null);
          source.requestReplay(1);
        }
        await eventually(
          async () => sameState(await values(shards), recompute([...part(0), ...part(1)], WINDOW)),
          10_000,
          "the replay",
        );
        // More readings, then the stop's checkpoint.
        for (let at = 0; at < last.length; at += 40) {
          await source.log.append(blockFromReadings(last.slice(at, at + 40)));
        }
        await eventually(() => source.readingsRead >= last.length, 10_000, "the last part");
      });
      await run(path, workers, async (shards) => {
        assert(
          sameState(await values(shards), recompute([...part(0), ...part(1), ...last], WINDOW)),
          "values after the restart equal a recomputation",
        );
      });
    });
  });
}
