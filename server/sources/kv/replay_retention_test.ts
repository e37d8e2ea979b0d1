// A dead worker's replay reads the log from the checkpoint it restored from.
// A newer checkpoint may be made current while that replay runs (its round
// closed before the shard died, its save was still waiting on its hooks), and
// the retention's compaction then goes up to the newer checkpoint's cursors:
// it must not delete chunks the replay has not read yet.
import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { withTempKv } from "../../../tests/testing/temp_kv.ts";
import { eventually, recompute, sameState } from "../../../tests/testing/recompute.ts";
import type { PlainReading } from "../../../tests/testing/recompute.ts";
import type { MetricState } from "../../../tests/testing/feed_client.ts";
import { DEFAULT_WINDOW_SPEC, ShardSet } from "../../../actors/shards/mod.ts";
import { FeedView } from "../../../actors/hub/feed_view.ts";
import { blockFromReadings } from "../../../protocol/reading_block.ts";
import { CheckpointStore, KvLog, LogRetention } from "../../store/mod.ts";
import type { LogEntry } from "../../store/mod.ts";
import { LogHousekeeper } from "../../history/log_housekeeper.ts";
import { Checkpointer } from "../checkpointer.ts";
import { LogSource } from "./log_source.ts";
import { viewValues } from "../../../tests/testing/view_values.ts";
import { openLogRestart } from "../../../tests/testing/log_restart.ts";

const SHARDS = 4;
// Longer than any sensor's readings here: a chunk missing anywhere in the log shows in the averages.
const WINDOW = 32;
const SENSORS = 40;
const RETENTION_MS = 60_000;
const CLOCK = 2_000_000_000_000;

/** Opens a round only when the test says so. */
class SteppedCheckpointer extends Checkpointer {
  open = false;
  override get due(): boolean {
    return this.open;
  }
}

async function values(shards: ShardSet): Promise<Record<string, MetricState>> {
  const view = new FeedView();
  view.apply(await shards.flushAll({ timeoutMs: 10_000 }));
  return viewValues(view);
}

/** Every sensor in every chunk, each value distinct: a shard missing a chunk shows in its values. */
function chunkReadings(n: number): PlainReading[] {
  return Array.from({ length: SENSORS }, (_, s) => {
    const i = n * SENSORS + s;
    return {
      sensorId: `s${s}`,
      group: "line/a",
      timeMs: 1_800_000_000_000 + i * 50,
      values: { t: ((i * 7919) % 1000) / 10 },
    };
  });
}

interface Scenario {
  /** Chunks before checkpoint A, between A and B, and after B's round closed (before the death). */
  before: number;
  between: number;
  after: number;
  /** Chunks listed per read: small ones make rounds span batches, so shard cursors differ. */
  batch: number;
  /** Whether B's round opens before the chunks between A and B are written (its shards then differ). */
  spanning: boolean;
  /** The shards the dead worker held (restored empty, as the supervisor does). */
  dead: number[];
  /** With worker threads, the worker hosting `dead[0]` is terminated instead. */
  workers?: number;
  /** Whether a compaction pass also runs before B is made current (the replay then holds A). */
  compactBeforeSave: boolean;
}

interface Outcome {
  /** The shards' values once the replay is done, and a recomputation from every reading written. */
  replayed: Record<string, MetricState>;
  /** The values of a second start on the file (as after kill -9) once compaction went up to B. */
  restarted: Record<string, MetricState>;
  expected: Record<string, MetricState>;
  /** Chunks compacted while the replay waited, and in all once it was done. */
  deletedDuringReplay: number;
  deletedAfter: number;
  chunks: number;
}

/**
 * Checkpoint A, then B's round closed with its save held on its hook; the
 * dead shards restore from A and their replay's first listing is held while
 * B is made current and the housekeeper compacts; then the replay goes on.
 * Last, a second start on the file restores from B and replays what follows.
 */
async function replayAcrossCompaction(
  kv: Deno.Kv,
  path: string,
  scenario: Scenario,
): Promise<Outcome> {
  const log = new KvLog(kv, { now: () => CLOCK });
  const shards = ShardSet.create({
    count: SHARDS,
    window: WINDOW,
    windowSpec: DEFAULT_WINDOW_SPEC,
    workers: scenario.workers ?? 0,
  });
  const restarted = new Set<number>(scenario.workers ? [] : scenario.dead);
  shards.onRestart((shard) => restarted.add(shard));
  const saveGate = Promise.withResolvers<void>();
  let hookCalls = 0;
  const checkpointer: SteppedCheckpointer = new SteppedCheckpointer(shards, {
    store: new CheckpointStore(kv),
    beforeCheckpoint: () => {
      // One round per opening: none opens again until the test says so.
      checkpointer.open = false;
      hookCalls++;
      return Promise.resolve({ durable: hookCalls === 2 ? saveGate.promise : Promise.resolve() });
    },
  });
  const source = new LogSource(log, shards, { checkpointer, idleMs: 20, batch: scenario.batch });
  const retention = new LogRetention(kv, { retentionMs: RETENTION_MS });
  const housekeeper = new LogHousekeeper(log, { retention, position: source, compactEvery: 1 });
  // Once armed, the next listing (the replay's first: the source is idle) waits for `readGate`.
  const read = log.read.bind(log);
  let armed = false;
  let held = 0;
  const readGate = Promise.withResolvers<void>();
  log.read = async (cursor: string | null, limit?: number): Promise<LogEntry[]> => {
    if (armed && held++ === 0) await readGate.promise;
    return await read(cursor, limit);
  };
  const replayedShards = new Set<number>();
  const markReplayed = shards.replayed.bind(shards);
  shards.replayed = (done: Iterable<number>) => {
    for (const shard of done) replayedShards.add(shard);
    markReplayed(done);
  };

  const written: PlainReading[] = [];
  let chunks = 0;
  const write = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const readings = chunkReadings(chunks++);
      written.push(...readings);
      await log.append(blockFromReadings(readings));
    }
  };
  const append = async (count: number) => {
    await write(count);
    await eventually(
      () => source.caughtUp && source.readingsRead === written.length,
      10_000,
      "the log read",
    );
  };
  await write(scenario.before);
  checkpointer.open = true;
  source.start();
  try {
    await eventually(() => checkpointer.checkpointsSaved === 1, 10_000, "checkpoint A");
    await append(0);
    // B's round spans the next chunks' reads, or opens once they are read; its save then
    // waits on the hook.
    if (scenario.spanning) checkpointer.open = true;
    await append(scenario.between);
    checkpointer.open = true;
    await eventually(() => hookCalls === 2, 10_000, "checkpoint B's round closed");
    await append(scenario.after);

    if (scenario.workers) {
      armed = true;
      shards.crashWorker(scenario.dead[0], "terminate");
    } else {
      for (const shard of scenario.dead) await shards.restore(shard, null);
      armed = true;
      for (const shard of scenario.dead) source.requestReplay(shard);
    }
    await eventually(() => held === 1, 10_000, "the replay's first listing");

    if (scenario.compactBeforeSave) {
      await housekeeper.pass(CLOCK);
      await housekeeper.pass(CLOCK + RETENTION_MS);
    }
    saveGate.resolve();
    await checkpointer.settled();
    assertEquals(checkpointer.checkpointsSaved, 2);
    await housekeeper.pass(CLOCK + 2 * RETENTION_MS);
    await housekeeper.pass(CLOCK + 3 * RETENTION_MS);
    const deletedDuringReplay = retention.deleted;

    readGate.resolve();
    await eventually(
      () => restarted.size > 0 && [...restarted].every((shard) => replayedShards.has(shard)),
      10_000,
      "the replay done",
    );
    const replayed = await values(shards);
    await housekeeper.pass(CLOCK + 4 * RETENTION_MS);
    return {
      replayed,
      restarted: await restartValues(path),
      expected: recompute(written, WINDOW),
      deletedDuringReplay,
      deletedAfter: retention.deleted,
      chunks,
    };
  } finally {
    saveGate.resolve();
    readGate.resolve();
    await source.stop();
    await shards.stop();
  }
}

/** A second start on the file while the first still runs (no stop's checkpoint: as after kill -9). */
async function restartValues(path: string): Promise<Record<string, MetricState>> {
  const { store, shards, source } = await openLogRestart(path, { shards: SHARDS, window: WINDOW });
  try {
    source.start();
    await eventually(() => source.caughtUp, 10_000, "the restart's replay");
    return await values(shards);
  } finally {
    await source.stop();
    await shards.stop();
    store.close();
  }
}

/** The shards after the replay, and a restart after compaction, both equal a recomputation. */
function assertRecomputed(outcome: Outcome): void {
  assert(
    sameState(outcome.replayed, outcome.expected),
    "the replayed shards' values equal a recomputation from every reading written",
  );
  assert(
    sameState(outcome.restarted, outcome.expected),
    "a restart from the current checkpoint after compaction equals a recomputation",
  );
}

Deno.test({
  name:
    "compaction while a dead shard replays from an older checkpoint than the current one deletes no chunk the replay still needs: the shard ends equal to a recomputation",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withTempKv(async (kv, path) => {
    // One batch per read, so A holds every shard at chunk 10 and B every shard at chunk 20.
    const outcome = await replayAcrossCompaction(kv, path, {
      before: 10,
      between: 10,
      after: 0,
      batch: 32,
      spanning: false,
      dead: [1],
      compactBeforeSave: false,
    });
    assertRecomputed(outcome);
    // Compaction went up to A while the replay read after it, and up to B once it was done.
    assertEquals(outcome.deletedDuringReplay, 10);
    assertEquals(outcome.deletedAfter, 20);
  });
});

Deno.test({
  name:
    "with --workers 2, a terminated worker's shards replayed across a checkpoint save and compaction end equal to a recomputation",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withTempKv(async (kv, path) => {
    const outcome = await replayAcrossCompaction(kv, path, {
      before: 6,
      between: 6,
      after: 2,
      batch: 2,
      spanning: true,
      dead: [1],
      workers: 2,
      compactBeforeSave: true,
    });
    assertRecomputed(outcome);
    assert(outcome.deletedDuringReplay > 0, "some chunks were compacted during the replay");
  });
});

Deno.test({
  name:
    "for any split of the log around two checkpoints, batch size and dead shards, a replay across a checkpoint save and compaction passes, and a restart after them, end equal to a recomputation",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        before: fc.integer({ min: 1, max: 8 }),
        between: fc.integer({ min: 1, max: 8 }),
        after: fc.integer({ min: 0, max: 3 }),
        batch: fc.integer({ min: 1, max: 4 }),
        spanning: fc.boolean(),
        dead: fc.uniqueArray(fc.integer({ min: 0, max: SHARDS - 1 }), {
          minLength: 1,
          maxLength: SHARDS,
        }),
        compactBeforeSave: fc.boolean(),
      }),
      async (scenario) => {
        await withTempKv(async (kv, path) => {
          const outcome = await replayAcrossCompaction(kv, path, scenario);
          assertRecomputed(outcome);
          // Not vacuous: compaction did run while the replay waited (A is past the first chunk).
          assert(outcome.deletedDuringReplay > 0, "some chunks were compacted during the replay");
          assert(outcome.deletedAfter <= outcome.chunks);
        });
      },
    ),
    { numRuns: 15 },
  );
});
