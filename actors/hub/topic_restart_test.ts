// A topic's frames when a member starts over (removed and re-added): the
// tick's own frame, a frame covering several ticks, and the ring's replay.
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { FeedState } from "../../tests/testing/feed_client.ts";
import { FeedView } from "./feed_view.ts";
import { topicFor } from "./topic.ts";
import { RingBudget, TopicStream } from "./topic_stream.ts";
import type { TopicFrames } from "./topic_stream.ts";
import { cursorAt, Session } from "./session.ts";
import type { FrameSink } from "./session.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import { metricFlush } from "../../tests/testing/metric_flush.ts";
import { decodeServerFrame } from "../../protocol/server_frames.ts";

const T = 1_767_225_600_000;

/** One shard flush: sensors [index, id], values [sensor, last] of metric "t", late counts. */
function flush(
  o: {
    sensors?: [number, string][];
    values?: [number, number][];
    removed?: number[];
    late?: [number, number][];
  },
): ShardChanges {
  return metricFlush({
    sensors: (o.sensors ?? []).map(([index, id]) => ({ index, id, group: "g" })),
    values: o.values,
    removed: o.removed,
    late: o.late,
    timeMs: (last) => T + last,
  });
}

const watcher: FrameSink = {
  send() {},
  bufferedAmount: 0,
  close() {},
  closed: false,
  heardAt: 0,
};

/** A topic on group "g" over a fresh view, watched in both encodings, with a client of each. */
function setup() {
  const view = new FeedView();
  const { key, spec } = topicFor([{ id: 1, all: false, group: "g", sensors: [] }]);
  const topic = new TopicStream(key, spec, view, {
    limits: { ringMs: 60_000, ringBytes: 1 << 20 },
    budget: new RingBudget(1 << 30),
  });
  topic.join(new Session(watcher), "full", cursorAt(0));
  topic.join(new Session({ ...watcher }), "compact", cursorAt(0));
  let tickNo = 0;
  const clients = { full: new FeedState(), compact: new FeedState() };
  clients.full.apply(topic.snapshot(view, T));
  clients.compact.apply(topic.snapshot(view, T, { encoding: "compact" }));
  return {
    view,
    topic,
    clients,
    /** Merges one flush as tick n + 1; returns its frames (not yet applied). */
    tick(change: ShardChanges): TopicFrames | null {
      const merged = view.judge(view.apply([change]), T + 100 * ++tickNo);
      return merged ? topic.advance(merged, T + 100 * tickNo, { tickNo }) : null;
    },
    get tickNo() {
      return tickNo;
    },
  };
}

const held = (c: FeedState) => ({ values: c.state(), late: Object.fromEntries(c.late) });

Deno.test("a topic's frame for the tick a member restarted says so, full and compact; its clients then hold the new sensor only, and the ring replays those bytes", () => {
  const t = setup();
  const first = t.tick(flush({
    sensors: [[0, "a"], [1, "b"]],
    values: [[0, 90], [1, 20]],
    late: [[0, 4]],
  }))!;
  for (const encoding of ["full", "compact"] as const) t.clients[encoding].apply(first[encoding]!);
  const seqBefore = t.topic.seq;
  const frames = t.tick(flush({ removed: [0], sensors: [[0, "a"]], values: [[0, 3]] }))!;
  const full = decodeServerFrame(frames.full!);
  assert(full.type === "delta");
  assertEquals([full.restarted, full.removed], [[0], []]);
  for (const encoding of ["full", "compact"] as const) {
    t.clients[encoding].apply(frames[encoding]!);
    // A fleet where "a" only ever sent 3.
    assertEquals(held(t.clients[encoding]), {
      values: {
        "a/t": { last: 3, avg: 3, min: 3, max: 3, timeMs: T + 3 },
        "b/t": { last: 20, avg: 20, min: 20, max: 20, timeMs: T + 20 },
      },
      late: {},
    }, encoding);
    assertEquals(t.topic.replay(seqBefore, encoding), [frames[encoding]!], `${encoding} replay`);
  }
});

Deno.test("a frame covering several ticks tells a restart, or a removal and a return ticks apart, and carries nothing gathered of the old sensor", () => {
  const t = setup();
  const first = t.tick(flush({ sensors: [[0, "a"], [1, "b"]], values: [[0, 90], [1, 20]] }))!;
  t.clients.full.apply(first.full!);
  const since = t.tickNo;
  // Covered: the old "a" is late-counted, then restarts; "b" leaves, then comes back.
  t.tick(flush({ late: [[0, 4]], removed: [1] }));
  t.tick(flush({ removed: [0], sensors: [[0, "a"]], values: [[0, 3]] }));
  t.tick(flush({ sensors: [[1, "b"]], values: [[1, 7]] }));
  const covering = t.topic.coalesced(since, {
    tickNo: t.tickNo,
    encoding: "full",
    view: t.view,
    period: 3,
    now: T + 100 * t.tickNo,
  });
  assert(covering instanceof Uint8Array);
  const frame = decodeServerFrame(covering);
  assert(frame.type === "delta");
  assertEquals([[...frame.restarted!].sort(), frame.removed], [[0, 1], []]);
  t.clients.full.apply(covering);
  assertEquals(held(t.clients.full), {
    values: {
      "a/t": { last: 3, avg: 3, min: 3, max: 3, timeMs: T + 3 },
      "b/t": { last: 7, avg: 7, min: 7, max: 7, timeMs: T + 7 },
    },
    late: {},
  });
});
