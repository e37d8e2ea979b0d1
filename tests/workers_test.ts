// The shards on worker threads: the same log gives the same state with
// --workers 0, 1 and 2, and a worker that dies mid-stream (an uncaught error,
// or terminated) is replaced, its shards restored from the checkpoint and
// replayed, so the fleet's state equals a recomputation from the log.
import fc from "fast-check";
import { assert, assertEquals } from "./testing/assert.ts";
import { withTempKv } from "./testing/temp_kv.ts";
import { eventually, recompute, recomputeStatus, recomputeWindows } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { DEFAULT_WINDOW_SPEC, shardFor, ShardSet } from "../actors/shards/mod.ts";
import type { ShardChanges } from "../actors/shards/mod.ts";
import { FeedView } from "../actors/hub/feed_view.ts";
import { WINDOW_FINAL } from "../protocol/columns.ts";
import { blockFromReadings } from "../protocol/reading_block.ts";
import { Checkpointer } from "../server/sources/checkpointer.ts";
import { LogSource } from "../server/sources/kv/log_source.ts";
import { CheckpointStore, KvLog } from "../server/store/mod.ts";

const SHARDS = 6;
const WINDOW = 7;
/** t is judged: warn above 50, critical above 90, held 100 ms (a sensor reports about every 1.5 s). */
const METRICS = {
  t: {
    name: "T",
    unit: "",
    precision: 0.01,
    thresholds: { warn: { above: 50 }, critical: { above: 90 }, holdMs: 100 },
  },
};

/**
 * Each sensor's attention level recomputed from its definition: per metric,
 * the readings not older than every one before them; the newest run of them
 * past a bound that spans the hold raises that level; the sensor's level is
 * the highest of its metrics' and its newest status's (warn: 1).
 */
function recomputeLevels(readings: readonly PlainReading[]): Map<string, number> {
  const kept = new Map<string, [number, number][]>();
  const newest = new Map<string, number>();
  for (const r of readings) {
    for (const [metric, value] of Object.entries(r.values)) {
      if (metric !== "t") continue;
      const key = r.sensorId;
      if (r.timeMs < (newest.get(key) ?? -Infinity)) continue;
      newest.set(key, r.timeMs);
      kept.set(key, [...(kept.get(key) ?? []), [value, r.timeMs]]);
    }
  }
  const out = new Map<string, number>();
  for (const [id, status] of recomputeStatus(readings)) {
    let level = status === "warn" ? 1 : 0;
    const list = kept.get(id) ?? [];
    for (const [bound, l] of [[90, 2], [50, 1]]) {
      let start = list.length;
      while (start > 0 && list[start - 1][0] > bound) start--;
      if (start < list.length && list[list.length - 1][1] - list[start][1] >= 100) {
        level = Math.max(level, l);
      }
    }
    out.set(id, level);
  }
  return out;
}

/** What the flushes of a shard set told, gathered like the hub and the rollups would. */
class Collected {
  readonly view = new FeedView();
  /** "id/metric/sizeMs/startMs" → the final window published (a replay may publish it again). */
  readonly finals = new Map<string, { count: number; sum: number; min: number; max: number }>();
  /** Each sensor's attention level as the flushes told it (untold: 0). */
  readonly levels = new Map<string, number>();

  take(changes: (ShardChanges | null)[]): void {
    this.view.apply(changes);
    for (const c of changes) {
      if (!c) continue;
      const l = c.levels;
      for (let j = 0; j < (l?.sensor.length ?? 0); j++) {
        this.levels.set(this.view.sensor(l!.sensor[j])!.id, l!.level[j]);
      }
      const w = c.windows;
      for (let i = 0; i < w.length; i++) {
        if ((w.flags[i] & WINDOW_FINAL) === 0) continue;
        const id = this.view.sensor(w.sensor[i])?.id;
        const metric = this.view.metricName(w.metric[i]);
        const key = `${id}/${metric}/${DEFAULT_WINDOW_SPEC.sizesMs[w.size[i]]}/${w.startMs[i]}`;
        const seen = this.finals.get(key);
        const now = { count: w.count[i], sum: w.sum[i], min: w.min[i], max: w.max[i] };
        // Published final twice (a replay after a worker died): always with the same values.
        if (seen) assertEquals(now, seen, `final window ${key} published again with other values`);
        this.finals.set(key, now);
      }
    }
  }

  /** Values by "id/metric", statuses and late counts by id. */
  state() {
    const snapshot = this.view.snapshot();
    const ids = new Map(snapshot.sensors.map((s) => [s.index, s.id]));
    const values: Record<string, number[]> = {};
    for (let i = 0; i < snapshot.values.length; i++) {
      const v = snapshot.values;
      values[`${ids.get(v.sensor[i])}/${this.view.metricName(v.metric[i])}`] = [
        v.last[i],
        v.avg[i],
        v.min[i],
        v.max[i],
        v.timeMs[i],
      ];
    }
    const statuses = new Map(snapshot.sensors.map((s) => [s.id, this.view.status(s.index)]));
    const late = new Map(
      this.view.lateCounts().map(([index, n]) => [ids.get(index)!, n]),
    );
    const levels = new Map(snapshot.sensors.map((s) => [s.id, this.levels.get(s.id) ?? 0]));
    return { values, statuses, late, levels };
  }
}

/** A fleet's readings in log order: some late, some with a status, some changing group. */
function fleet(seed: number, count: number): PlainReading[] {
  let x = seed >>> 0;
  const next = () => (x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32;
  const base = 1_800_000_000_000;
  return Array.from({ length: count }, (_, i): PlainReading => {
    const late = next() < 0.1;
    return {
      sensorId: `s${Math.floor(next() * 40)}`,
      group: next() < 0.05 ? "line/b" : "line/a",
      timeMs: base + i * 37 - (late ? Math.floor(next() * 12_000) : 0),
      values: next() < 0.5 ? { t: Math.round(next() * 1e4) / 100 } as Record<string, number> : {
        t: Math.round(next() * 1e4) / 100,
        h: Math.round(next() * 1e4) / 100,
      },
      status: ["", "ok", "warn"][Math.floor(next() * 3)],
    };
  });
}

async function runThrough(workers: number, readings: PlainReading[], batch: number) {
  const shards = ShardSet.create({
    count: SHARDS,
    window: WINDOW,
    windowSpec: DEFAULT_WINDOW_SPEC,
    metrics: METRICS,
    workers,
  });
  const collected = new Collected();
  try {
    for (let at = 0; at < readings.length; at += batch) {
      await shards.deliver(blockFromReadings(readings.slice(at, at + batch)));
      collected.take(await shards.flushAll({ timeoutMs: 10_000 }));
    }
    collected.take(await shards.flushAll({ timeoutMs: 10_000 }));
  } finally {
    await shards.stop();
  }
  return collected;
}

Deno.test({
  name:
    "--workers 0, 1 and 2 give the same values, statuses, threshold levels, late counts and final windows for the same log",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 1e9 }),
      fc.integer({ min: 50, max: 600 }),
      fc.integer({ min: 1, max: 120 }),
      async (seed, count, batch) => {
        const readings = fleet(seed, count);
        const [zero, one, two] = await Promise.all(
          [0, 1, 2].map((w) => runThrough(w, readings, batch)),
        );
        const expected = zero.state();
        assertEquals(one.state(), expected, "one worker");
        assertEquals(two.state(), expected, "two workers");
        assertEquals(new Map([...one.finals].sort()), new Map([...zero.finals].sort()));
        assertEquals(new Map([...two.finals].sort()), new Map([...zero.finals].sort()));
        // And that state is the one a naive recomputation gives.
        const values = recompute(readings, WINDOW);
        assertEquals(Object.keys(expected.values).sort(), Object.keys(values).sort());
        for (const [key, [last, avg, min, max, timeMs]] of Object.entries(expected.values)) {
          const e = values[key];
          assertEquals([last, min, max, timeMs], [e.last, e.min, e.max, e.timeMs], key);
          assert(Math.abs(avg - e.avg) <= 1e-9 * Math.max(1, Math.abs(e.avg)), key);
        }
        assertEquals(expected.statuses, recomputeStatus(readings));
        const levels = recomputeLevels(readings);
        assertEquals(new Map([...expected.levels].sort()), new Map([...levels].sort()));
        assert(count < 200 || [...levels.values()].some((l) => l > 0), "some sensor was raised");
      },
    ),
    { numRuns: 6 },
  );
});

for (const how of ["throw", "terminate"] as const) {
  Deno.test({
    name:
      `a shard worker that dies mid-stream (${how}) is replaced and replayed: the fleet's state equals a recomputation from the log`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    await withTempKv(async (kv) => {
      // The fleet is stamped from 2027 on: the log's clock is past it, as if written then (the
      // watermark does not pass a chunk's acceptance time, so today's would keep windows open).
      const log = new KvLog(kv, { now: () => 2_000_000_000_000 });
      const store = new CheckpointStore(kv);
      const failures: string[] = [];
      const shards = ShardSet.create({
        count: SHARDS,
        window: WINDOW,
        windowSpec: DEFAULT_WINDOW_SPEC,
        workers: 2,
        capacity: 4,
        onFailure: ({ actor }) => failures.push(actor),
      });
      const checkpointer = new Checkpointer(shards, { store, everyMs: 50, source: "log" });
      const source = new LogSource(log, shards, { checkpointer, idleMs: 20 });
      const collected = new Collected();
      let ticking = true;
      const ticks = (async () => {
        while (ticking) {
          collected.take(await shards.flushAll({ timeoutMs: 10_000 }));
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      source.start();
      const readings = fleet(7, 6_000);
      const victim = 1; // hosted by worker 1 (with shards 3 and 5)
      try {
        for (let at = 0; at < readings.length; at += 200) {
          await log.append(blockFromReadings(readings.slice(at, at + 200)));
          if (at === 2_000) {
            await eventually(
              () => source.checkpointsSaved > 0,
              10_000,
              "a checkpoint before the crash",
            );
            shards.crashWorker(victim, how);
          }
        }
        await eventually(() => failures.length === 3, 10_000, "the dead worker's shards restarted");
        assertEquals(failures.sort(), ["shard-1", "shard-3", "shard-5"]);
        await eventually(
          () => source.caughtUp && source.readingsRead >= readings.length,
          20_000,
          "the source caught up",
        );
        // Two more rounds of flushes: the replay is done once the source caught up.
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        ticking = false;
        await ticks;
      }
      collected.take(await shards.flushAll({ timeoutMs: 10_000 }));
      const state = collected.state();
      const values = recompute(readings, WINDOW);
      assertEquals(Object.keys(state.values).sort(), Object.keys(values).sort());
      for (const [key, [last, avg, min, max, timeMs]] of Object.entries(state.values)) {
        const e = values[key];
        assertEquals([last, min, max, timeMs], [e.last, e.min, e.max, e.timeMs], key);
        assert(Math.abs(avg - e.avg) <= 1e-9 * Math.max(1, Math.abs(e.avg)), key);
      }
      assertEquals(state.statuses, recomputeStatus(readings));
      const recount = recomputeWindows(readings, (id) => shardFor(id, SHARDS));
      assertEquals(state.late, recount.late);
      assert(collected.finals.size > 0, "windows closed");
      for (const [key, w] of collected.finals) {
        const e = recount.windows.get(key);
        assert(e, `final window ${key} is not in the recount`);
        assertEquals([w.count, w.min, w.max], [e.count, e.min, e.max], key);
        assert(Math.abs(w.sum - e.sum) <= 1e-9 * Math.max(1, Math.abs(e.sum)), key);
      }
      // Checkpoints go on after the restart (the restarted shards' first save is full) and a
      // fresh shard set started from the last one holds the same state.
      const saved = source.checkpointsSaved;
      await log.append(
        blockFromReadings([{ sensorId: "s0", timeMs: 1_900_000_000_000, values: { t: 1 } }]),
      );
      await eventually(
        () => source.checkpointsSaved > saved && !source.checkpointBehind,
        10_000,
        "a checkpoint after",
      );
      await source.stop();
      await shards.stop();
      const loaded = (await new CheckpointStore(kv).load())!;
      const again = ShardSet.create({
        count: SHARDS,
        window: WINDOW,
        windowSpec: DEFAULT_WINDOW_SPEC,
        workers: 2,
        checkpoint: loaded as never,
        checkpointSeq: loaded.seq,
      });
      assert(again.restored, "the last checkpoint fits");
      const fresh = new Collected();
      fresh.take(await again.flushAll({ timeoutMs: 10_000 }));
      await again.stop();
      const all = [...readings, { sensorId: "s0", timeMs: 1_900_000_000_000, values: { t: 1 } }];
      const final = recompute(all, WINDOW);
      const restored = fresh.state();
      for (const [key, [last, , min, max]] of Object.entries(restored.values)) {
        assertEquals([last, min, max], [final[key].last, final[key].min, final[key].max], key);
      }
      assertEquals(Object.keys(restored.values).length, Object.keys(final).length);
    });
  });
}
