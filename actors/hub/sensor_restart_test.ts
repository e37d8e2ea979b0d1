// A sensor removed and re-added within one flush, through the real shards
// and hub, to clients that apply every frame (full Deltas, compact frames,
// viewport windows): each must end up holding what a client of a fleet where
// the sensor only ever sent its new readings holds, nothing of the old one.
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { decodeServerFrame } from "../../protocol/server_frames.ts";
import { FeedState } from "../../tests/testing/feed_client.ts";
import { FeedSink } from "../../tests/testing/feed_sink.ts";
import { ViewState } from "../../tests/testing/view_client.ts";
import { Hub } from "./hub_actor.ts";
import type { FrameSink } from "./session.ts";
import { ShardSet } from "../shards/shard_set.ts";
import { DEFAULT_WINDOW_SPEC } from "../shards/event_window_store.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import type { ViewRequest } from "../../protocol/client_messages.ts";

class WindowSink implements FrameSink {
  bufferedAmount = 0;
  closed = false;
  heardAt = 0;
  readonly view = new ViewState();
  send(frame: Uint8Array) {
    this.view.apply(frame);
  }
  close() {
    this.closed = true;
  }
}

const VIEW: ViewRequest = {
  subscriptions: [],
  sort: { key: "metric", metric: "t", field: "min", direction: "desc" },
  filter: { idSubstring: "", groupPrefix: null, status: null },
  offset: 0,
  limit: 10,
  order: "keep",
  resume: null,
  hiddenMetrics: [],
};

type Reading = {
  sensorId: string;
  timeMs: number;
  values: Record<string, number>;
  status?: string;
};

/** A hub over real shards, a full, a compact and a window client, driven tick by tick. */
async function fleet(count = 2) {
  const shards = ShardSet.create({ count, window: 5, windowSpec: DEFAULT_WINDOW_SPEC });
  let now = 1_767_225_600_000;
  const hub = new Hub(shards, {
    pingIntervalMs: 1e9,
    windowSizesMs: DEFAULT_WINDOW_SPEC.sizesMs,
    now: () => now,
    views: { resortMs: 0, columnMaxAgeMs: 0, minSortGapMs: 0, staggerMs: 0 },
  });
  const full = new FeedSink();
  const compact = new FeedSink();
  const window = new WindowSink();
  await hub.send({ type: "join", sink: full, windows: true });
  await hub.send({ type: "join", sink: compact, windows: true, encoding: "compact" });
  return {
    hub,
    window,
    shards,
    feed: (readings: Reading[]) =>
      shards.deliver(blockFromReadings(readings.map((r) => ({ group: "g", ...r })))),
    tick: async () => {
      now += 100;
      await hub.tick();
      await hub.barrier();
    },
    /** Opens the window client's view (once sensors are there to order). */
    open: async () => {
      await hub.send({ type: "join", sink: window, explicit: true });
      await hub.send({ type: "view", sink: window, request: VIEW });
      await hub.barrier();
    },
    clients: () => ({ full: full.state, compact: compact.state, window: window.view }),
    stop: async () => {
      await hub.stop();
      await shards.stop();
    },
  };
}

const T0 = 1_767_225_500_000;
const others: Reading[] = [
  { sensorId: "a", timeMs: T0, values: { t: 10 } },
  { sensorId: "b", timeMs: T0, values: { t: 20 } },
];
const old: Reading[] = [
  { sensorId: "s", timeMs: T0 + 1, values: { t: 90, h: 40 }, status: "alarm" },
  { sensorId: "s", timeMs: T0 + 2, values: { t: 100, h: 41 } },
];
const fresh: Reading[] = [{ sensorId: "s", timeMs: T0 + 3, values: { t: 3 } }];

/** What a client holds of sensor `id`: its values, attention and late count, by metric name. */
function heldOf(c: FeedState, id: string) {
  const values = Object.entries(c.state()).filter(([key]) => key.startsWith(`${id}/`));
  return { values, attention: c.attention.get(id), late: c.late.get(id) };
}

function rowOf(v: ViewState, id: string) {
  return { ids: v.ids(), row: v.window().find((r) => r.id === id), spark: v.sparkline(id, "t") };
}

Deno.test("a sensor removed and re-added in one flush reaches full, compact and window clients as a fresh sensor with only its new readings", async () => {
  const restarted = await fleet();
  const reference = await fleet();
  try {
    // Restarted: the old sensor's readings, then in one flush its removal and new readings.
    await restarted.feed([...others, ...old]);
    await restarted.tick();
    await restarted.open();
    await restarted.tick();
    await restarted.shards.remove("s");
    await restarted.feed(fresh);
    await restarted.tick();
    await restarted.tick();
    // Reference: the sensor only ever sent the new readings (same ticks, same times).
    await reference.feed(others);
    await reference.tick();
    await reference.open();
    await reference.tick();
    await reference.feed(fresh);
    await reference.tick();
    await reference.tick();
    const got = restarted.clients();
    const want = reference.clients();
    for (const encoding of ["full", "compact"] as const) {
      assertEquals(heldOf(got[encoding], "s"), heldOf(want[encoding], "s"), encoding);
      assertEquals(got[encoding].gaps, 0);
    }
    assertEquals(heldOf(got.full, "s").values.map(([k]) => k), ["s/t"], "no old metric kept");
    assertEquals(rowOf(got.window, "s"), rowOf(want.window, "s"));
    assertEquals(got.window.problems, []);
    // The window's order is by t's min: the old sensor's 90 must not keep it first.
    assertEquals(got.window.ids(), ["b", "a", "s"]);
  } finally {
    await restarted.stop();
    await reference.stop();
  }
});

Deno.test("the tick a sensor restarts, the aggregates of its groups go out again without the old sensor's windows", async () => {
  const f = await fleet(1);
  try {
    // Two sensors of group "g" every 500 ms for 7 s: the 1 s windows up to 2 s have ended.
    const readings: Reading[] = [];
    for (let i = 0; i <= 14; i++) {
      readings.push({ sensorId: "a", timeMs: T0 + 500 * i, values: { t: i } });
      readings.push({ sensorId: "s", timeMs: T0 + 500 * i, values: { t: 100 + i } });
    }
    await f.feed(readings);
    await f.tick();
    await f.tick();
    const client = f.clients().full;
    assertEquals(client.aggregates.get("/1000/t")?.sensors, 2);
    await f.shards.remove("s");
    await f.feed([{ sensorId: "s", timeMs: T0 + 7_100, values: { t: 3 } }]);
    await f.tick();
    // Recomputed from what is left: "a"'s own latest 1 s window, alone in the fleet's aggregate.
    const a = client.windows.get("a/t/1000")!;
    const { startMs, count, sum, min, max } = a;
    assertEquals(client.aggregates.get("/1000/t"), { startMs, sensors: 1, count, sum, min, max });
  } finally {
    await f.stop();
  }
});

Deno.test("a window client reconnecting across a restart resumes with the missed frames byte for byte, and holds what the client that stayed holds", async () => {
  const f = await fleet();
  try {
    await f.feed([...others, ...old]);
    await f.tick();
    await f.open();
    await f.tick();
    // The client's state here, and how many frames it had: where a reconnect resumes from.
    const saved = new ViewState();
    saved.adopt(f.window.view);
    const had = f.window.view.received.length;
    await f.shards.remove("s");
    await f.feed(fresh);
    await f.tick();
    await f.tick();
    const missed = f.window.view.received.slice(had);
    assert(
      missed.some((bytes) => {
        const frame = decodeServerFrame(bytes, {});
        return frame.type === "view" && frame.restarted.length > 0;
      }),
      "a missed frame says the row restarted",
    );
    const back = new WindowSink();
    back.view.adopt(saved);
    await f.hub.send({ type: "join", sink: back, explicit: true });
    await f.hub.send({
      type: "view",
      sink: back,
      request: { ...VIEW, resume: { epoch: saved.epoch, seq: saved.seq } },
    });
    await f.hub.barrier();
    assertEquals(back.view.subscribed.map((x) => x.recovered), [true]);
    assertEquals(back.view.received, missed);
    assertEquals(back.view.window(), f.window.view.window());
    assertEquals(back.view.sparkline("s", "t"), f.window.view.sparkline("s", "t"));
    assertEquals(back.view.problems, []);
  } finally {
    await f.stop();
  }
});
