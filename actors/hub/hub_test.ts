import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { HubBehavior } from "./hub.ts";
import { Hub } from "./hub_actor.ts";
import type { HubStartOptions } from "./hub_actor.ts";
import type { FrameSink } from "./session.ts";
import { DEFAULT_WINDOW_SPEC } from "../shards/event_window_store.ts";
import { ShardSet } from "../shards/shard_set.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { decodeServerFrame, peekServerFrame } from "../../protocol/mod.ts";

/** A connection as the hub sees it: it records frames and closes. */
class Sink implements FrameSink {
  bufferedAmount = 0;
  frames: Uint8Array[] = [];
  closedWith = 0;
  closed = false;
  heardAt = 0;
  send(frame: Uint8Array) {
    this.frames.push(frame);
  }
  close(code: number) {
    this.closedWith = code;
    this.closed = true;
  }
}

function shardSet(count: number): ShardSet {
  return ShardSet.create({ count, window: 50, windowSpec: DEFAULT_WINDOW_SPEC });
}

/** A supervised hub over `shards`; messages are taken in order, so a tick's answer follows them. */
function startHub(shards: ShardSet, options: HubStartOptions = {}): Hub {
  return new Hub(shards, { pingIntervalMs: 1e9, ...options });
}

function seqOf(frame: Uint8Array): [string, number] {
  const { type, seq } = peekServerFrame(frame);
  return [type === "subscribed" || type === "snapshot" ? type : "delta", seq];
}

Deno.test("hub sends one encoded delta per tick, the same bytes to every session, following each snapshot's seq", async () => {
  const shards = shardSet(2);
  const hub = startHub(shards);
  const feed = (from: number) =>
    shards.deliver(blockFromReadings(
      Array.from(
        { length: 20 },
        (_, i) => ({ sensorId: `s${i}`, timeMs: from + i, values: { v: from + i } }),
      ),
    ));
  const sinks = [new Sink(), new Sink(), new Sink()];
  await hub.send({ type: "join", sink: sinks[0] });
  await feed(0);
  await hub.tick();
  await hub.tick(); // nothing changed: nothing sent
  await hub.send({ type: "join", sink: sinks[1] });
  await hub.send({ type: "join", sink: sinks[2] });
  await feed(100);
  await hub.tick();
  assertEquals(sinks[0].frames.map(seqOf), [["subscribed", 0], ["snapshot", 0], ["delta", 1], [
    "delta",
    2,
  ]]);
  assertEquals(sinks[1].frames.map(seqOf), [["subscribed", 1], ["snapshot", 1], ["delta", 2]]);
  assert(
    sinks[1].frames[1] === sinks[2].frames[1],
    "one snapshot encoding for joins in the same tick",
  );
  assert(
    sinks[0].frames[3] === sinks[1].frames[2] && sinks[1].frames[2] === sinks[2].frames[2],
    "same delta bytes",
  );
  await hub.shutdown(1001);
  await hub.barrier();
  assertEquals(sinks.map((s) => s.closedWith), [1001, 1001, 1001]);
  await hub.stop();
  await shards.stop();
});

Deno.test("hub hold stops ticks; newEpoch sends every session recovered=false and a snapshot of the refilled state in a new epoch", async () => {
  const shards = shardSet(1);
  const hub = startHub(shards);
  const send = (ids: string[]) =>
    shards.deliver(blockFromReadings(
      ids.map((id, i) => ({ sensorId: id, timeMs: i, values: { v: i } })),
    ));
  const sink = new Sink();
  await hub.send({ type: "join", sink });
  await send(["a", "b"]);
  await hub.tick();
  const before = sink.frames.length;
  const epochOf = (frame: Uint8Array) => peekServerFrame(frame).epoch;
  const oldEpoch = epochOf(sink.frames[1]);

  // The source empties the shard and refills it from a scan; the hub (a
  // rebuild observer) holds before it and starts a new epoch after it.
  await shards.rebuild(async () => {
    await send(["c"]);
    await hub.tick();
    assertEquals(sink.frames.length, before, "no tick while held");
  });

  const [s, snap] = sink.frames.slice(before).map((f) => decodeServerFrame(f));
  if (s.type !== "subscribed" || snap.type !== "snapshot") throw new Error("Subscribed, Snapshot");
  assertEquals([s.recovered, s.seq], [false, 0]);
  assert(snap.epoch !== oldEpoch && snap.epoch === s.epoch, "a new epoch");
  assertEquals(snap.sensors.map((sensor) => sensor.id), ["c"]);
  // Ticks go on in the new epoch.
  await send(["c"]);
  await hub.tick();
  assertEquals(seqOf(sink.frames.at(-1)!), ["delta", 1]);
  await hub.stop();
  await shards.stop();
});

Deno.test("an idle topic dropped after the ring's time gives its frames' bytes back to the ring budget", async () => {
  const shards = shardSet(1);
  let now = 1_000_000;
  const hub = startHub(shards, { ring: { ringMs: 1_000 }, now: () => now });
  const send = (id: string, timeMs: number) =>
    shards.deliver(blockFromReadings([{ sensorId: id, timeMs, values: { v: timeMs } }]));
  const watcher = new Sink();
  await hub.send({ type: "join", sink: watcher });
  const leaving = new Sink();
  await hub.send({ type: "join", sink: leaving, explicit: true });
  await hub.send({
    type: "subscribe",
    sink: leaving,
    subscriptions: [{ id: 1, all: false, group: null, sensors: ["a"] }],
    resume: null,
  });
  await send("a", 1);
  await hub.tick();
  assertEquals(hub.stats.topics.length, 2);
  await hub.send({ type: "leave", sink: leaving });
  // Past the ring's time: the idle topic goes, and the everything-topic's
  // ring keeps only the delta of this tick.
  now += 5_000;
  await send("b", 2);
  await hub.tick();
  assertEquals(hub.stats.topics.length, 1);
  const last = watcher.frames.at(-1)!;
  assertEquals(seqOf(last)[0], "delta");
  assertEquals(hub.stats.ringBytes, last.byteLength);
  await hub.stop();
  await shards.stop();
});

const noShards = () => Promise.resolve([]);

Deno.test("whatever Subscribes a client sends, its session never holds more than the caps, and each refusal names the cap it hit", () => {
  const maxSubscriptions = 5;
  const maxSubscriptionBytes = 300;
  const subscription = fc.record({
    id: fc.nat(12),
    sensors: fc.array(fc.stringMatching(/^[a-z0-9]{1,40}$/), { maxLength: 8 }),
  });
  const message = fc.record({
    replace: fc.boolean(),
    subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }),
  });
  fc.assert(
    fc.property(fc.array(message, { maxLength: 25 }), (messages) => {
      // Subscriptions only: no tick, so no shard is asked.
      const hub = new HubBehavior({ flushAll: noShards, stateAll: noShards }, {
        pingIntervalMs: 1e9,
        maxSubscriptions,
        maxSubscriptionBytes,
      });
      const sink = new Sink();
      hub.receive({ type: "join", sink, explicit: true });
      // The model: the session's subscriptions by id, as the protocol defines them.
      let held = new Map<number, string[]>();
      for (const { replace, subscriptions } of messages) {
        const candidate = new Map(replace ? [] : held);
        let bad = 0;
        for (const s of subscriptions) {
          if (s.sensors.length === 0) bad++; // names nothing
          else candidate.set(s.id, s.sensors);
        }
        const ids = [...new Set([...candidate.values()].flat())].sort();
        // The canonical key of a list of ids (README: Topics and limits).
        const bytes = new TextEncoder().encode(`groups=;sensors=${ids.join(",")}`).byteLength;
        const seen = sink.frames.length;
        hub.receive({
          type: "subscribe",
          sink,
          subscriptions: subscriptions.map((s) => ({ ...s, all: false, group: null })),
          resume: null,
          replace,
        });
        const answers = sink.frames.slice(seen).map((frame) => {
          const decoded = decodeServerFrame(frame);
          if (decoded.type === "error") return decoded.message;
          if (decoded.type === "subscribed") return decoded.ids.sort((a, b) => a - b);
          return null;
        }).filter((a) => a !== null);
        const refusals = answers.slice(bad);
        assertEquals(answers.slice(0, bad).length, bad, "one Error per empty subscription");
        if (candidate.size === 0) {
          assertEquals(refusals, []);
        } else if (candidate.size > maxSubscriptions) {
          assertEquals(refusals.length, 1);
          assert(/at most 5 subscriptions/.test(String(refusals[0])), String(refusals[0]));
        } else if (bytes > maxSubscriptionBytes) {
          assertEquals(refusals.length, 1);
          assert(new RegExp(`take ${bytes} bytes`).test(String(refusals[0])), String(refusals[0]));
        } else {
          assertEquals(refusals, [[...candidate.keys()].sort((a, b) => a - b)]);
          held = candidate;
        }
        assert(hub.stats.topicKeyBytes <= 1 + (hub.stats.topicCount - 1) * maxSubscriptionBytes);
      }
    }),
    { numRuns: 200 },
  );
});
Deno.test("the view counts as caught up only after a tick sent once the source had caught up, never while held", async () => {
  const shards = shardSet(1);
  const hub = startHub(shards);
  let answered = 0;
  await hub.tick().then(() => answered++);
  assertEquals(
    [hub.stats.viewCaughtUp, answered],
    [false, 1],
    "a tick before the source caught up",
  );
  await shards.rebuild(async () => {
    await hub.tick({ sourceCaughtUp: true }).then(() => answered++);
    assertEquals(
      [hub.stats.viewCaughtUp, answered],
      [false, 2],
      "held: the flushes were not taken",
    );
  });
  await hub.tick({ sourceCaughtUp: true });
  assertEquals(hub.stats.viewCaughtUp, true);
  await hub.stop();
  await shards.stop();
});

/** A shard set whose shard 0 answers flushes only once `open` is called. */
function slowShards() {
  let gate = Promise.withResolvers<void>();
  let flushAsked = Promise.withResolvers<void>();
  const shards = ShardSet.create({
    count: 1,
    window: 50,
    windowSpec: DEFAULT_WINDOW_SPEC,
    wrap: (inner) => ({
      async receive(message) {
        if (message.type === "flush") {
          flushAsked.resolve();
          await gate.promise;
        }
        inner.receive(message);
      },
    }),
  });
  gate.resolve(); // open until `hold` is called
  return {
    shards,
    /** Holds the next flushes until `open`; resolves once one is asked for. */
    hold() {
      gate = Promise.withResolvers<void>();
      flushAsked = Promise.withResolvers<void>();
      return flushAsked.promise;
    },
    open: () => gate.resolve(),
  };
}

const reading = (sensorId: string, timeMs: number, v: number) =>
  blockFromReadings([{ sensorId, timeMs, values: { v } }]);

Deno.test("a sensors query sent while a tick waits for a slow shard is answered before the tick completes, from the last merge", async () => {
  const slow = slowShards();
  const hub = startHub(slow.shards);
  await slow.shards.deliver(reading("a", 1, 10));
  await hub.tick();
  await slow.shards.deliver(reading("b", 2, 20));
  const asked = slow.hold();
  let ticked = false;
  const tick = hub.tick().then(() => (ticked = true));
  await asked; // the flush is with the shard, which does not answer yet
  const page = await hub.sensors({ group: null, q: null, limit: 10, after: null, scope: null });
  assertEquals(ticked, false, "the tick is still waiting for the shard");
  assertEquals(page.sensors.map((s) => [s.id, s.metrics.v.value]), [["a", 10]]);
  // A client that joins meanwhile gets the view at the current seq; the tick's delta follows it.
  const sink = new Sink();
  await hub.send({ type: "join", sink });
  assertEquals(await hub.groups(null), [{ group: "default", sensors: 1, attention: {} }]);
  assertEquals(sink.frames.map(seqOf), [["subscribed", 1], ["snapshot", 1]]);
  slow.open();
  await tick;
  assertEquals(sink.frames.map(seqOf).at(-1), ["delta", 2]);
  const after = await hub.sensors({ group: null, q: null, limit: 10, after: null, scope: null });
  assertEquals(after.sensors.map((s) => s.id), ["a", "b"]);
  await hub.stop();
  await slow.shards.stop();
});

Deno.test("a barrier sent while a tick is in flight is answered only once that tick's flushes are merged", async () => {
  const slow = slowShards();
  const hub = startHub(slow.shards);
  const published: number[] = [];
  hub.observe({ tick: () => published.push(hub.stats.ticks), sent: () => {} });
  await slow.shards.deliver(reading("a", 1, 10));
  const asked = slow.hold();
  const order: string[] = [];
  const tick = hub.tick().then(() => order.push("tick"));
  await asked;
  const barrier = hub.barrier().then(() => order.push("barrier"));
  // A query is not held back: only the barrier waits.
  await hub.groups(null).then(() => order.push("query"));
  slow.open();
  await Promise.all([tick, barrier]);
  assertEquals(order, ["query", "tick", "barrier"]);
  assertEquals(published, [1]);
  await hub.stop();
  await slow.shards.stop();
});

/** A connection whose socket adapter throws once when the hub reads it (a bug on that side). */
class Faulty implements FrameSink {
  armed = false;
  frames: Uint8Array[] = [];
  closedWith = 0;
  closed = false;
  heardAt = 0;
  get bufferedAmount(): number {
    if (this.armed) {
      this.armed = false;
      throw new Error("adapter bug");
    }
    return 0;
  }
  send(frame: Uint8Array) {
    this.frames.push(frame);
  }
  close(code: number) {
    this.closedWith = code;
    this.closed = true;
  }
}

Deno.test("a hub that throws is restarted from the shards' whole state in a new epoch, and reconnecting clients get a consistent fresh snapshot", async () => {
  const shards = shardSet(2);
  const failures: string[] = [];
  const hub = startHub(shards, { onFailure: (r) => failures.push(`${r.actor}:${r.restarted}`) });
  // The socket side closes its sessions when told of a restart (1012, "service restart").
  const live = new Set<Sink | Faulty>();
  hub.onRestart(() => {
    for (const sink of live) sink.close(1012);
    live.clear();
  });
  const join = async (sink: Sink | Faulty) => {
    live.add(sink);
    await hub.send({ type: "join", sink });
  };
  const readings = Array.from({ length: 40 }, (_, i) => ({
    sensorId: `s${i % 8}`,
    timeMs: 1_000 + i * 250, // ten seconds of event time: windows end and close
    values: { v: i },
  }));
  await shards.deliver(blockFromReadings(readings.slice(0, 30)));
  const before = new Sink();
  await join(before);
  await hub.tick();
  const oldEpoch = peekServerFrame(before.frames[0]).epoch;
  // Readings the failed hub never merged: the new hub must still show them.
  await shards.deliver(blockFromReadings(readings.slice(30)));
  const faulty = new Faulty();
  await join(faulty);
  faulty.armed = true;
  // What the failed hub was answering dies with it: the tick's reply never comes.
  assertEquals(
    await hub.tick({ timeoutMs: 500 }).then(() => "answered", () => "no answer"),
    "no answer",
  );
  await hub.barrier(); // answered by the restarted hub
  assertEquals(failures, ["hub:true"]);
  assertEquals(hub.restarts, 1);
  assertEquals([before.closedWith, faulty.closedWith], [1012, 1012]);

  const again = new Sink();
  await join(again);
  await hub.barrier();
  const [subscribed, snapshot] = again.frames.map((f) => decodeServerFrame(f));
  if (subscribed.type !== "subscribed" || snapshot.type !== "snapshot") {
    throw new Error("Subscribed, then Snapshot");
  }
  assertEquals(subscribed.recovered, false);
  assert(snapshot.epoch !== oldEpoch, "a new epoch");
  // Every sensor's latest value, as a recomputation from the readings says.
  const latest = new Map<string, number>();
  for (const r of readings) latest.set(r.sensorId, r.values.v);
  const ids = new Map(snapshot.sensors.map((s) => [s.index, s.id]));
  const shown = new Map<string, number>();
  for (let i = 0; i < snapshot.values.length; i++) {
    shown.set(ids.get(snapshot.values.sensor[i])!, snapshot.values.last[i]);
  }
  assertEquals(shown, latest);
  // And it goes on: the next tick's delta follows the snapshot.
  await shards.deliver(reading("s0", 20_000, 99));
  await hub.tick();
  assertEquals(seqOf(again.frames.at(-1)!), ["delta", snapshot.seq + 1]);
  await hub.stop();
  await shards.stop();
});

Deno.test("the freshness observer hears each tick once, however many topics sent a delta in it", async () => {
  const shards = shardSet(1);
  const sent: number[] = [];
  const hub = new Hub(shards, { pingIntervalMs: 1e9 });
  hub.observe({ tick: () => {}, sent: (updates) => sent.push(updates.length) });
  const sinks = [new Sink(), new Sink(), new Sink()];
  for (const [i, sink] of sinks.entries()) {
    await hub.send({ type: "join", sink, explicit: true });
    await hub.send({
      type: "subscribe",
      sink,
      subscriptions: [{ id: 1, all: false, group: null, sensors: [`s${i}`] }],
      resume: null,
    });
  }
  await shards.deliver(blockFromReadings(
    [0, 1, 2].map((i) => ({ sensorId: `s${i}`, timeMs: i, values: { v: i } })),
  ));
  await hub.tick();
  assert(sinks.every((s) => seqOf(s.frames.at(-1)!)[0] === "delta"), "each topic sent a delta");
  assertEquals(sent, [3], "one observation of the tick's 3 updates");
  await hub.stop();
  await shards.stop();
});

Deno.test("a topic nobody has watched for the ring's time encodes nothing; a resume across that gap gets recovered=false and a snapshot", async () => {
  const shards = shardSet(1);
  let now = 1_000_000;
  const hub = startHub(shards, { ring: { ringMs: 1_000 }, now: () => now });
  const send = (id: string, timeMs: number) =>
    shards.deliver(blockFromReadings([{ sensorId: id, timeMs, values: { v: timeMs } }]));
  // Only a group topic is watched: the everything-topic has no session.
  const watcher = new Sink();
  await hub.send({ type: "join", sink: watcher, explicit: true });
  await hub.send({
    type: "subscribe",
    sink: watcher,
    subscriptions: [{ id: 1, all: false, group: null, sensors: ["a"] }],
    resume: null,
  });
  for (let t = 1; t <= 3; t++) {
    await send("a", t);
    await hub.tick();
    now += 100;
  }
  const everything = () => hub.stats.topics.find((t) => t.key === "*")!;
  assertEquals(everything().ring, 0, "nothing encoded for nobody");
  assertEquals(hub.stats.topics.find((t) => t.key !== "*")!.ring, 3);

  // A client on the everything-topic leaves; within the ring's time a reconnect resumes.
  const leaving = new Sink();
  await hub.send({ type: "join", sink: leaving });
  await send("a", 4);
  await hub.tick();
  const resumeAt = peekServerFrame(leaving.frames.at(-1)!);
  await hub.send({ type: "leave", sink: leaving });
  now += 500;
  await send("a", 5);
  await hub.tick();
  const back = new Sink();
  await hub.send({ type: "join", sink: back, explicit: true });
  await hub.send({
    type: "subscribe",
    sink: back,
    subscriptions: [{ id: 1, all: true, group: null, sensors: [] }],
    resume: { epoch: resumeAt.epoch, seq: resumeAt.seq },
  });
  await hub.barrier();
  const resumed = decodeServerFrame(back.frames[0]);
  assert(resumed.type === "subscribed" && resumed.recovered, "resumed within the ring's time");
  await hub.send({ type: "leave", sink: back });
  const lastSeen = peekServerFrame(back.frames.at(-1)!);

  // Unwatched for longer than the ring's time: ticks change the state but encode nothing.
  now += 2_000;
  for (let t = 6; t <= 8; t++) {
    await send("a", t);
    await hub.tick();
    now += 100;
  }
  assertEquals(everything().ring, 0, "the unwatched topic's ring holds nothing");
  const late = new Sink();
  await hub.send({ type: "join", sink: late, explicit: true });
  await hub.send({
    type: "subscribe",
    sink: late,
    subscriptions: [{ id: 1, all: true, group: null, sensors: [] }],
    resume: { epoch: lastSeen.epoch, seq: lastSeen.seq },
  });
  await hub.barrier();
  const [subscribed, snapshot] = late.frames.map((f) => decodeServerFrame(f));
  assert(subscribed.type === "subscribed" && !subscribed.recovered, "never a partial replay");
  assert(snapshot.type === "snapshot", "a snapshot follows");
  assert(snapshot.seq > lastSeen.seq, "the state moved on while nobody watched");
  assertEquals(snapshot.values.last[0], 8);
  await hub.stop();
  await shards.stop();
});
