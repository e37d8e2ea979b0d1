import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { FeedView } from "./feed_view.ts";
import { topicFor } from "./topic.ts";
import { RingBudget, TopicStream } from "./topic_stream.ts";
import type { TopicFrames } from "./topic_stream.ts";
import { cursorAt, Session } from "./session.ts";
import type { FrameSink } from "./session.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import { allocateStates } from "../../protocol/columns.ts";
import { metricFlush } from "../../tests/testing/metric_flush.ts";
import { decodeServerFrame } from "../../protocol/server_frames.ts";
import type { DeltaEvent, SnapshotEvent } from "../../protocol/server_frames.ts";

function flush(
  sensors: [number, string, string][],
  values: [number, number][],
  removed: number[] = [],
): ShardChanges {
  return metricFlush({
    sensors: sensors.map(([index, id, group]) => ({ index, id, group })),
    values,
    removed,
  });
}

function stream(view: FeedView, groups: string[], limits = { ringMs: 1_000, ringBytes: 1 << 20 }) {
  const { key, spec } = topicFor(
    groups.map((group, i) => ({ id: i + 1, all: false, group, sensors: [] as string[] })),
  );
  const topic = new TopicStream(key, spec, view, { limits, budget: new RingBudget(1 << 30) });
  // Watched: a topic nobody receives encodes nothing.
  topic.join(new Session(watcher), "full", cursorAt(0));
  return topic;
}

const watcher: FrameSink = {
  send() {},
  bufferedAmount: 0,
  close() {},
  closed: false,
  heardAt: 0,
};

const delta = (frames: TopicFrames | null) => decodeServerFrame(frames!.full!) as DeltaEvent;

Deno.test("a topic's delta carries only its sensors: those that enter, leave, and change", () => {
  const view = new FeedView();
  const topic = stream(view, ["plant-a"]);
  const first = delta(topic.advance(
    view.apply([flush([[0, "a1", "plant-a/l1"], [1, "b1", "plant-b"]], [[0, 10], [1, 20]])])!,
    0,
  ));
  assertEquals(first.seq, 1);
  assertEquals(first.sensors.map((s) => s.id), ["a1"]);
  assertEquals(Array.from(first.updates.last), [10]);
  // b1 changes: nothing for this topic, and no seq is used.
  assertEquals(topic.advance(view.apply([flush([], [[1, 21]])])!, 1), null);
  assertEquals(topic.seq, 1);
  // a1 moves out of plant-a, b1 moves in: one leaves, one enters.
  const moved = delta(topic.advance(
    view.apply([flush([[0, "a1", "plant-z"], [1, "b1", "plant-a/l2"]], [[1, 22]])])!,
    2,
  ));
  assertEquals(moved.seq, 2);
  assertEquals([moved.sensors.map((s) => s.id), moved.removed], [["b1"], [0]]);
  assertEquals(Array.from(moved.updates.sensor), [1]);
});

Deno.test("a topic replays the frames after a seq while its ring holds them all, else asks for a snapshot", () => {
  const view = new FeedView();
  const topic = stream(view, ["g"], { ringMs: 1_000, ringBytes: 1 << 20 });
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) {
    sent.push(topic.advance(view.apply([flush([[0, "s", "g"]], [[0, i]])])!, i * 400)!.full!);
  }
  assertEquals(topic.ringLength, 3, "frames older than a second are gone");
  assertEquals(topic.replay(4), [], "up to date");
  assertEquals(topic.replay(2), [sent[2], sent[3]], "the very same bytes, in order");
  assertEquals(topic.replay(1), [sent[1], sent[2], sent[3]]);
  assertEquals(topic.replay(0), null, "frame 1 is gone: a snapshot instead");
  assertEquals(topic.replay(9), null, "a seq this topic never reached");
});

Deno.test("a topic's snapshot holds its sensors at its seq, encoded once per seq", () => {
  const view = new FeedView();
  const topic = stream(view, ["g"]);
  topic.advance(view.apply([flush([[0, "in", "g"], [1, "out", "h"]], [[0, 1], [1, 2]])])!, 0);
  const bytes = topic.snapshot(view, 5);
  assert(topic.snapshot(view, 6) === bytes, "the same encoding for the same seq");
  const snapshot = decodeServerFrame(bytes) as SnapshotEvent;
  assertEquals([snapshot.seq, snapshot.epoch], [1, topic.epoch]);
  assertEquals(snapshot.sensors.map((s) => s.id), ["in"]);
  assertEquals(Array.from(snapshot.values.last), [1]);
  const catchUp = decodeServerFrame(topic.snapshot(view, 7, { catchUp: true })) as SnapshotEvent;
  assertEquals(catchUp.catchUp, true);
});

Deno.test("a released topic gives its ring's bytes back to the shared budget", () => {
  const view = new FeedView();
  const budget = new RingBudget(1 << 30);
  const { key, spec } = topicFor([{ id: 1, all: true, group: null, sensors: [] }]);
  const topic = new TopicStream(key, spec, view, {
    limits: { ringMs: 60_000, ringBytes: 1 << 20 },
    budget,
  });
  topic.join(new Session(watcher), "full", cursorAt(0));
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    bytes += topic.advance(view.apply([flush([[0, "s", "g"]], [[0, i]])])!, i)!.full!.byteLength;
  }
  assertEquals(budget.used, bytes);
  topic.release();
  assertEquals([budget.used, topic.ringLength], [0, 0]);
});

Deno.test("a sensor that moves into a topic brings all its current values, as a snapshot would", () => {
  const view = new FeedView();
  const topic = stream(view, ["g2"]);
  const twoMetrics = (sensors: [number, string, string][], values: [number, number, number][]) => {
    const change = flush(sensors, []);
    const updates = allocateStates(values.length);
    values.forEach(([sensor, metric, last], i) => {
      updates.sensor[i] = sensor;
      updates.metric[i] = metric;
      updates.last[i] =
        updates.avg[i] =
        updates.min[i] =
        updates.max[i] =
          last;
      updates.timeMs[i] = 1_000;
    });
    return {
      ...change,
      metrics: [{ index: 0, name: "t" }, { index: 1, name: "h" }],
      updates,
    };
  };
  topic.advance(view.apply([twoMetrics([[0, "a", "g1"]], [[0, 0, 20], [0, 1, 50]])])!, 0);
  // a moves to g2, reporting only h: the topic's clients have never seen its t.
  const moved = delta(topic.advance(view.apply([twoMetrics([[0, "a", "g2"]], [[0, 1, 51]])])!, 1));
  assertEquals(moved.sensors.map((s) => s.id), ["a"]);
  const got = Array.from(
    { length: moved.updates.length },
    (_, i) => [moved.updates.metric[i], moved.updates.last[i]],
  ).sort((x, y) => x[0] - y[0]);
  assertEquals(got, [[0, 20], [1, 51]]);
  // And exactly what a snapshot of the topic now holds.
  const snapshot = decodeServerFrame(topic.snapshot(view, 2)) as SnapshotEvent;
  assertEquals(
    Array.from(
      { length: snapshot.values.length },
      (_, i) => [snapshot.values.metric[i], snapshot.values.last[i]],
    ).sort((x, y) => x[0] - y[0]),
    got,
  );
});

Deno.test("a topic makes its group aggregates only in a tick it encodes, and then carries them", () => {
  const entry = {
    group: "plant-a",
    size: 0,
    metric: 0,
    startMs: 0,
    sensors: 1,
    count: 2,
    sum: 21,
    min: 10,
    max: 11,
  };
  let made = 0;
  const aggregates = () => {
    made++;
    return [entry];
  };
  // Nobody has watched this one for longer than its ring: it encodes nothing.
  const view = new FeedView();
  const { key, spec } = topicFor([{ id: 1, all: false, group: "plant-a", sensors: [] }]);
  const unwatched = new TopicStream(key, spec, view, {
    limits: { ringMs: 1_000, ringBytes: 1 << 20 },
    budget: new RingBudget(1 << 30),
  });
  const tick = view.apply([flush([[0, "a1", "plant-a/l1"]], [[0, 10]])])!;
  assertEquals(unwatched.advance(tick, 5_000, { aggregates }), null);
  assertEquals(made, 0);
  // A watched topic with news makes them once and sends them.
  const watched = stream(view, ["plant-a"]);
  const frame = delta(watched.advance(tick, 5_000, { aggregates }));
  assertEquals(made, 1);
  assertEquals(frame.aggregates, [entry]);
});

Deno.test("a topic's updates are exactly the tick's updates of its members, in order, every column", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom("plant-a/l1", "plant-b", "plant-a"), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.array(
        fc.array(fc.tuple(fc.nat(), fc.double({ noNaN: true, noDefaultInfinity: true })), {
          minLength: 1,
          maxLength: 40,
        }),
        { minLength: 1, maxLength: 4 },
      ),
      (groups, ticks) => {
        const view = new FeedView();
        const topic = stream(view, ["plant-a"]);
        const sensors = groups.map((group, i): [number, string, string] => [i, `s${i}`, group]);
        ticks.forEach((tick, t) => {
          const values = tick.map(([s, v]): [number, number] => [s % groups.length, v]);
          const changes = flush(t === 0 ? sensors : [], values);
          // Every column different, so a column copied from the wrong one shows.
          values.forEach(([, v], k) => {
            changes.updates.avg[k] = v + 1;
            changes.updates.min[k] = v - 1;
            changes.updates.max[k] = v + 2;
            changes.updates.timeMs[k] = 1_000 + k;
          });
          const frame = topic.advance(view.apply([changes])!, t);
          // Independently: the tick's rows whose sensor's group is under plant-a, as flushed.
          const expected = values.map(([s, v], k) => ({ s, v, k }))
            .filter(({ s }) => groups[s].startsWith("plant-a"));
          if (frame === null) {
            assertEquals(expected.length, 0);
            return;
          }
          const u = delta(frame).updates;
          assertEquals(Array.from(u.sensor), expected.map(({ s }) => s));
          assertEquals(Array.from(u.last), expected.map(({ v }) => v));
          assertEquals(Array.from(u.avg), expected.map(({ v }) => v + 1));
          assertEquals(Array.from(u.min), expected.map(({ v }) => v - 1));
          assertEquals(Array.from(u.max), expected.map(({ v }) => v + 2));
          assertEquals(Array.from(u.timeMs), expected.map(({ k }) => 1_000 + k));
        });
      },
    ),
  );
});
