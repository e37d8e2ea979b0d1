import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { HubBehavior } from "./hub.ts";
import { Session } from "./session.ts";
import type { FrameSink } from "./session.ts";
import { DEFAULT_WINDOW_SPEC } from "../shards/event_window_store.ts";
import { ShardSet } from "../shards/shard_set.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { decodeServerFrame, peekServerFrame } from "../../protocol/mod.ts";

class Sink implements FrameSink {
  bufferedAmount = 0;
  frames: Uint8Array[] = [];
  closedWith = 0;
  send(frame: Uint8Array) {
    this.frames.push(frame);
  }
  close(code: number) {
    this.closedWith = code;
  }
}

function shardSet(count: number): ShardSet {
  return ShardSet.create({ count, window: 50, windowSpec: DEFAULT_WINDOW_SPEC });
}

function seqOf(frame: Uint8Array): [string, number] {
  const { type, seq } = peekServerFrame(frame);
  return [type === "subscribed" || type === "snapshot" ? type : "delta", seq];
}

Deno.test("hub sends one encoded delta per tick, the same bytes to every session, following each snapshot's seq", async () => {
  const shards = shardSet(2);
  const hub = new HubBehavior(shards, { pingIntervalMs: 1e9 });
  const feed = (from: number) =>
    shards.deliver(blockFromReadings(
      Array.from(
        { length: 20 },
        (_, i) => ({ sensorId: `s${i}`, timeMs: from + i, values: { v: from + i } }),
      ),
    ));
  const sinks = [new Sink(), new Sink(), new Sink()];
  await hub.receive({ type: "join", session: new Session(1, sinks[0], 0) });
  await feed(0);
  await hub.receive({ type: "tick" });
  await hub.receive({ type: "tick" }); // nothing changed: nothing sent
  await hub.receive({ type: "join", session: new Session(2, sinks[1], 0) });
  await hub.receive({ type: "join", session: new Session(3, sinks[2], 0) });
  await feed(100);
  await hub.receive({ type: "tick" });
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
  await hub.receive({ type: "shutdown", code: 1001 });
  assertEquals(sinks.map((s) => s.closedWith), [1001, 1001, 1001]);
  await shards.stop();
});

Deno.test("hub hold stops ticks; newEpoch sends every session recovered=false and a snapshot of the refilled state in a new epoch", async () => {
  const shards = shardSet(1);
  const hub = new HubBehavior(shards, { pingIntervalMs: 1e9 });
  const send = (ids: string[]) =>
    shards.deliver(blockFromReadings(
      ids.map((id, i) => ({ sensorId: id, timeMs: i, values: { v: i } })),
    ));
  const sink = new Sink();
  await hub.receive({ type: "join", session: new Session(1, sink, 0) });
  await send(["a", "b"]);
  await hub.receive({ type: "tick" });
  const before = sink.frames.length;
  const epochOf = (frame: Uint8Array) => peekServerFrame(frame).epoch;
  const oldEpoch = epochOf(sink.frames[1]);

  await hub.receive({ type: "hold", reply: () => {} });
  // The source empties the shard and refills it from a scan.
  await shards.rebuild(async () => {
    await send(["c"]);
    await hub.receive({ type: "tick" });
  });
  assertEquals(sink.frames.length, before, "no tick while held");

  await hub.receive({ type: "newEpoch", reply: () => {} });
  const [s, snap] = sink.frames.slice(before).map(decodeServerFrame);
  if (s.type !== "subscribed" || snap.type !== "snapshot") throw new Error("Subscribed, Snapshot");
  assertEquals([s.recovered, s.seq], [false, 0]);
  assert(snap.epoch !== oldEpoch && snap.epoch === s.epoch, "a new epoch");
  assertEquals(snap.sensors.map((sensor) => sensor.id), ["c"]);
  // Ticks go on in the new epoch.
  await send(["c"]);
  await hub.receive({ type: "tick" });
  assertEquals(seqOf(sink.frames.at(-1)!), ["delta", 1]);
  await shards.stop();
});

Deno.test("an idle topic dropped after the ring's time gives its frames' bytes back to the ring budget", async () => {
  const shards = shardSet(1);
  let now = 1_000_000;
  const hub = new HubBehavior(shards, {
    pingIntervalMs: 1e9,
    ring: { ringMs: 1_000 },
    now: () => now,
  });
  const send = (id: string, timeMs: number) =>
    shards.deliver(blockFromReadings([{ sensorId: id, timeMs, values: { v: timeMs } }]));
  const watcher = new Sink();
  await hub.receive({ type: "join", session: new Session(1, watcher, 0) });
  const leaving = new Session(2, new Sink(), 0);
  await hub.receive({ type: "join", session: leaving, explicit: true });
  await hub.receive({
    type: "subscribe",
    session: leaving,
    subscriptions: [{ id: 1, all: false, group: null, sensors: ["a"] }],
    resume: null,
  });
  await send("a", 1);
  await hub.receive({ type: "tick" });
  assertEquals(hub.stats.topics.length, 2);
  await hub.receive({ type: "leave", session: leaving });
  // Past the ring's time: the idle topic goes, and the everything-topic's
  // ring keeps only the delta of this tick.
  now += 5_000;
  await send("b", 2);
  await hub.receive({ type: "tick" });
  assertEquals(hub.stats.topics.length, 1);
  const last = watcher.frames.at(-1)!;
  assertEquals(seqOf(last)[0], "delta");
  assertEquals(hub.stats.ringBytes, last.byteLength);
  await shards.stop();
});

Deno.test("whatever Subscribes a client sends, its session never holds more than the caps, and each refusal names the cap it hit", async () => {
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
  await fc.assert(
    fc.asyncProperty(fc.array(message, { maxLength: 25 }), async (messages) => {
      // Subscriptions only: no tick, so no shard is asked.
      const hub = new HubBehavior({ flushAll: () => Promise.resolve([]) }, {
        pingIntervalMs: 1e9,
        maxSubscriptions,
        maxSubscriptionBytes,
      });
      const sink = new Sink();
      const session = new Session(1, sink, 0);
      await hub.receive({ type: "join", session, explicit: true });
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
        await hub.receive({
          type: "subscribe",
          session,
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
  const hub = new HubBehavior(shards, { pingIntervalMs: 1e9 });
  let answered = 0;
  await hub.receive({ type: "tick", reply: () => answered++ });
  assertEquals(
    [hub.stats.viewCaughtUp, answered],
    [false, 1],
    "a tick before the source caught up",
  );
  await hub.receive({ type: "hold", reply: () => {} });
  await hub.receive({ type: "tick", sourceCaughtUp: true, reply: () => answered++ });
  assertEquals([hub.stats.viewCaughtUp, answered], [false, 2], "held: the flushes were not taken");
  await hub.receive({ type: "newEpoch", reply: () => {} });
  await hub.receive({ type: "tick", sourceCaughtUp: true });
  assertEquals(hub.stats.viewCaughtUp, true);
  await shards.stop();
});
