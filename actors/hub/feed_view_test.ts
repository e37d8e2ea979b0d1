import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { FeedView } from "./feed_view.ts";
import type { TickChanges } from "./feed_view.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";

/** A shard's flush, built by hand: `updates` rows are [sensor, metric, last, timeMs]. */
function changes(parts: {
  sensors?: [number, string, string][];
  metrics?: [number, string][];
  updates?: [number, number, number, number][];
  windows?: [sensor: number, metric: number, size: number, startMs: number, sum: number][];
  late?: [number, number][];
  statuses?: [number, string][];
  removed?: number[];
}): ShardChanges {
  const updates = allocateStates(parts.updates?.length ?? 0);
  parts.updates?.forEach(([sensor, metric, last, timeMs], i) => {
    updates.sensor[i] = sensor;
    updates.metric[i] = metric;
    updates.last[i] =
      updates.avg[i] =
      updates.min[i] =
      updates.max[i] =
        last;
    updates.timeMs[i] = timeMs;
  });
  const windows = allocateWindowStates(parts.windows?.length ?? 0);
  parts.windows?.forEach(([sensor, metric, size, startMs, sum], i) => {
    windows.sensor[i] = sensor;
    windows.metric[i] = metric;
    windows.size[i] = size;
    windows.startMs[i] = startMs;
    windows.count[i] = 1;
    windows.sum[i] = windows.min[i] = windows.max[i] = sum;
  });
  return {
    sensors: (parts.sensors ?? []).map(([index, id, group]) => ({ index, id, group })),
    metrics: (parts.metrics ?? []).map(([index, name]) => ({ index, name })),
    updates,
    windows,
    late: parts.late ?? [],
    statuses: parts.statuses ?? [],
    removed: parts.removed ?? [],
  };
}

/** Every value the view holds, as "sensor/metric" → last. */
function lasts(view: FeedView): Record<string, number> {
  const { values } = view.snapshot();
  const out: Record<string, number> = {};
  for (let i = 0; i < values.length; i++) {
    out[`${values.sensor[i]}/${values.metric[i]}`] = values.last[i];
  }
  return out;
}

Deno.test("the view merges one tick of several shards' flushes; the latest value of each metric wins", () => {
  const view = new FeedView();
  const tick = view.apply([
    changes({
      sensors: [[0, "a", "g"]],
      metrics: [[0, "t"]],
      updates: [[0, 0, 1, 10]],
    }),
    null, // a shard that did not answer this tick
    changes({ sensors: [[1, "b", "g"]], metrics: [[0, "t"], [1, "h"]], updates: [[1, 1, 5, 10]] }),
  ])!;
  assertEquals(tick.sensors.map((s) => s.id), ["a", "b"]);
  assertEquals(tick.metrics, [{ index: 0, name: "t" }, { index: 1, name: "h" }], "each name once");
  assertEquals(tick.updates.length, 2);
  view.apply([changes({ updates: [[0, 0, 2, 20]] })]);
  assertEquals(lasts(view), { "0/0": 2, "1/1": 5 });
  assertEquals([view.sensorCount, view.valueCount], [2, 2]);
  assertEquals(view.apply([changes({}), null]), null, "a tick without changes");
});

Deno.test("the view keeps statuses, late counts and their total, and the latest ended window per size", () => {
  const view = new FeedView();
  view.apply([changes({
    sensors: [[0, "a", "g"], [1, "b", "g"]],
    statuses: [[0, "ok"]],
    late: [[0, 3], [1, 1]],
    windows: [[0, 0, 0, 1_000, 10], [0, 0, 1, 0, 99]],
  })]);
  view.apply([changes({
    statuses: [[0, "fault"]],
    late: [[0, 5]],
    // A revision of an older window does not replace the newer one; a newer one does.
    windows: [[0, 0, 0, 0, 7], [0, 0, 1, 10_000, 42]],
  })]);
  assertEquals([view.status(0), view.status(1)], ["fault", null]);
  assertEquals([view.lateDropped(0), view.lateDropped(1), view.lateTotal], [5, 1, 6]);
  const w = view.windowColumns;
  const slot = (size: number) => view.windowSlot(0, 0, size);
  assertEquals([w.startMs[slot(0)], w.sum[slot(0)]], [1_000, 10]);
  assertEquals([w.startMs[slot(1)], w.sum[slot(1)]], [10_000, 42]);
});

Deno.test("a removed sensor leaves the view with its values, windows, status and late count; one re-added in the same tick stays", () => {
  const view = new FeedView();
  view.apply([changes({
    sensors: [[0, "a", "g"], [1, "b", "g"], [2, "c", "g"]],
    metrics: [[0, "t"]],
    updates: [[0, 0, 1, 1], [1, 0, 2, 1], [2, 0, 3, 1]],
    statuses: [[0, "ok"]],
    late: [[0, 4]],
    windows: [[0, 0, 0, 0, 1]],
  })]);
  const tick = view.apply([changes({
    removed: [0, 1],
    sensors: [[1, "b", "h"]], // removed and back, in another group
    updates: [[1, 0, 9, 2]],
  })])!;
  assertEquals(tick.removed, [0], "b came back in the same tick");
  assertEquals(view.sensors().map((s) => [s.id, s.group]), [["b", "h"], ["c", "g"]]);
  assertEquals(lasts(view), { "1/0": 9, "2/0": 3 });
  assertEquals([view.status(0), view.lateDropped(0), view.lateTotal], [null, 0, 0]);
  assertEquals(view.windowSlot(0, 0, 0), -1);
});

Deno.test("apply hands back each update's previous values, aligned with the updates; has is 0 where the view held none", () => {
  const view = new FeedView();
  const first = view.apply([changes({
    sensors: [[0, "a", "g"], [1, "b", "g"]],
    metrics: [[0, "t"], [1, "h"]],
    updates: [[0, 0, 1.5, 1], [1, 0, 2.5, 1]],
  })])!;
  assertEquals(Array.from(first.previous.has), [0, 0]);
  // Two shards' flushes: the previous values line up with the merged updates.
  const second = view.apply([
    changes({ updates: [[1, 0, 7, 2], [1, 1, 8, 2]] }),
    changes({ updates: [[0, 0, 9, 2]] }),
  ])!;
  assertEquals(Array.from(second.updates.sensor), [1, 1, 0]);
  assertEquals(Array.from(second.previous.has), [1, 0, 1]);
  assertEquals([second.previous.last[0], second.previous.last[2]], [2.5, 1.5]);
  assertEquals([second.previous.avg[0], second.previous.min[2], second.previous.max[2]], [
    2.5,
    1.5,
    1.5,
  ]);
  // A sensor removed and re-added in one tick holds nothing before it: its values go fresh.
  const third = view.apply([
    changes({ removed: [0], sensors: [[0, "a", "g"]], updates: [[0, 0, 3, 3]] }),
  ])!;
  assertEquals(Array.from(third.previous.has), [0]);
});

Deno.test("apply lists the sensors whose status changed in the tick, once each, with the new status", () => {
  const view = new FeedView();
  const first = view.apply([changes({
    sensors: [[0, "a", "g"], [1, "b", "g"]],
    statuses: [[0, "ok"], [1, "warn"]],
  })])!;
  assertEquals(first.statuses, [[0, "ok"], [1, "warn"]]);
  const second = view.apply([changes({ statuses: [[0, "ok"], [1, "fault"]] })])!;
  assertEquals(second.statuses, [[1, "fault"]], "an unchanged status is not listed");
});

Deno.test("values and windows past the first arrays' 1,024 (a restart's whole fleet in one merge, then more) are all kept, the latest of each", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          values: fc.integer({ min: 0, max: 3000 }),
          windows: fc.integer({ min: 0, max: 3000 }),
          seed: fc.nat(),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      (merges) => {
        const view = new FeedView();
        const last = new Map<string, number>();
        const sums = new Map<string, number>();
        let t = 0;
        for (const { values, windows, seed } of merges) {
          t++;
          // Distinct keys within one flush (as a shard sends them), overlapping earlier merges.
          const updates: [number, number, number, number][] = [];
          for (let i = 0; i < values; i++) {
            const sensor = (seed + i) % 1500, metric = Math.floor((seed + i) / 1500) % 3;
            if (i >= 4500) break;
            updates.push([sensor, metric, t * 10_000 + i, t]);
            last.set(`${sensor}/${metric}`, t * 10_000 + i);
          }
          const wins: [number, number, number, number, number][] = [];
          for (let i = 0; i < windows; i++) {
            const sensor = (seed * 7 + i) % 1200, size = Math.floor((seed * 7 + i) / 1200) % 3;
            wins.push([sensor, 0, size, t * 1000, t * 10_000 + i]);
            sums.set(`${sensor}/0/${size}`, t * 10_000 + i);
          }
          view.apply([changes({ updates, windows: wins })]);
        }
        assertEquals(lasts(view), Object.fromEntries(last));
        const kept = view.windows();
        const got = new Map<string, number>();
        for (let i = 0; i < kept.length; i++) {
          got.set(`${kept.sensor[i]}/${kept.metric[i]}/${kept.size[i]}`, kept.sum[i]);
        }
        assertEquals(got, sums);
        const w = view.windowColumns;
        for (const [key, sum] of sums) {
          const [sensor, metric, size] = key.split("/").map(Number);
          assertEquals(w.sum[view.windowSlot(sensor, metric, size)], sum, key);
        }
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("a first merge into an empty view (rows stored column by column), then more, keep what a row-by-row model keeps, repeats and revisions included; each tick's previous values hold until the second merge after", () => {
  const row = fc.tuple(fc.nat(30), fc.nat(2), fc.integer({ min: -50, max: 50 }));
  const win = fc.tuple(
    fc.nat(30),
    fc.nat(1),
    fc.nat(2),
    fc.nat(4),
    fc.integer({ min: -50, max: 50 }),
  );
  fc.assert(
    fc.property(
      // Merges of several flushes; keys repeat within and across flushes. Past two
      // merges the previous values' scratch is reused (its `has` cleared each time).
      fc.array(
        fc.array(fc.tuple(fc.array(row, { maxLength: 40 }), fc.array(win, { maxLength: 40 })), {
          maxLength: 4,
        }),
        { minLength: 1, maxLength: 6 },
      ),
      (merges) => {
        const view = new FeedView();
        const last = new Map<string, number>();
        const windows = new Map<string, [startMs: number, sum: number]>();
        const previousOf = (tick: TickChanges) =>
          Array.from(
            { length: tick.updates.length },
            (_, i) => tick.previous.has[i] ? tick.previous.last[i] : null,
          );
        let before: { tick: TickChanges; previous: (number | null)[] } | null = null;
        for (const flushes of merges) {
          const expectedPrevious: (number | null)[] = [];
          const tick = view.apply(flushes.map(([rows, wins]) =>
            changes({
              updates: rows.map(([sensor, metric, value]) => {
                const key = `${sensor}/${metric}`;
                expectedPrevious.push(last.get(key) ?? null);
                last.set(key, value);
                return [sensor, metric, value, 1];
              }),
              windows: wins.map(([sensor, metric, size, startMs, sum]) => {
                const key = `${sensor}/${metric}/${size}`;
                const held = windows.get(key);
                // A revision of an older window than the one held is not kept.
                if (!held || held[0] <= startMs) windows.set(key, [startMs, sum]);
                return [sensor, metric, size, startMs, sum];
              }),
            })
          ));
          // The tick before's previous values are still as they were.
          if (before) assertEquals(previousOf(before.tick), before.previous);
          if (!tick) {
            before = null;
            continue;
          }
          assertEquals(previousOf(tick), expectedPrevious);
          before = { tick, previous: expectedPrevious };
        }
        assertEquals(lasts(view), Object.fromEntries(last));
        const kept = view.windows();
        const got = new Map<string, [number, number]>();
        for (let i = 0; i < kept.length; i++) {
          got.set(`${kept.sensor[i]}/${kept.metric[i]}/${kept.size[i]}`, [
            kept.startMs[i],
            kept.sum[i],
          ]);
        }
        assertEquals(got, windows);
        for (const [key, [, sum]] of windows) {
          const [sensor, metric, size] = key.split("/").map(Number);
          assertEquals(view.windowColumns.sum[view.windowSlot(sensor, metric, size)], sum, key);
        }
        for (const key of last.keys()) {
          const [sensor, metric] = key.split("/").map(Number);
          assertEquals(view.values.last(view.valueSlot(sensor, metric)), last.get(key), key);
        }
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("with windowSizes given, every metric and size of a sensor keeps its own latest window, past the direct table's 4 metrics too, and one is forgotten with its sensor", () => {
  for (const windowSizes of [1, 3, 8]) {
    const view = new FeedView({ windowSizes });
    const wins: [number, number, number, number, number][] = [];
    for (let sensor = 0; sensor < 3; sensor++) {
      for (let metric = 0; metric < 6; metric++) {
        for (let size = 0; size < windowSizes; size++) {
          wins.push([sensor, metric, size, 1000, sensor * 100 + metric * 10 + size]);
        }
      }
    }
    view.apply([changes({
      sensors: [[0, "a", "g"], [1, "b", "g"], [2, "c", "g"]],
      metrics: [0, 1, 2, 3, 4, 5].map((m): [number, string] => [m, `m${m}`]),
      windows: wins,
    })]);
    const w = view.windowColumns;
    for (const [sensor, metric, size, , sum] of wins) {
      assertEquals(
        w.sum[view.windowSlot(sensor, metric, size)],
        sum,
        `${sensor}/${metric}/${size}`,
      );
    }
    assertEquals(view.windowSlot(0, 0, windowSizes), -1, "no size past those given");
    view.apply([changes({ removed: [1] })]);
    assertEquals(view.windows().length, 2 * 6 * windowSizes);
    assertEquals(view.windowSlot(1, 5, windowSizes - 1), -1);
  }
});

Deno.test("sensor(i) below sensorLimit gives the known sensors in index order, as sensors() lists them, after any adds and removals", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 40 })), { maxLength: 60 }),
      (steps) => {
        const view = new FeedView();
        const known = new Map<number, string>();
        for (const [add, index] of steps) {
          if (add) {
            view.apply([changes({ sensors: [[index, `s${index}`, "g"]] })]);
            known.set(index, `s${index}`);
          } else {
            view.apply([changes({ removed: [index] })]);
            known.delete(index);
          }
        }
        const visited: string[] = [];
        for (let i = 0; i < view.sensorLimit; i++) {
          const sensor = view.sensor(i);
          if (sensor !== undefined) visited.push(sensor.id);
        }
        // Nothing known at or past the limit.
        assertEquals(view.sensor(view.sensorLimit), undefined);
        // Independently: the indexes still known, ascending.
        const expected = [...known].sort((a, b) => a[0] - b[0]).map(([, id]) => id);
        assertEquals(visited, expected);
        assertEquals(view.sensors().map((s) => s.id), expected);
      },
    ),
  );
});
