import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { FeedView } from "./feed_view.ts";
import { covers, topicFor } from "./topic.ts";
import { RingBudget, TopicStream } from "./topic_stream.ts";
import { TopicRows } from "./topic_rows.ts";
import { cursorAt, Session } from "./session.ts";
import type { FrameSink } from "./session.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import { metricFlush } from "../../tests/testing/metric_flush.ts";
import { decodeServerFrame } from "../../protocol/server_frames.ts";
import type { DeltaEvent } from "../../protocol/server_frames.ts";

const GROUPS = ["a", "a/x", "b", "b/y", "c"];
const PREFIXES = ["a", "a/x", "b", "c", "d"];
const SENSORS = 12;

const watcher: FrameSink = { send() {}, bufferedAmount: 0, close() {}, closed: false, heardAt: 0 };

/** A tick's flush: sensor entries (new or moved), updates (one metric, "t"), removals. */
function flush(
  entries: [number, string][],
  values: [number, number][],
  removed: number[],
): ShardChanges {
  const sensors = entries.map(([index, group]) => ({ index, id: `s${index}`, group }));
  return metricFlush({ sensors, values, removed });
}

/** One step of the fleet: per sensor, nothing, a value, a value and a move, or a removal. */
const step = fc.array(
  fc.record({
    kind: fc.constantFrom("none", "value", "move", "remove"),
    group: fc.constantFrom(...GROUPS),
    value: fc.integer({ min: -1000, max: 1000 }),
  }),
  { minLength: SENSORS, maxLength: SENSORS },
);

const subscription = fc.record({
  groups: fc.uniqueArray(fc.constantFrom(...PREFIXES), { maxLength: 2 }),
  ids: fc.uniqueArray(fc.nat(SENSORS - 1), { maxLength: 3 }),
  scope: fc.constantFrom(null, ["a"], ["b", "c"]),
});

Deno.test("topics whose tick updates are split in one pass send each its members' updates, in the tick's order, then those of sensors entering", () => {
  fc.assert(
    fc.property(
      fc.array(subscription, { minLength: 1, maxLength: 6 }),
      fc.array(step, { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(SENSORS - 1), { minLength: SENSORS, maxLength: SENSORS }),
      (subscriptions, steps, order) => {
        const view = new FeedView();
        const split = new TopicRows();
        const topics = subscriptions.map((s) => {
          const requests = [
            ...s.groups.map((group, i) => ({ id: i + 1, all: false, group, sensors: [] })),
            ...(s.ids.length > 0
              ? [{ id: 9, all: false, group: null, sensors: s.ids.map((i) => `s${i}`) }]
              : []),
          ];
          const { key, spec } = topicFor(requests, s.scope);
          const topic = new TopicStream(key, spec, view, {
            limits: { ringMs: 1_000, ringBytes: 1 << 20 },
            budget: new RingBudget(1 << 30),
            rows: split,
          });
          topic.join(new Session(watcher), "full", cursorAt(0));
          // Membership worked out here, from the subscription alone.
          const takes = (index: number, group: string) =>
            (s.scope === null || s.scope.some((p) => covers(p, group))) &&
            (s.ids.includes(index) || s.groups.some((p) => covers(p, group)));
          return { topic, takes, members: new Set<number>() };
        });
        // The model: each known sensor's group and last value.
        const group = new Map<number, string>();
        const last = new Map<number, number>();
        steps.forEach((changes, t) => {
          const entries: [number, string][] = [];
          const values: [number, number][] = [];
          const removed: number[] = [];
          // Rows in a shuffled order, so a topic's rows are not by sensor.
          for (const index of new Set([...order, ...changes.keys()])) {
            const c = changes[index];
            const known = group.has(index);
            if (c.kind === "remove") {
              if (!known) continue;
              removed.push(index);
              group.delete(index);
              last.delete(index);
              continue;
            }
            if (c.kind === "none" && known) continue;
            if (!known || c.kind === "move") {
              entries.push([index, c.group]);
              group.set(index, c.group);
            }
            values.push([index, c.value]);
            last.set(index, c.value);
          }
          const tick = view.apply([flush(entries, values, removed)]);
          if (tick === null) return;
          // As the hub does: every topic's membership, one split, then each topic.
          for (const { topic } of topics) topic.admit(tick);
          split.split(tick.updates);
          for (const { topic, takes, members } of topics) {
            const frames = topic.advance(tick, 1_000 + t);
            const now = new Set([...group].filter(([i, g]) => takes(i, g)).map(([i]) => i));
            const updated = values.filter(([i]) => now.has(i));
            const entering = entries.map(([i]) => i)
              .filter((i) => now.has(i) && !members.has(i) && !values.some(([u]) => u === i));
            const expected = [
              ...updated,
              ...entering.map((i): [number, number] => [i, last.get(i)!]),
            ];
            const got = frames?.full ? decodeServerFrame(frames.full) as DeltaEvent : null;
            const pairs = got
              ? Array.from(got.updates.sensor, (s, i): [number, number] => [s, got.updates.last[i]])
              : [];
            assertEquals(pairs, expected, `topic ${topic.key}, tick ${t}`);
            members.clear();
            for (const i of now) members.add(i);
          }
          split.clear();
        });
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a split lists each slot's member rows in order, and none once a slot is released", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), {
        minLength: 1,
        maxLength: 70,
      }),
      fc.array(fc.nat(45), { maxLength: 200 }),
      fc.nat(69),
      (memberships, sensors, dropped) => {
        const split = new TopicRows();
        const slots = memberships.map((m) => {
          const slot = split.acquire();
          m.forEach((is, s) => split.set(s, slot, is));
          return slot;
        });
        const updates = { length: sensors.length, sensor: Uint32Array.from(sensors) };
        const gone = dropped % memberships.length;
        split.release(slots[gone]);
        split.split(updates);
        memberships.forEach((m, t) => {
          const expected = t === gone
            ? []
            : sensors.flatMap((s, i) => s < m.length && m[s] ? [i] : []);
          const n = split.taken(slots[t], updates);
          assertEquals(Array.from(split.rows(slots[t]).subarray(0, n)), expected);
        });
        split.clear();
        assertEquals(split.taken(slots[0], updates), -1);
      },
    ),
  );
});
