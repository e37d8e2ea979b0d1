// Through the real shards and hub: clients on compact frames, and clients
// sent less often than every tick (coalesced frames), end up with exactly the
// state a client on full Deltas has, whatever the feed.
import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { FeedSink } from "../../tests/testing/feed_sink.ts";
import type { MetricState } from "../../tests/testing/feed_client.ts";
import { Hub } from "./hub_actor.ts";
import type { Encoding } from "./topic_stream.ts";
import { ShardSet } from "../shards/shard_set.ts";
import { DEFAULT_WINDOW_SPEC } from "../shards/event_window_store.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";

const reading = fc.record({
  sensor: fc.nat(24),
  group: fc.constantFrom("plant-a/l1", "plant-a/l2", "plant-b/l1"),
  values: fc.dictionary(
    fc.constantFrom("t", "h", "p"),
    fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: -50_000, max: 50_000 }).map((n) => n / 100) },
      { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    ),
    { minKeys: 1 },
  ),
  dt: fc.integer({ min: -200, max: 400 }),
});

/** Equal but for averages, which compact frames send with 2 decimals. */
function sameWithin(got: Record<string, MetricState>, want: Record<string, MetricState>): void {
  assertEquals(Object.keys(got), Object.keys(want));
  for (const [key, w] of Object.entries(want)) {
    const g = got[key];
    assertEquals([g.last, g.min, g.max, g.timeMs], [w.last, w.min, w.max, w.timeMs], key);
    const scaled = Math.abs(w.avg * 100) <= 2 ** 53;
    assert(
      scaled ? Math.abs(g.avg - w.avg) <= 0.005 * (1 + 1e-9) : Object.is(g.avg, w.avg),
      `${key}: avg ${g.avg} vs ${w.avg}`,
    );
  }
}

Deno.test("over any feed, compact clients and clients sent 5, 2 or 1 times a second hold exactly the full client's state (averages within 0.005)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(reading, { maxLength: 12 }), { minLength: 1, maxLength: 25 }),
      async (rounds) => {
        const shards = ShardSet.create({ count: 2, window: 5, windowSpec: DEFAULT_WINDOW_SPEC });
        const hub = new Hub(shards, { pingIntervalMs: 1e9 });
        const join = async (encoding: Encoding, o: { group?: string; slow?: number } = {}) => {
          const sink = new FeedSink();
          await hub.send({ type: "join", sink, explicit: true, encoding });
          await hub.send({
            type: "subscribe",
            sink,
            subscriptions: [{ id: 1, all: !o.group, group: o.group ?? null, sensors: [] }],
            resume: null,
          });
          // Each report of slow frames is a step down: 1, 2, 3 steps → 5, 2, 1 Hz.
          for (let i = 0; i < (o.slow ?? 0); i++) {
            await hub.send({ type: "clientStats", sink, frameP95Ms: 10_000 });
          }
          return sink;
        };
        try {
          const full = await join("full");
          const compact = await join("compact");
          const slow = [await join("compact", { slow: 1 }), await join("full", { slow: 2 })];
          const slowest = await join("compact", { slow: 3 });
          const group = [
            await join("full", { group: "plant-a" }),
            await join("compact", {
              group: "plant-a",
              slow: 2,
            }),
          ];
          let time = 1_767_225_600_000;
          for (const round of rounds) {
            await shards.deliver(blockFromReadings(round.map((r) => ({
              sensorId: `s${r.sensor}`,
              group: r.group,
              timeMs: time += r.dt,
              values: r.values,
            }))));
            await hub.tick();
          }
          // Up to a whole second of ticks more, so every rate has sent what it owes.
          for (let i = 0; i < 10; i++) await hub.tick();
          const want = full.state.state();
          for (const sink of [compact, ...slow, slowest]) {
            sameWithin(sink.state.state(), want);
          }
          sameWithin(group[1].state.state(), group[0].state.state());
          for (const sink of [full, compact, ...slow, slowest, ...group]) {
            assertEquals([sink.state.gaps, sink.state.duplicateUpdates], [0, 0]);
          }
          if (rounds.some((r) => r.length > 0)) {
            assert(compact.state.compactFrames > 0, "compact frames were sent");
            for (const sink of [...slow, slowest]) assert(sink.state.coalesced > 0, "coalesced");
            assertEquals(full.state.coalesced, 0);
          }
          assertEquals(slowest.state.intervalMs === 0 || slowest.state.intervalMs === 1000, true);
          assert(slowest.state.deltas <= Math.ceil((rounds.length + 10) / 10) + 1, "1 Hz");
        } finally {
          await hub.stop();
          await shards.stop();
        }
      },
    ),
    { numRuns: 100 },
  );
});
