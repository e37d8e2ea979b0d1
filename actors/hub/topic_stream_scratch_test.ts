import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { FeedView } from "./feed_view.ts";
import { topicFor } from "./topic.ts";
import { RingBudget, TopicStream } from "./topic_stream.ts";
import { cursorAt, Session } from "./session.ts";
import type { FrameSink } from "./session.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import { metricFlush } from "../../tests/testing/metric_flush.ts";
import { decodeServerFrame } from "../../protocol/server_frames.ts";
import type { DeltaEvent } from "../../protocol/server_frames.ts";
import { decodeCompactDelta } from "../../protocol/compact_delta.ts";
import type { BaseColumns, BaseValues } from "../../protocol/compact_delta.ts";
import { inflateFrame } from "../../protocol/compression.ts";

// Topics filter each tick into scratch columns they share, and copy previous
// values only when a compact session needs them: every topic's frames must
// still carry exactly its own sensors' values, tick after tick.

const GROUPS = ["plant-a", "plant-b", "plant-c"];

const watcher: FrameSink = { send() {}, bufferedAmount: 0, close() {}, closed: false, heardAt: 0 };

function topicOf(view: FeedView, group: string, compact: boolean): TopicStream {
  const { key, spec } = topicFor([{ id: 1, all: false, group, sensors: [] as string[] }]);
  const topic = new TopicStream(key, spec, view, {
    limits: { ringMs: 60_000, ringBytes: 1 << 24 },
    budget: new RingBudget(1 << 30),
  });
  topic.join(new Session(watcher), "full", cursorAt(0));
  if (compact) topic.join(new Session(watcher), "compact", cursorAt(0));
  return topic;
}

/** One flush: every sensor is known (index i is `s<i>` in GROUPS[i % 3]); values are [sensor, last]. */
function flush(sensors: number, values: [number, number][], first: boolean): ShardChanges {
  return metricFlush({
    sensors: first
      ? Array.from(
        { length: sensors },
        (_, i) => ({ index: i, id: `s${i}`, group: `${GROUPS[i % 3]}/line` }),
      )
      : [],
    values,
    namesMetric: first,
  });
}

/** A client's values for one metric, per sensor: what a compact frame is coded against. */
class ClientValues implements BaseValues {
  readonly values = new Map<number, number>();
  slot(sensor: number): number {
    return this.values.has(sensor) ? sensor : -1;
  }
  columns(): BaseColumns {
    const at = (s: number) => this.values.get(s) ?? NaN;
    const column = new Proxy([], { get: (_, k) => at(Number(k)) }) as unknown as number[];
    return { last: column, avg: column, min: column, max: column };
  }
}

/** sensor → last of a delta's updates, in sensor order. */
function lastBySensor(
  updates: { length: number; sensor: ArrayLike<number>; last: ArrayLike<number> },
) {
  const out: [number, number][] = [];
  for (let i = 0; i < updates.length; i++) out.push([updates.sensor[i], updates.last[i]]);
  return out.sort((a, b) => a[0] - b[0]);
}

Deno.test("topics advanced on one tick each send exactly their own sensors' new values, in full and compact frames", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 3, max: 40 }),
      fc.array(
        fc.array(fc.tuple(fc.nat(39), fc.integer({ min: -500, max: 500 })), { maxLength: 60 }),
        {
          minLength: 1,
          maxLength: 6,
        },
      ),
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      (sensors, ticks, compact) => {
        const view = new FeedView();
        const topics = GROUPS.map((g, i) => topicOf(view, g, compact[i]));
        const clients = GROUPS.map(() => new ClientValues());
        ticks.forEach((raw, t) => {
          // One value per sensor a tick (the latest of the generated ones), so the model is plain.
          const latest = new Map<number, number>();
          for (const [s, v] of raw) if (s < sensors) latest.set(s, v / 4);
          const tick = view.apply([flush(sensors, [...latest], t === 0)]);
          // A tick with no change is no tick.
          if (tick === null) return assertEquals(latest.size, 0);
          topics.forEach((topic, k) => {
            const frames = topic.advance(tick, 1_000 + t, { tickNo: t + 1 });
            const expected = [...latest].filter(([s]) => s % 3 === k).sort((a, b) => a[0] - b[0]);
            if (frames === null) {
              assertEquals(expected, [], `topic ${k} tick ${t}: no frame`);
              return;
            }
            const full = decodeServerFrame(frames.full!) as DeltaEvent;
            assertEquals(lastBySensor(full.updates), expected, `topic ${k} tick ${t}: full`);
            if (compact[k]) {
              const decoded = decodeCompactDelta(inflateFrame(frames.compact!), {
                base: clients[k],
              });
              assertEquals(
                lastBySensor(decoded.updates),
                expected,
                `topic ${k} tick ${t}: compact`,
              );
            }
            for (const [s, v] of expected) clients[k].values.set(s, v);
          });
        });
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("a coalesced frame of a topic names every sensor it changed since, though later topics filtered the same ticks", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uniqueArray(fc.nat(29), { maxLength: 20 }), { minLength: 2, maxLength: 6 }),
      (ticks) => {
        const view = new FeedView();
        const topics = GROUPS.map((g) => topicOf(view, g, false));
        const touched = GROUPS.map(() => new Map<number, number>());
        ticks.forEach((sensors, t) => {
          const values: [number, number][] = sensors.map((s) => [s, t * 100 + s]);
          const tick = view.apply([flush(30, values, t === 0)]);
          if (tick !== null) {
            topics.forEach((topic) => topic.advance(tick, 1_000 + t, { tickNo: t + 1 }));
          }
          // After the first tick: what a client at tick 1 lacks, per topic.
          if (t > 0) {
            for (const [s, v] of values) touched[s % 3].set(s, v);
          }
        });
        const last = ticks.length;
        topics.forEach((topic, k) => {
          const frame = topic.coalesced(1, {
            tickNo: last,
            encoding: "full",
            view,
            period: last,
            now: 1_000 + last,
          });
          const expected = [...touched[k]].sort((a, b) => a[0] - b[0]);
          if (frame === null) return assertEquals(expected, [], `topic ${k}: nothing changed`);
          if (frame === "snapshot") throw new Error(`topic ${k}: asked for a snapshot`);
          const decoded = decodeServerFrame(frame) as DeltaEvent;
          assertEquals(lastBySensor(decoded.updates), expected, `topic ${k}: coalesced`);
        });
      },
    ),
    { numRuns: 60 },
  );
});
