import { assert, assertEquals } from "../../../tests/assert.ts";
import { eventually, recompute, sameState } from "../../../tests/recompute.ts";
import type { PlainReading } from "../../../tests/recompute.ts";
import type { MetricState } from "../../../tests/feed_client.ts";
import { Actor, ask, Supervisor } from "../../../actors/runtime/mod.ts";
import type { Behavior } from "../../../actors/runtime/mod.ts";
import { LogSource } from "./log_source.ts";
import { Router } from "../../../actors/shards/router.ts";
import { ShardBehavior } from "../../../actors/shards/shard.ts";
import type { ShardChanges, ShardMessage } from "../../../actors/shards/shard_messages.ts";
import { FeedView } from "../../../actors/hub/feed_view.ts";
import { CheckpointStore, KvLog } from "../../store/mod.ts";
import { blockFromReadings } from "../../../protocol/reading_block.ts";

/** Fails once, the first time it sees a reading of `poison`, then behaves. */
class FailsOnce implements Behavior<ShardMessage> {
  static armed = true;
  readonly #inner: ShardBehavior;
  constructor(inner: ShardBehavior) {
    this.#inner = inner;
  }
  receive(message: ShardMessage): void {
    if (message.type === "readings" && FailsOnce.armed) {
      for (const row of message.rows) {
        if (message.block.strings[message.block.sensor[row]] === "poison") {
          FailsOnce.armed = false;
          throw new Error("injected failure");
        }
      }
    }
    this.#inner.receive(message);
  }
}

function readings(from: number, count: number): PlainReading[] {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `s${(from + i) % 23}`,
    timeMs: 1_000 + from + i,
    values: { v: Math.sin(from + i) * 100 },
  }));
}

Deno.test("a failed shard is restarted from the checkpoint plus the log after it, equal to a recomputation", async () => {
  const kv = await Deno.openKv(":memory:");
  const log = new KvLog(kv);
  const checkpoints = new CheckpointStore(kv);
  const shardCount = 4;
  let source: LogSource | null = null;
  const failures: string[] = [];
  const supervisor = new Supervisor({
    onFailure: ({ actor, restarted }) => {
      failures.push(actor);
      if (restarted) source?.requestReplay(Number(actor.split("-")[1]));
    },
  });
  const shards = Array.from({ length: shardCount }, (_, i) =>
    new Actor<ShardMessage>(
      `shard-${i}`,
      (restart) => new FailsOnce(new ShardBehavior({ window: 5, awaitingReplay: restart > 0 })),
      { capacity: 4, supervisor },
    ));
  source = new LogSource(log, new Router(shardCount), shards, {
    checkpoints,
    checkpointEveryMs: 100,
    idleMs: 20,
  });
  source.start();
  try {
    const posted = readings(0, 300);
    await log.append(blockFromReadings(posted));
    await eventually(() => source!.checkpointsSaved > 0, 5_000, "first checkpoint");
    const later = [
      ...readings(300, 200),
      { sensorId: "poison", timeMs: 5_000, values: { v: 1 } },
      ...readings(500, 200),
    ];
    posted.push(...later);
    await log.append(blockFromReadings(later));
    await eventually(
      () => failures.length === 1 && source!.caughtUp,
      5_000,
      "failure and catch-up",
    );
    // Let the replay finish: a flush round trip through every mailbox.
    const view = new FeedView();
    const collect = async () => {
      const changes = await Promise.all(
        shards.map((s) =>
          ask<ShardMessage, ShardChanges>(s, (reply) => ({ type: "flush", reply }))
        ),
      );
      view.apply(changes);
    };
    await collect();
    await collect();
    const snapshot = view.snapshot();
    const ids = new Map(snapshot.sensors.map((s) => [s.index, s.id]));
    const names = new Map(snapshot.metrics.map((m) => [m.index, m.name]));
    const state: Record<string, MetricState> = {};
    for (let i = 0; i < snapshot.values.length; i++) {
      state[`${ids.get(snapshot.values.sensor[i])}/${names.get(snapshot.values.metric[i])}`] = {
        last: snapshot.values.last[i],
        avg: snapshot.values.avg[i],
        min: snapshot.values.min[i],
        max: snapshot.values.max[i],
        timeMs: snapshot.values.timeMs[i],
      };
    }
    assertEquals(failures.length, 1);
    assert(shards.some((s) => s.restarts === 1), "one shard was restarted");
    assert(sameState(state, recompute(posted, 5)), "state after restart equals recomputation");
  } finally {
    await source.stop();
    await Promise.all(shards.map((s) => s.stop()));
    kv.close();
  }
});
