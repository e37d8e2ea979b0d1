// Checkpoint rounds on a real Deno KV file: the shards are asked one by one
// while the log is delivered between the asks, so each stands at its own
// cursor; a restart without a clean stop restores each shard and replays the
// log to it from its own cursor, and retention keeps what the least needs.
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { withTempKv } from "../../../tests/testing/temp_kv.ts";
import {
  eventually,
  recompute,
  recomputeStatus,
  recomputeWindows,
  sameState,
} from "../../../tests/testing/recompute.ts";
import type { PlainReading } from "../../../tests/testing/recompute.ts";
import { DEFAULT_WINDOW_SPEC, shardFor, ShardSet } from "../../../actors/shards/mod.ts";
import { FeedView } from "../../../actors/hub/feed_view.ts";
import { blockFromReadings } from "../../../protocol/reading_block.ts";
import { CheckpointStore, KEYS, KvLog, LogRetention } from "../../store/mod.ts";
import type { LogEntry } from "../../store/mod.ts";
import { LogHousekeeper } from "../../history/log_housekeeper.ts";
import { Checkpointer } from "../checkpointer.ts";
import { viewValues } from "../../../tests/testing/view_values.ts";
import { openLogRestart } from "../../../tests/testing/log_restart.ts";

const SHARDS = 4;
const WINDOW = 7;
const CHUNK = 60;

/** A fleet's readings in log order: some late, some with a status. */
function fleet(seed: number, count: number, sensors = 50): PlainReading[] {
  let x = seed >>> 0;
  const next = () => (x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, (_, i): PlainReading => ({
    sensorId: `s${Math.floor(next() * sensors)}`,
    group: "line/a",
    timeMs: 1_800_000_000_000 + i * 37 - (next() < 0.1 ? Math.floor(next() * 12_000) : 0),
    values: { t: Math.round(next() * 1e4) / 100, h: Math.round(next() * 1e4) / 100 },
    status: ["", "ok", "warn"][Math.floor(next() * 3)],
  }));
}

/**
 * A log whose clock is past the fleet's times, as if written then (the
 * watermark does not pass a chunk's acceptance time).
 */
function logOf(kv: Deno.Kv): KvLog {
  return new KvLog(kv, { now: () => 2_000_000_000_000 });
}

/** Appends the readings one chunk of `CHUNK` at a time. */
async function appendAll(log: KvLog, readings: PlainReading[]): Promise<void> {
  for (let at = 0; at < readings.length; at += CHUNK) {
    await log.append(blockFromReadings(readings.slice(at, at + CHUNK)));
  }
}

async function listAll(kv: Deno.Kv): Promise<LogEntry[]> {
  return await new KvLog(kv).read(null, 1_000);
}

/**
 * A round as the log source runs one: it asks shard k at the cursor of the
 * chunks delivered so far, then `gap` more chunks go to every shard before
 * shard k + 1 is asked (none after the last). Returns the cursor each shard
 * was asked at, and the index of the next chunk to deliver.
 */
async function roundWithDeliveries(
  checkpointer: Checkpointer,
  shards: ShardSet,
  entries: LogEntry[],
  options: { from: number; gap: number; shards?: number },
): Promise<{ asked: string[]; next: number }> {
  let at = options.from;
  const asked: string[] = [];
  for (let k = 0; k < (options.shards ?? SHARDS); k++) {
    const cursor = entries[at - 1].cursor;
    const written = Promise.withResolvers<void>();
    await checkpointer.step(cursor, () => cursor, { wake: written.resolve });
    asked.push(cursor);
    await written.promise;
    if (k === (options.shards ?? SHARDS) - 1) break;
    await shards.deliver(entries.slice(at, at + options.gap).map((entry) => entry.block));
    at += options.gap;
  }
  return { asked, next: at };
}

/** The values and statuses the shards' flushes tell, as a fresh hub would see them. */
async function fleetState(shards: ShardSet) {
  const view = new FeedView();
  view.apply(await shards.flushAll({ timeoutMs: 10_000 }));
  view.apply(await shards.flushAll({ timeoutMs: 10_000 }));
  const values = viewValues(view);
  const snapshot = view.snapshot();
  const ids = new Map(snapshot.sensors.map((s) => [s.index, s.id]));
  const statuses = new Map(snapshot.sensors.map((s) => [s.id, view.status(s.index)]));
  // A reading given twice (or not at all) shows here: a window of values does not see a
  // suffix of the log given again.
  const late = new Map(view.lateCounts().map(([index, n]) => [ids.get(index)!, n]));
  return { values, statuses, late };
}

/** The restart path of the server: the store opened on the file, shards restored, the source made. */
function restart(path: string, workers: number, checkpointEveryMs = 60_000) {
  return openLogRestart(path, { shards: SHARDS, window: WINDOW, workers, checkpointEveryMs });
}

function shardSet(workers: number): ShardSet {
  return ShardSet.create({
    count: SHARDS,
    window: WINDOW,
    windowSpec: DEFAULT_WINDOW_SPEC,
    workers,
  });
}

for (const workers of [0, 2]) {
  Deno.test({
    name:
      `a round whose shards were asked at different cursors, then a restart without a stop, gives every shard the log after its own cursor: the state equals a recomputation (--workers ${workers})`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    await withTempKv(async (kv, path) => {
      // 20 sensors, 3 readings each a chunk, the round ending at the head: what a shard
      // replayed before its own cursor would stand among the last `WINDOW` values of its sensors.
      const readings = fleet(11 + workers, 3_000, 20);
      const head = readings.slice(0, 3_000 - CHUNK);
      await appendAll(logOf(kv), head);
      const entries = await listAll(kv);
      const shards = shardSet(workers);
      const store = new CheckpointStore(kv);
      const checkpointer = new Checkpointer(shards, { store, everyMs: 0 });
      await shards.deliver(entries.slice(0, 40).map((entry) => entry.block));
      const { asked, next } = await roundWithDeliveries(checkpointer, shards, entries, {
        from: 40,
        gap: 3,
      });
      assertEquals(asked[SHARDS - 1], entries[entries.length - 1].cursor);
      await checkpointer.settled();
      assertEquals(new Set(asked).size, SHARDS, "each shard was asked at its own cursor");
      // The shards go on past the checkpoint, then the process dies: no stop, no final checkpoint.
      await shards.deliver(entries.slice(next).map((entry) => entry.block));
      await shards.stop();
      const tail = readings.slice(3_000 - CHUNK);
      await appendAll(logOf(kv), tail);
      const all = await listAll(kv);

      const second = await restart(path, workers);
      try {
        assertEquals(second.store.checkpoint?.shardCursors, asked);
        assertEquals(second.store.checkpoint?.cursor, asked[SHARDS - 1]);
        assert(second.shards.restored, "the shards took the round's images");
        const least = asked.reduce((a, b) => (b < a ? b : a));
        assertEquals(second.source.replayFrom, least);
        assertEquals(second.source.startCursor, least);
        second.source.start();
        await eventually(() => second.source.caughtUp, 10_000, "the replay");
        // Read from the least cursor on: every reading in a chunk after it.
        const replayed = all.filter((e) => e.cursor > least)
          .reduce((n, e) => n + e.block.length, 0);
        assertEquals(second.source.replayedReadings, replayed);
        const state = await fleetState(second.shards);
        assert(
          sameState(state.values, recompute(readings, WINDOW)),
          "values equal a recomputation",
        );
        assertEquals(state.statuses, recomputeStatus(readings));
        assertEquals(state.late, recomputeWindows(readings, (id) => shardFor(id, SHARDS)).late);
      } finally {
        await second.source.stop();
        await second.shards.stop();
        second.store.close();
      }
    });
  });
}

Deno.test({
  name:
    "a process that dies mid-round leaves the previous checkpoint current: a restart restores it, and the next round writes under a new generation and deletes the dead round's pieces",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withTempKv(async (kv, path) => {
    const readings = fleet(5, 2_400);
    await appendAll(logOf(kv), readings);
    const entries = await listAll(kv);
    const shards = shardSet(0);
    const store = new CheckpointStore(kv);
    const checkpointer = new Checkpointer(shards, { store, everyMs: 0 });
    await shards.deliver(entries.slice(0, 12).map((entry) => entry.block));
    // A whole round at one cursor (nothing delivered between the asks).
    const first = await roundWithDeliveries(checkpointer, shards, entries, { from: 12, gap: 0 });
    await checkpointer.settled();
    const saved = (await new CheckpointStore(kv).load())!;
    assertEquals(saved.cursor, entries[11].cursor);
    assertEquals(first.asked, new Array(SHARDS).fill(entries[11].cursor));
    // The next round asks two shards (its pages are written), then the process dies.
    await shards.deliver(entries.slice(12, 20).map((entry) => entry.block));
    await roundWithDeliveries(checkpointer, shards, entries, { from: 20, gap: 4, shards: 2 });
    const dead = saved.seq! + 1;
    let deadPieces = 0;
    for await (const _ of kv.list({ prefix: [KEYS.checkpointPieces, dead] })) deadPieces++;
    assert(deadPieces > 0, "the dead round had written pieces");
    await shards.stop();

    const second = await restart(path, 0);
    try {
      assertEquals(second.store.checkpoint?.seq, saved.seq);
      assertEquals(second.store.checkpoint?.cursor, entries[11].cursor);
      assertEquals(second.store.checkpoint?.shardCursors, undefined);
      second.source.start();
      await eventually(() => second.source.caughtUp, 10_000, "the replay");
      const replayed = entries.slice(12).reduce((n, e) => n + e.block.length, 0);
      assertEquals(second.source.replayedReadings, replayed);
      const state = await fleetState(second.shards);
      assert(sameState(state.values, recompute(readings, WINDOW)), "values equal a recomputation");
      assertEquals(state.statuses, recomputeStatus(readings));
      assertEquals(state.late, recomputeWindows(readings, (id) => shardFor(id, SHARDS)).late);
    } finally {
      await second.source.stop();
      await second.shards.stop();
      second.store.close();
    }
    // The stop's final round was written under a generation after the dead one (its pointer
    // write lists the dead round as garbage; a stop leaves collecting to the next save).
    const after = (await new CheckpointStore(kv).load())!;
    assert(after.seq! > dead, `saved as ${after.seq}, after the dead round's ${dead}`);
    const third = await restart(path, 0, 20);
    try {
      third.source.start();
      // Through its own log: the source takes what its process commits in memory.
      await third.store.log.append(blockFromReadings(fleet(6, 10)));
      await eventually(() => third.source.checkpointsSaved > 0, 10_000, "a round");
    } finally {
      await third.source.stop();
      await third.shards.stop();
      third.store.close();
    }
    deadPieces = 0;
    for await (const _ of kv.list({ prefix: [KEYS.checkpointPieces, dead] })) deadPieces++;
    assertEquals(deadPieces, 0, "the dead round's pieces are deleted");
  });
});

Deno.test({
  name: "retention never compacts the log past the least shard cursor of the current checkpoint",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withTempKv(async (kv, path) => {
    const readings = fleet(9, 1_800);
    await appendAll(logOf(kv), readings);
    const entries = await listAll(kv);
    const shards = shardSet(0);
    const checkpointer = new Checkpointer(shards, { store: new CheckpointStore(kv), everyMs: 0 });
    await shards.deliver(entries.slice(0, 5).map((entry) => entry.block));
    const { asked } = await roundWithDeliveries(checkpointer, shards, entries, {
      from: 5,
      gap: 4,
    });
    await checkpointer.settled();
    await shards.stop();
    const least = asked[0];
    assert(least < asked[SHARDS - 1], "the shards stand at different cursors");

    const second = await restart(path, 0);
    try {
      const log = second.store.log;
      const retention = new LogRetention(second.store.kv, { retentionMs: 5 });
      // A mark at the head, older than the retention: without the least cursor it would go to there.
      await retention.mark(1_000, entries[entries.length - 1].cursor);
      const keeper = new LogHousekeeper(log, {
        retention,
        position: second.source,
        compactEvery: 1,
      });
      await keeper.pass(1_010);
      const left = (await listAll(kv)).map((e) => e.cursor);
      assertEquals(left, entries.filter((e) => e.cursor > least).map((e) => e.cursor));
      assert(left.length < entries.length, "chunks up to the least cursor were compacted");
    } finally {
      await second.shards.stop();
      second.store.close();
    }
  });
});

Deno.test({
  name:
    "a stop while a round is under way finishes it, then saves every shard at the stop's cursor: a restart replays nothing and equals a recomputation",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withTempKv(async (kv, path) => {
    const readings = fleet(21, 1_800, 20);
    await appendAll(logOf(kv), readings);
    const entries = await listAll(kv);
    const shards = shardSet(0);
    const store = new CheckpointStore(kv);
    const checkpointer = new Checkpointer(shards, { store, everyMs: 0 });
    await shards.deliver(entries.slice(0, 10).map((entry) => entry.block));
    // Two shards asked, more of the log delivered, then the stop at the log's end.
    const { next } = await roundWithDeliveries(checkpointer, shards, entries, {
      from: 10,
      gap: 5,
      shards: 2,
    });
    await shards.deliver(entries.slice(next).map((entry) => entry.block));
    const end = entries[entries.length - 1].cursor;
    await checkpointer.final(end);
    await shards.stop();
    const saved = (await new CheckpointStore(kv).load())!;
    assertEquals(saved.cursor, end);
    assertEquals(saved.shardCursors, undefined, "every shard at the stop's cursor");

    const second = await restart(path, 0);
    try {
      second.source.start();
      await eventually(() => second.source.caughtUp, 10_000, "the start");
      assertEquals(second.source.replayedReadings, 0);
      const state = await fleetState(second.shards);
      assert(sameState(state.values, recompute(readings, WINDOW)), "values equal a recomputation");
      assertEquals(state.late, recomputeWindows(readings, (id) => shardFor(id, SHARDS)).late);
    } finally {
      await second.source.stop();
      await second.shards.stop();
      second.store.close();
    }
  });
});
