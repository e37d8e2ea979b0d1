import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { DEFAULT_WINDOW_SPEC } from "./event_window_store.ts";
import { Router } from "./router.ts";
import { ShardBehavior } from "./shard.ts";
import type { ShardChanges, ShardMessage } from "./shard_messages.ts";
import { ShardSet } from "./shard_set.ts";
import { shardFor } from "./shard_for.ts";
import type { Behavior } from "../runtime/mod.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { DEFAULT_METRICS } from "../../protocol/metric_meta.ts";

const spec = { sizesMs: [1_000, 10_000], graceMs: 2_000 };

/** A flush as plain data (the first `length` entries of reused columns copied out), for comparing. */
function plain(c: ShardChanges | null) {
  if (c === null) return null;
  const columns = (o: object) => {
    const length = (o as { length?: number }).length;
    return Object.fromEntries(
      Object.entries(o).map((
        [k, v],
      ) => [k, ArrayBuffer.isView(v) ? Array.from(v as never).slice(0, length) : v]),
    );
  };
  return {
    sensors: c.sensors.map((s) => ({ ...s })),
    metrics: c.metrics.map((m) => ({ ...m })),
    updates: columns(c.updates),
    windows: columns(c.windows),
    late: c.late.map((e) => [...e]),
    statuses: c.statuses.map((e) => [...e]),
    levels: c.levels ? columns(c.levels) : null,
    removed: [...c.removed],
  };
}

const reading = fc.record({
  sensor: fc.integer({ min: 0, max: 40 }),
  // Relative to the batch's clock: some readings late, some ahead.
  dtMs: fc.integer({ min: -4_000, max: 1_500 }),
  temperature: fc.integer({ min: 0, max: 400 }),
  humidity: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }),
  group: fc.integer({ min: 0, max: 3 }),
  status: fc.constantFrom("", "ok", "warn", "critical"),
});
const batch = fc.record({
  advanceMs: fc.integer({ min: 0, max: 2_500 }),
  readings: fc.array(reading, { maxLength: 60 }),
  flush: fc.boolean(),
});

Deno.test("--workers 0: every flush of a shard set equals, shard by shard, the flush of a shard fed the same readings directly (random readings, 1 to 16 shards)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(1, 2, 5, 16),
      fc.array(batch, { minLength: 1, maxLength: 12 }),
      async (count, batches) => {
        const options = { count, window: 4, windowSpec: spec, metrics: DEFAULT_METRICS };
        const set = ShardSet.create({ ...options, workers: 0 });
        // The recomputation: one behavior per shard, its messages handed to it by hand.
        const router = new Router(count, { metrics: DEFAULT_METRICS });
        const direct = Array.from(
          { length: count },
          () =>
            new ShardBehavior({
              window: 4,
              windowSpec: spec,
              metrics: DEFAULT_METRICS,
              names: router,
            }),
        );
        const flushDirect = () =>
          direct.map((shard) => {
            let answer: ShardChanges | null = null;
            shard.receive({ type: "flush", reply: (c) => (answer = c) });
            return plain(answer);
          });
        let clock = 100_000;
        try {
          for (const b of batches) {
            clock += b.advanceMs;
            const block = blockFromReadings(b.readings.map((r) => ({
              sensorId: `s${r.sensor}`,
              group: `g${r.group}`,
              timeMs: clock + r.dtMs,
              status: r.status,
              values: r.humidity === undefined
                ? { temperature: r.temperature / 10 } as Record<string, number>
                : { temperature: r.temperature / 10, humidity: r.humidity / 10 },
            })));
            await set.deliver(block);
            const rows = router.split(block, { hosts: 1 })[0];
            for (let k = 0; rows && k < rows.shards.length; k++) {
              direct[rows.shards[k]].receive({
                type: "readings",
                rows,
                from: rows.shardStart[k],
                to: rows.shardStart[k + 1],
              } as ShardMessage);
            }
            if (b.flush) {
              assertEquals((await set.flushAll()).map(plain), flushDirect());
            }
          }
          assertEquals((await set.flushAll()).map(plain), flushDirect());
        } finally {
          await set.stop();
        }
      },
    ),
    { numRuns: 40 },
  );
});

/** Holds shard `slow`'s flushes until `gate` resolves. */
class SlowFlush implements Behavior<ShardMessage> {
  constructor(readonly inner: ShardBehavior, readonly gate: Promise<void>) {}
  async receive(message: ShardMessage): Promise<void> {
    if (message.type === "flush") await this.gate;
    this.inner.receive(message);
  }
}

Deno.test("--workers 0: when one shard does not answer a flush in time, the others' answers are kept and its changes come with the next flush, once", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = 1;
  const set = ShardSet.create({
    count: 3,
    window: 4,
    windowSpec: DEFAULT_WINDOW_SPEC,
    workers: 0,
    wrap: (b, shard) => (shard === slow ? new SlowFlush(b, gate) : b),
  });
  const ids = Array.from({ length: 60 }, (_, i) => `sensor-${i}`);
  await set.deliver(blockFromReadings(ids.map((sensorId, i) => ({
    sensorId,
    timeMs: 1_000 + i,
    values: { t: i },
  }))));
  const expected = [0, 1, 2].map((shard) => ids.filter((id) => shardFor(id, 3) === shard).sort());
  const ids0 = (c: ShardChanges | null) => c && c.sensors.map((s) => s.id).sort();
  const first = await set.flushAll({ timeoutMs: 50 });
  assertEquals(first.map(ids0), [expected[0], null, expected[2]]);
  release();
  const second = await set.flushAll({ timeoutMs: 10_000 });
  assertEquals(second.map(ids0), [[], expected[1], []]);
  const third = await set.flushAll({ timeoutMs: 10_000 });
  assert(third.every((c) => c !== null && c.sensors.length === 0), "nothing is handed over twice");
  await set.stop();
});
