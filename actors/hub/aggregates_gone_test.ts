// A group whose sensors have all gone (or a metric none of its sensors has
// any more) loses its aggregates at the clients too: the tick that recomputes
// them says so, through the real shards and hub, to full and compact clients
// of the whole fleet and of one group, and a client that joins afterwards
// holds what those that stayed hold.
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { FeedState } from "../../tests/testing/feed_client.ts";
import { FeedSink } from "../../tests/testing/feed_sink.ts";
import { Hub } from "./hub_actor.ts";
import { ShardSet } from "../shards/shard_set.ts";
import { DEFAULT_WINDOW_SPEC } from "../shards/event_window_store.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";

const T0 = 1_767_225_500_000;
const SIZES = DEFAULT_WINDOW_SPEC.sizesMs;

type Reading = { sensorId: string; group: string; timeMs: number; values: Record<string, number> };

function fleet() {
  const shards = ShardSet.create({ count: 2, window: 5, windowSpec: DEFAULT_WINDOW_SPEC });
  let now = 1_767_225_600_000;
  const hub = new Hub(shards, {
    pingIntervalMs: 1e9,
    windowSizesMs: SIZES,
    now: () => now,
    views: { resortMs: 0, columnMaxAgeMs: 0, minSortGapMs: 0, staggerMs: 0 },
  });
  const join = async (o: { encoding?: "compact"; group?: string } = {}) => {
    const sink = new FeedSink();
    if (o.group === undefined) {
      await hub.send({ type: "join", sink, windows: true, encoding: o.encoding });
    } else {
      await hub.send({ type: "join", sink, explicit: true, encoding: o.encoding });
      await hub.send({
        type: "subscribe",
        sink,
        subscriptions: [{ id: 1, all: false, group: o.group, sensors: [] }],
        resume: null,
        windows: true,
      });
    }
    await hub.barrier();
    return sink.state;
  };
  return {
    shards,
    join,
    feed: (readings: Reading[]) => shards.deliver(blockFromReadings(readings)),
    tick: async () => {
      now += 100;
      await hub.tick();
      await hub.barrier();
    },
    stop: async () => {
      await hub.stop();
      await shards.stop();
    },
  };
}

/** Two sensors every 500 ms for 7 s: "a" in g1 with t, "s" in g2 with t and h. */
function readings(): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i <= 14; i++) {
    out.push({ sensorId: "a", group: "g1", timeMs: T0 + 500 * i, values: { t: i } });
    out.push({ sensorId: "s", group: "g2", timeMs: T0 + 500 * i, values: { t: 100 + i, h: 40 } });
  }
  return out;
}

/** The aggregates a client of the whole fleet should hold with only "a" left: a's windows, alone. */
function onlyA(client: FeedState): Map<string, unknown> {
  const want = new Map<string, unknown>();
  for (const size of SIZES) {
    const w = client.windows.get(`a/t/${size}`);
    if (!w) continue;
    const { startMs, count, sum, min, max } = w;
    want.set(`/${size}/t`, { startMs, sensors: 1, count, sum, min, max });
  }
  return want;
}

Deno.test("when a group's sensors are all gone its aggregates go at every client, full and compact, fleet and group topics alike", async () => {
  const f = fleet();
  try {
    const full = await f.join();
    const compact = await f.join({ encoding: "compact" });
    const g2 = await f.join({ group: "g2" });
    const g2Compact = await f.join({ group: "g2", encoding: "compact" });
    await f.feed(readings());
    await f.tick();
    await f.tick();
    // Before: the fleet's h comes from "s" alone, t from both; g2 has both of s's metrics.
    assertEquals((full.aggregates.get("/1000/h") as { sensors: number }).sensors, 1);
    assertEquals((full.aggregates.get("/1000/t") as { sensors: number }).sensors, 2);
    assert(g2.aggregates.has("g2/1000/t") && g2.aggregates.has("g2/1000/h"));
    await f.shards.remove("s");
    await f.tick();
    for (const client of [full, compact]) {
      assertEquals(new Map([...client.aggregates].sort()), new Map([...onlyA(full)].sort()));
      assertEquals(client.gaps, 0);
    }
    for (const client of [g2, g2Compact]) {
      assertEquals([...client.aggregates.keys()], [], "g2 has no sensors left");
      assertEquals(client.gaps, 0);
    }
    // One that joins now is told the same from a snapshot.
    const late = await f.join();
    const lateG2 = await f.join({ group: "g2" });
    assertEquals(new Map([...late.aggregates].sort()), new Map([...full.aggregates].sort()));
    assertEquals([...lateG2.aggregates.keys()], []);
    // And a group that fills again has its aggregates again.
    await f.feed([
      { sensorId: "n", group: "g2", timeMs: T0 + 7_500, values: { h: 50 } },
      { sensorId: "n", group: "g2", timeMs: T0 + 9_000, values: { h: 52 } },
      { sensorId: "a", group: "g1", timeMs: T0 + 9_000, values: { t: 20 } },
    ]);
    await f.tick();
    const h = g2.aggregates.get("g2/1000/h") as { sensors: number; sum: number } | undefined;
    assertEquals([h?.sensors, h?.sum], [1, 50], "n's ended 1 s window");
    assertEquals(g2.aggregates.has("g2/1000/t"), false, "no sensor of g2 has t");
  } finally {
    await f.stop();
  }
});
