import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { eventually, recompute, sameState } from "../../../tests/testing/recompute.ts";
import type { PlainReading } from "../../../tests/testing/recompute.ts";
import type { Behavior } from "../../../actors/runtime/mod.ts";
import { LogSource } from "./log_source.ts";
import { Checkpointer } from "../checkpointer.ts";
import { DEFAULT_WINDOW_SPEC, ShardSet } from "../../../actors/shards/mod.ts";
import type { ShardBehavior, ShardMessage } from "../../../actors/shards/mod.ts";
import { FeedView } from "../../../actors/hub/feed_view.ts";
import { CheckpointStore, KvLog } from "../../store/mod.ts";
import { blockFromReadings } from "../../../protocol/reading_block.ts";
import { viewValues } from "../../../tests/testing/view_values.ts";

/** Fails once, the first time it sees a reading with status `poison`, then behaves. */
class FailsOnce implements Behavior<ShardMessage> {
  static armed = true;
  readonly #inner: ShardBehavior;
  constructor(inner: ShardBehavior) {
    this.#inner = inner;
  }
  receive(message: ShardMessage): void {
    if (message.type === "readings" && FailsOnce.armed) {
      const { rows, from, to } = message;
      for (let r = from; r < to; r++) {
        if (rows.strings[rows.status[r]] === "poison") {
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
  const failures: string[] = [];
  const shards = ShardSet.create({
    count: 4,
    window: 5,
    windowSpec: DEFAULT_WINDOW_SPEC,
    capacity: 4,
    wrap: (shard) => new FailsOnce(shard),
    onFailure: ({ actor }) => failures.push(actor),
  });
  // The source replays a restarted shard itself (it registers with the ShardSet).
  const source = new LogSource(log, shards, {
    checkpointer: new Checkpointer(shards, { store: checkpoints, everyMs: 100, source: "log" }),
    idleMs: 20,
  });
  source.start();
  try {
    const posted = readings(0, 300);
    await log.append(blockFromReadings(posted));
    await eventually(() => source.checkpointsSaved > 0, 5_000, "first checkpoint");
    const later = [
      ...readings(300, 200),
      { sensorId: "poison", timeMs: 5_000, values: { v: 1 }, status: "poison" },
      ...readings(500, 200),
    ];
    posted.push(...later);
    await log.append(blockFromReadings(later));
    await eventually(
      () => failures.length === 1 && source.caughtUp,
      5_000,
      "failure and catch-up",
    );
    // Let the replay finish: a flush round trip through every mailbox.
    const view = new FeedView();
    const collect = async () => {
      view.apply(await shards.flushAll());
    };
    await collect();
    await collect();
    const state = viewValues(view);
    assertEquals(failures.length, 1);
    assert(shards.health().some((s) => s.restarts === 1), "one shard was restarted");
    assert(sameState(state, recompute(posted, 5)), "state after restart equals recomputation");
  } finally {
    await source.stop();
    await shards.stop();
    kv.close();
  }
});
