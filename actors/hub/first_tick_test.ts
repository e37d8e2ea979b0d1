// The first tick after a restart takes every sensor at once, down paths made
// for that (values and windows stored column by column, tables grown once):
// what it leaves must be what the same data leaves over many ticks.
import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { FeedView } from "./feed_view.ts";
import { HubStats } from "./hub_stats.ts";
import { HubViews } from "./hub_views.ts";
import { RingBudget } from "./topic_stream.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";

interface Row {
  sensor: number;
  metric: number;
  value: number;
  second: number;
}
interface Win {
  sensor: number;
  metric: number;
  size: number;
  start: number;
  sum: number;
}

const T0 = 1_767_225_600_000;

function flush(
  parts: { sensors: number[]; rows: Row[]; wins: Win[]; metrics: boolean },
): ShardChanges {
  const updates = allocateStates(parts.rows.length);
  parts.rows.forEach((r, i) => {
    updates.sensor[i] = r.sensor;
    updates.metric[i] = r.metric;
    updates.last[i] = r.value;
    updates.avg[i] = r.value / 2;
    updates.min[i] = r.value - 1;
    updates.max[i] = r.value + 1;
    updates.timeMs[i] = T0 + r.second * 1000;
  });
  const windows = allocateWindowStates(parts.wins.length);
  parts.wins.forEach((w, i) => {
    windows.sensor[i] = w.sensor;
    windows.metric[i] = w.metric;
    windows.size[i] = w.size;
    windows.startMs[i] = T0 + w.start * 1000;
    windows.count[i] = 1;
    windows.sum[i] = windows.min[i] = windows.max[i] = w.sum;
  });
  return {
    sensors: parts.sensors.map((index) => ({
      index,
      id: ["S", "s0", "sensor-"][index % 3] + index,
      group: `g${index % 4}`,
    })),
    metrics: parts.metrics ? [{ index: 0, name: "t" }, { index: 1, name: "h" }] : [],
    updates,
    windows,
    late: [],
    statuses: parts.sensors.map((index) => [index, index % 5 === 0 ? "fault" : "ok"]),
    removed: [],
    levels: {
      sensor: Uint32Array.from(parts.sensors),
      level: Uint8Array.from(parts.sensors, (s) => s % 3),
    },
  };
}

/** Everything the hub's mirror and views hold, keyed by sensor (slot numbers differ). */
function state(feed: FeedView, views: HubViews, sensors: number[]) {
  const out: Record<string, unknown> = {};
  const v = feed.values, w = feed.windowColumns;
  const into = new Float32Array(60);
  for (const s of sensors) {
    for (const m of [0, 1]) {
      const slot = feed.valueSlot(s, m);
      out[`v${s}/${m}`] = slot < 0
        ? null
        : [v.last(slot), v.avg(slot), v.min(slot), v.max(slot), v.timeMs(slot)];
      for (const size of [0, 1, 2]) {
        const ws = feed.windowSlot(s, m, size);
        out[`w${s}/${m}/${size}`] = ws < 0 ? null : [w.startMs[ws], w.sum[ws]];
      }
      const n = views.sparks.read(s, m, into);
      out[`p${s}/${m}`] = [views.sparks.newestMs(s, m), ...into.subarray(0, n)];
    }
    out[`s${s}`] = [feed.status(s), feed.attention.code(s), views.table.keys.statusOf(s)];
  }
  const keys = views.table.keys;
  out.ids = [...keys.idOrder.order].map((s) => keys.id(s));
  out.groups = [...keys.groupOrder.order].map((g) => keys.groupOrder.name(g));
  out.attention = [...feed.attention.counts];
  return out;
}

function hubViews(feed: FeedView): HubViews {
  return new HubViews(feed, {
    limits: { ringMs: 30_000, ringBytes: 1 << 20 },
    budget: new RingBudget(8 << 20),
    tickMs: 100,
    maxSubscriptions: 16,
    maxSubscriptionBytes: 1 << 16,
    stats: new HubStats(),
  });
}

Deno.test("a first tick holding every sensor leaves the mirror, sparks and keys as the same data over many ticks", () => {
  // Few sensors and starts: keys repeat within and across ticks, starts tie.
  const row = fc.record({
    sensor: fc.nat(19),
    metric: fc.nat(1),
    value: fc.integer({ min: -99, max: 99 }),
    second: fc.nat(70),
  });
  const win = fc.record({
    sensor: fc.nat(19),
    metric: fc.nat(1),
    size: fc.nat(2),
    start: fc.nat(2),
    sum: fc.integer({ min: -99, max: 99 }),
  });
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(19), { minLength: 1, maxLength: 20 }),
      fc.array(row, { maxLength: 150 }),
      fc.array(win, { maxLength: 150 }),
      fc.integer({ min: 2, max: 6 }),
      (sensors, allRows, allWins, ticks) => {
        const known = new Set(sensors);
        const rows = allRows.filter((r) => known.has(r.sensor));
        const wins = allWins.filter((w) => known.has(w.sensor));
        // Two shards' flushes in one tick...
        const bulkFeed = new FeedView();
        const bulk = hubViews(bulkFeed);
        const half = (list: unknown[]) => Math.floor(list.length / 2);
        const applied = bulkFeed.apply([
          flush({
            sensors: sensors.slice(0, half(sensors)),
            rows: rows.slice(0, half(rows)),
            wins: wins.slice(0, half(wins)),
            metrics: true,
          }),
          flush({
            sensors: sensors.slice(half(sensors)),
            rows: rows.slice(half(rows)),
            wins: wins.slice(half(wins)),
            metrics: false,
          }),
        ]);
        bulk.tick(bulkFeed.judge(applied, T0 + 71_000), { now: T0 + 71_000, tickNo: 1 });
        // ...and the same over several ticks (every sensor in the first).
        const slowFeed = new FeedView();
        const slow = hubViews(slowFeed);
        for (let t = 0; t < ticks; t++) {
          const part = <T>(list: T[]) =>
            list.slice(
              Math.floor((t * list.length) / ticks),
              Math.floor(((t + 1) * list.length) / ticks),
            );
          const changes = slowFeed.apply([flush({
            sensors: t === 0 ? sensors : [],
            rows: part(rows),
            wins: part(wins),
            metrics: t === 0,
          })]);
          slow.tick(slowFeed.judge(changes, T0 + 71_000), { now: T0 + 71_000, tickNo: t + 1 });
        }
        assertEquals(state(bulkFeed, bulk, sensors), state(slowFeed, slow, sensors));
      },
    ),
    { numRuns: 300 },
  );
});
