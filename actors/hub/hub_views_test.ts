// Viewport windows through the real shards and hub, with sinks that apply
// every frame as a client would: removals, holds, and the rate ladder.
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { ViewState } from "../../tests/testing/view_client.ts";
import { Hub } from "./hub_actor.ts";
import type { HubStartOptions } from "./hub_actor.ts";
import type { FrameSink } from "./session.ts";
import { ShardSet } from "../shards/shard_set.ts";
import { DEFAULT_WINDOW_SPEC } from "../shards/event_window_store.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { decodeServerFrame } from "../../protocol/server_frames.ts";
import type { ViewRequest } from "../../protocol/client_messages.ts";
import type { MetricsMeta } from "../../protocol/metric_meta.ts";

/** A connection that applies each frame as it is sent, with a settable backlog. */
class WindowSink implements FrameSink {
  bufferedAmount = 0;
  closed = false;
  heardAt = 0;
  closedWith = 0;
  readonly view = new ViewState();
  send(frame: Uint8Array) {
    this.view.apply(frame);
  }
  close(code: number) {
    this.closed = true;
    this.closedWith = code;
  }
}

function request(partial: Partial<ViewRequest> = {}): ViewRequest {
  return {
    subscriptions: [],
    sort: { key: "metric", metric: "t", field: "last", direction: "desc" },
    filter: { idSubstring: "", groupPrefix: null, status: null },
    offset: 0,
    limit: 20,
    order: "keep",
    resume: null,
    hiddenMetrics: [],
    ...partial,
  };
}

function harness(options: HubStartOptions = {}, metrics?: MetricsMeta) {
  const shards = ShardSet.create({ count: 2, window: 5, windowSpec: DEFAULT_WINDOW_SPEC, metrics });
  let now = 1_767_225_600_000;
  const hub = new Hub(shards, {
    pingIntervalMs: 1e9,
    now: () => now,
    views: { resortMs: 0, columnMaxAgeMs: 0, minSortGapMs: 0, staggerMs: 0 },
    ...options,
  });
  let time = now;
  const feed = (values: Record<string, number>, group = "g") =>
    shards.deliver(blockFromReadings(
      Object.entries(values).map(([id, t]) => ({
        sensorId: id,
        group,
        timeMs: time++,
        values: { t },
      })),
    ));
  const tick = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      now += 100;
      await hub.tick();
    }
  };
  const open = async (r: Partial<ViewRequest> = {}) => {
    const sink = new WindowSink();
    await hub.send({ type: "join", sink, explicit: true });
    await hub.send({ type: "view", sink, request: request(r) });
    await hub.barrier();
    return sink;
  };
  const stop = async () => {
    await hub.stop();
    await shards.stop();
  };
  return { shards, hub, feed, tick, open, stop, clock: () => now };
}

const sensors = (n: number, t: (i: number) => number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, t(i)]));

Deno.test("a removed sensor leaves every window at once, held or not; its client keeps nothing of it and the counts drop", async () => {
  const h = harness();
  try {
    await h.feed(sensors(30, (i) => i));
    await h.tick();
    const free = await h.open();
    const held = await h.open({ order: "hold" });
    await h.tick();
    assertEquals(free.view.ids().slice(0, 3), ["s29", "s28", "s27"]);
    assertEquals(held.view.ids(), free.view.ids());
    await h.shards.remove("s28");
    await h.tick();
    for (const sink of [free, held]) {
      assert(!sink.view.ids().includes("s28"), sink.view.ids().join());
      assertEquals([sink.view.total, sink.view.matching], [29, 29]);
      assertEquals(sink.view.heldCount, sink.view.rows.length, "holds only its rows");
      assertEquals(sink.view.problems, []);
    }
    const expected = Array.from({ length: 30 }, (_, i) => `s${29 - i}`).filter((id) =>
      id !== "s28"
    );
    assertEquals(free.view.ids(), expected);
    assertEquals(held.view.ids(), expected);
  } finally {
    await h.stop();
  }
});

Deno.test("a held window keeps its rows while their values flow (off its stream); released, it shows the view's order again (on it)", async () => {
  const h = harness();
  try {
    await h.feed(sensors(30, (i) => i));
    await h.tick();
    const sink = await h.open();
    await h.tick();
    assert(sink.view.onStream, "on its stream");
    await h.hub.send({ type: "view", sink, request: request({ order: "hold" }) });
    const rows = sink.view.ids();
    // s0 becomes the hottest: the view reorders, the held window does not.
    await h.feed({ s0: 100, s29: 29.5 });
    await h.tick(2);
    assertEquals(sink.view.ids(), rows);
    assertEquals(sink.view.window()[0].values.t.last, 29.5, "its values still flow");
    assertEquals(sink.view.onStream, false);
    await h.hub.send({ type: "view", sink, request: request({ order: "release" }) });
    await h.tick();
    assertEquals(sink.view.ids()[0], "s0");
    assertEquals(sink.view.onStream, true);
    assertEquals(sink.view.problems, []);
  } finally {
    await h.stop();
  }
});

Deno.test("a window whose unsent bytes stay high is sent less often, a step at a time, with nothing skipped; drained and clean, it comes back to every tick", async () => {
  const h = harness({ session: { maxBufferedBytes: 1_000_000, stepDownBytes: 1_000 } });
  try {
    await h.feed(sensors(30, (i) => i));
    await h.tick();
    const slow = await h.open();
    const fast = await h.open();
    const intervals: number[] = [];
    let round = 0;
    const run = async (ticks: number) => {
      for (let i = 0; i < ticks; i++) {
        await h.feed(sensors(30, (k) => (k * 7 + round++) % 31));
        await h.tick();
        intervals.push(slow.view.intervalMs);
      }
    };
    slow.bufferedAmount = 50_000; // over the step-down threshold, far under the skip cap
    await run(30);
    // Told in its frames: slower and slower (a step of 3 ticks at 2 Hz may pass between its frames).
    assertEquals(intervals[0], 100);
    assertEquals(intervals.at(-1), 1000);
    assert(intervals.every((ms, i) => i === 0 || ms >= intervals[i - 1]), intervals.join());
    assert(intervals.includes(200), "5 Hz on the way");
    slow.bufferedAmount = 0;
    intervals.length = 0;
    await run(200); // 20 s clean: a step up every 5 s
    assertEquals(intervals.at(-1), 100, "back to every tick");
    assertEquals([...new Set(intervals)], [1000, 500, 200, 100], "a step every 5 s");
    // All along, the same window as a client sent every frame, and no catch-up.
    assertEquals(slow.view.window(), fast.view.window());
    assertEquals(slow.view.kinds.whole, 1, "the first frame only");
    assertEquals(h.hub.stats.skippedFrames, 0);
    assertEquals(slow.view.problems, []);
  } finally {
    await h.stop();
  }
});

Deno.test("windows at different places that fell over the cap and drained in the same tick each catch up with a snapshot of their own rows", async () => {
  const h = harness({ session: { maxBufferedBytes: 1_000, slowCloseMs: 1e9 } });
  try {
    let round = 0;
    const feed = () => h.feed(sensors(120, (k) => (k * 7 + round++) % 121));
    await feed();
    await h.tick();
    const [top, topRef] = [await h.open(), await h.open()];
    const [lower, lowerRef] = [
      await h.open({ offset: 50, limit: 20 }),
      await h.open({ offset: 50, limit: 20 }),
    ];
    top.bufferedAmount = lower.bufferedAmount = 5_000;
    for (let i = 0; i < 12; i++) {
      await feed();
      await h.tick();
    }
    assert(h.hub.stats.skippedFrames > 0, "frames were skipped while over the cap");
    top.bufferedAmount = lower.bufferedAmount = 0;
    for (let i = 0; i < 30 && top.view.kinds.whole < 2; i++) {
      await feed();
      await h.tick();
    }
    // Caught up in the same tick (same rate), each to its own place, as the clients sent every frame show.
    assertEquals([top.view.kinds.whole, lower.view.kinds.whole], [2, 2]);
    assertEquals(top.view.window(), topRef.view.window());
    assertEquals(lower.view.window(), lowerRef.view.window());
    assert(
      JSON.stringify(top.view.window()) !== JSON.stringify(lower.view.window()),
      "two places",
    );
    assertEquals([top.view.problems, lower.view.problems], [[], []]);
  } finally {
    await h.stop();
  }
});

Deno.test("a client that reports slow frames (a throttled phone) is sent 1 frame a second and never loops on catch-ups", async () => {
  const h = harness();
  try {
    await h.feed(sensors(50, (i) => i));
    await h.tick();
    const phone = await h.open();
    const reference = await h.open();
    let round = 0;
    let atBoundary = reference.view.window();
    for (let second = 0; second < 10; second++) {
      // Every second it says its frames take 450 ms (arrival to screen).
      await h.hub.send({ type: "clientStats", sink: phone, frameP95Ms: 450 });
      for (let i = 0; i < 10; i++) {
        await h.feed(sensors(50, (k) => (k * 3 + round++) % 53));
        await h.tick();
        // At 1 Hz it is sent a frame on every tenth tick: then it shows what a full-rate client shows.
        if (h.hub.stats.ticks % 10 === 0) atBoundary = reference.view.window();
      }
    }
    assertEquals(phone.view.intervalMs, 1000);
    assert(phone.view.viewFrames <= 10 + 3 + 3, `${phone.view.viewFrames} frames in 10 s`);
    assertEquals(phone.view.kinds.whole, 1, "no catch-up snapshot after the first frame");
    assertEquals(h.hub.stats.snapshotsSent, 0);
    assertEquals(phone.view.window(), atBoundary);
  } finally {
    await h.stop();
  }
});

Deno.test("a tick's parts are recorded: each a duration ≥ 0, the views' three within viewsMs, all within lastMergeMs", async () => {
  const h = harness();
  try {
    await h.feed(sensors(30, (i) => i));
    await h.tick();
    const sink = await h.open();
    for (let i = 0; i < 5; i++) {
      await h.feed(sensors(30, (j) => i * 100 + j));
      await h.tick();
      const stats = h.hub.stats;
      const p = { ...stats.tickParts };
      assertEquals(Object.keys(p).sort(), ["apply", "frames", "judge", "order", "sends", "topics"]);
      for (const [name, ms] of Object.entries(p)) assert(ms >= 0, `${name} ${ms}`);
      const views = p.order + p.frames + p.sends;
      assert(views <= stats.viewsMs + 1e-9, `views' parts ${views} > viewsMs ${stats.viewsMs}`);
      const all = p.apply + p.judge + stats.viewsMs + p.topics;
      assert(all <= stats.lastMergeMs + 1e-9, `parts ${all} > lastMergeMs ${stats.lastMergeMs}`);
    }
    assert(sink.view.rows.length > 0, "the window was served meanwhile");
  } finally {
    await h.stop();
  }
});

Deno.test("with a CPU clock the tick's CPU time is recorded (its two readings' difference); without one it stays null", async () => {
  const plain = harness();
  try {
    await plain.feed(sensors(10, (i) => i));
    await plain.tick();
    assertEquals(plain.hub.stats.lastMergeCpuMs, null);
  } finally {
    await plain.stop();
  }
  // A fake CPU clock that advances 0.25 ms at every reading: exactly two readings a tick.
  let cpu = 0;
  const readings: number[] = [];
  const h = harness({ cpuNow: () => (readings.push(cpu += 0.25), cpu) });
  try {
    for (let i = 0; i < 3; i++) {
      await h.feed(sensors(10, (j) => i * 100 + j));
      const before = readings.length;
      await h.tick();
      assertEquals(readings.length - before, 2, "two readings a tick");
      const [start, end] = readings.slice(-2);
      assertEquals(h.hub.stats.lastMergeCpuMs, end - start);
    }
  } finally {
    await h.stop();
  }
});

Deno.test("a window hiding a metric is sent none of its values or points (only a row's newer time when it came with them); shown again, its rows come whole with it", async () => {
  const h = harness();
  try {
    let time = h.clock();
    const feed = (rows: [string, Record<string, number>][]) =>
      h.shards.deliver(blockFromReadings(
        rows.map(([sensorId, values]) => ({ sensorId, group: "g", timeMs: time++, values })),
      ));
    await feed(Array.from({ length: 30 }, (_, i) => [`s${i}`, { t: i, h: 100 + i }]));
    await h.tick();
    const hiding = await h.open({ hiddenMetrics: ["h", "not-a-metric"] });
    const showing = await h.open();
    await feed([["s29", { t: 50, h: 7 }]]);
    await h.tick();
    // What was fed, recomputed: rows by t descending (20 asked, a block of 50 served), h as fed.
    const expected = (hLast: (i: number) => number) =>
      Array.from({ length: 30 }, (_, k) => 29 - k).map((i) => ({
        id: `s${i}`,
        t: i === 29 ? 50 : i,
        h: hLast(i),
      }));
    const fed = (i: number) => i === 29 ? 7 : 100 + i;
    const seen = (sink: WindowSink, metric: string) =>
      sink.view.window().map((r) => ({ id: r.id, t: r.values.t?.last, h: r.values[metric]?.last }));
    assertEquals(seen(showing, "h"), expected(fed));
    assertEquals(seen(hiding, "h"), expected(() => undefined as unknown as number));
    for (const row of hiding.view.window()) {
      assertEquals(Object.keys(row.values), ["t"]);
      assertEquals(hiding.view.sparkline(row.id, "h"), undefined);
      assert(hiding.view.sparkline(row.id, "t") !== undefined, `${row.id} has t's points`);
    }
    assert(hiding.view.frameBytes < showing.view.frameBytes, "fewer bytes");

    // Only h changes: no values for the hiding window, only the rows' newer times (their age).
    const valuesBefore = hiding.view.valuesOf.get("t");
    const hTime = time;
    await feed([["s29", { h: 8 }], ["s28", { h: 9 }]]);
    await h.tick();
    assertEquals(hiding.view.valuesOf.get("t"), valuesBefore);
    assertEquals(hiding.view.valuesOf.get("h"), undefined);
    const ages = (sink: WindowSink) =>
      Object.fromEntries(sink.view.window().map((r) => [r.id, r.seenMs]));
    assertEquals([ages(hiding).s29, ages(hiding).s28], [hTime, hTime + 1]);
    assertEquals(ages(hiding), ages(showing), "the same ages as a window showing h");
    // An h reading older than the row's newest time changes nothing it shows: no frame.
    const frames = hiding.view.viewFrames;
    await h.shards.deliver(blockFromReadings([
      { sensorId: "s27", group: "g", timeMs: h.clock() - 10_000, values: { h: 1 } },
    ]));
    await h.tick();
    assertEquals(hiding.view.viewFrames, frames);

    // Shown again: the whole window, h included, as fed.
    const wholes = hiding.view.kinds.whole;
    await h.hub.send({ type: "view", sink: hiding, request: request({ hiddenMetrics: [] }) });
    await h.hub.barrier();
    assertEquals(hiding.view.kinds.whole, wholes + 1);
    const now = (i: number) => i === 29 ? 8 : i === 28 ? 9 : 100 + i;
    assertEquals(seen(hiding, "h"), expected(now));
    assertEquals(seen(showing, "h"), expected(now));
    for (const row of hiding.view.window()) {
      assert(hiding.view.sparkline(row.id, "h") !== undefined, `${row.id} has h's points`);
    }
    await feed([["s27", { t: 27, h: 1 }]]);
    await h.tick();
    assertEquals(hiding.view.window().find((r) => r.id === "s27")?.values.h.last, 1);
    assertEquals(hiding.view.problems, []);
    assertEquals(showing.view.problems, []);
  } finally {
    await h.stop();
  }
});

Deno.test("a window is told its topic's sensors by attention state as they change, also for sensors outside its rows and its filter", async () => {
  // t over 100 is a warning, over 200 critical, at once.
  const h = harness({}, {
    t: {
      name: "t",
      unit: "",
      precision: 1,
      thresholds: { warn: { above: 100 }, critical: { above: 200 }, holdMs: 0 },
    },
  });
  try {
    // 60 sensors in g and 60 in another group; the window shows g's, filtered to ids with "s1".
    await h.feed(sensors(60, (i) => i), "g");
    await h.feed(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`o${i}`, i])), "other");
    await h.tick();
    const window = {
      subscriptions: [{ id: 1, all: false, group: "g", sensors: [] }],
      filter: { idSubstring: "s1", groupPrefix: null, status: null },
    };
    const sink = await h.open(window);
    // Another window on the same rows, held (off its place's stream: frames of its own).
    const held = await h.open({ ...window, order: "hold" });
    await h.tick();
    /** By code: unknown, ok, stale, offline, warn, critical. */
    const counts = (ok: number, warn = 0, critical = 0) => [0, ok, 0, 0, warn, critical];
    assertEquals(sink.view.attentionCounts, counts(60));
    assertEquals(held.view.attentionCounts, counts(60));
    // s45 goes critical: not a row of either (the filter is "s1"), nothing else changes.
    const frames = sink.view.viewFrames;
    await h.feed({ s45: 250 }, "g");
    await h.tick(2);
    assertEquals(sink.view.attentionCounts, counts(59, 0, 1));
    assertEquals(held.view.attentionCounts, counts(59, 0, 1));
    assert(sink.view.viewFrames > frames, "a frame told it");
    // s1 (a row) warns, o3 (another group) goes critical.
    await h.feed({ s1: 150 }, "g");
    await h.feed({ o3: 300 }, "other");
    await h.tick(2);
    assertEquals(sink.view.attentionCounts, counts(58, 1, 1));
    assertEquals(held.view.attentionCounts, counts(58, 1, 1));
    // Nothing changed them: the next frame does not carry them.
    await h.feed({ s1: 160 }, "g");
    await h.tick();
    const last = decodeServerFrame(sink.view.received.at(-1)!, { base: sink.view.base });
    assertEquals(last.type === "view" && last.attentionCounts, null);
    // s45 leaves the fleet; s1 comes back under the threshold.
    await h.shards.remove("s45");
    await h.feed({ s1: 10 }, "g");
    await h.tick(2);
    assertEquals(sink.view.attentionCounts, counts(59, 0, 0));
    assertEquals(held.view.attentionCounts, counts(59, 0, 0));
    assertEquals([sink.view.problems, held.view.problems], [[], []]);
  } finally {
    await h.stop();
  }
});

Deno.test("a client that keeps changing its window leaves at most 16 idle places (each encoded every tick) of its own; another client's stay, and the window keeps working", async () => {
  const h = harness();
  try {
    await h.feed(sensors(2000, (i) => i));
    await h.tick();
    // Another client's window, closed: its idle place is kept for a resume.
    const other = new WindowSink();
    await h.hub.send({ type: "join", sink: other, explicit: true, address: "10.0.0.2" });
    await h.hub.send({ type: "view", sink: other, request: request({ offset: 150 }) });
    await h.hub.send({ type: "view", sink: other, request: request({ limit: 0 }) });
    const sink = new WindowSink();
    await h.hub.send({ type: "join", sink, explicit: true, address: "10.0.0.1" });
    // 40 places one after another: scroll positions, every other one with a hidden metric.
    for (let i = 0; i < 40; i++) {
      const hidden = i % 2 === 0 ? [] : ["t"];
      await h.hub.send({
        type: "view",
        sink,
        request: request({ offset: 50 * i, hiddenMetrics: hidden }),
      });
      await h.tick();
    }
    const stats = h.hub.stats;
    assert(stats.idlePlacesDropped > 0, "idle places were let go");
    // Its window's place, at most 16 idle of its own, and the other client's.
    assert(stats.places <= 1 + 16 + 1, `${stats.places} places`);
    await h.feed({ s1999: 5000 });
    await h.tick();
    assertEquals(sink.view.window()[0]?.values.t?.last ?? null, null, "t is hidden now");
    await h.hub.send({ type: "view", sink, request: request({ hiddenMetrics: [] }) });
    await h.hub.barrier();
    await h.tick();
    assertEquals(sink.view.window()[0].values.t.last, 5000);
    assertEquals(sink.view.problems, []);
    // The other client's idle place was not one of them: it resumes on its stream.
    const back = new WindowSink();
    back.view.adopt(other.view);
    await h.hub.send({ type: "join", sink: back, explicit: true, address: "10.0.0.2" });
    await h.hub.send({
      type: "view",
      sink: back,
      request: request({ offset: 150, resume: { epoch: other.view.epoch, seq: other.view.seq } }),
    });
    await h.hub.barrier();
    assertEquals(back.view.subscribed.map((s) => s.recovered), [true]);
  } finally {
    await h.stop();
  }
});

/** A sink that keeps each frame it is sent, as sent. */
class KeepingSink extends WindowSink {
  readonly frames: Uint8Array[] = [];
  override send(frame: Uint8Array) {
    this.frames.push(frame);
    super.send(frame);
  }
}

Deno.test("sessions opening the same window in one tick are sent one frame made once; after a tick a fresh one with the new values", async () => {
  const h = harness();
  try {
    await h.feed(sensors(30, (i) => i));
    await h.tick();
    const open = async (r: Partial<ViewRequest> = {}) => {
      const sink = new KeepingSink();
      await h.hub.send({ type: "join", sink, explicit: true });
      await h.hub.send({ type: "view", sink, request: request(r) });
      await h.hub.barrier();
      return sink;
    };
    const first = [await open(), await open(), await open()];
    const other = await open({
      sort: { key: "metric", metric: "t", field: "last", direction: "asc" },
    });
    // The Subscribed, then the window whole: the same bytes, one buffer, for the three.
    const whole = first.map((s) => s.frames[1]);
    assert(whole.every((f) => f === whole[0]), "made once for the three");
    assert(other.frames[1] !== whole[0], "another window has its own");
    assertEquals(decodeServerFrame(whole[0]).type, "view");
    // Rows come in blocks: the 20 asked for round out to all 30.
    const expected = Array.from({ length: 30 }, (_, i) => `s${29 - i}`);
    for (const s of first) assertEquals(s.view.ids(), expected);
    // New values, a tick: a session opening now is not sent the old tick's frame.
    await h.feed({ s0: 100 });
    await h.tick();
    const later = await open();
    assert(later.frames[1] !== whole[0], "made again after a tick");
    assertEquals(later.view.ids(), ["s0", ...expected.slice(0, 29)]);
    assertEquals(later.view.window()[0].values.t.last, 100);
    for (const s of [...first, other, later]) assertEquals(s.view.problems, []);
  } finally {
    await h.stop();
  }
});
