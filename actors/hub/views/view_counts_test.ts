// Counting a topic's sensors by status (one view per topic counts for all on it),
// through random opens, closes, changes, evictions and expiry, against a plain recount.
import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { shardChanges } from "../../../tests/shard_changes.ts";
import { FeedView } from "../feed_view.ts";
import { matches, topicFor } from "../topic.ts";
import { ViewTable } from "./view_table.ts";
import type { ViewTableOptions } from "./view_table.ts";
import type { ViewWindow } from "./view_window.ts";
import type { View } from "./view.ts";
import type { SensorEntry } from "../../../protocol/server_frames.ts";

const topics = [
  topicFor([{ id: 1, all: true, group: null, sensors: [] }]),
  topicFor([{ id: 1, all: false, group: "a", sensors: [] }]),
  topicFor([{ id: 1, all: false, group: "b", sensors: [] }]),
];
const GROUPS = ["a", "a/x", "b", "c"];
const OPTS: Partial<ViewTableOptions> = {
  resortMs: 0,
  columnMaxAgeMs: 0,
  minSortGapMs: 0,
  staggerMs: 0,
  tickBudget: Infinity,
  sortsPerTick: Infinity,
  window: { block: 5, maxRows: 100 },
  maxViews: 4,
  viewsPerClient: 2,
  idleMs: 250,
  sorter: () => null,
};

type Op =
  | { open: number; sort: number; status: number | null; owner: number }
  | { close: number }
  | { change: number; topic: number; sort: number; status: number | null }
  | { tick: { add: [number, number][]; remove: number[]; status: [number, number][] } };

const N = 16;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ open: fc.nat(2), sort: fc.nat(2), status: fc.option(fc.nat(9)), owner: fc.nat(3) }),
  fc.record({ close: fc.nat(10) }),
  fc.record({
    change: fc.nat(10),
    topic: fc.nat(2),
    sort: fc.nat(2),
    status: fc.option(fc.nat(9)),
  }),
  fc.record({
    tick: fc.record({
      add: fc.array(fc.tuple(fc.nat(N - 1), fc.nat(GROUPS.length - 1)), { maxLength: 5 }),
      remove: fc.array(fc.nat(N - 1), { maxLength: 2 }),
      status: fc.array(fc.tuple(fc.nat(N - 1), fc.nat(9)), { maxLength: 6 }),
    }),
  }),
);
const sorts = [
  { key: { kind: "id" as const }, direction: "asc" as const },
  { key: { kind: "id" as const }, direction: "desc" as const },
  { key: { kind: "status" as const }, direction: "desc" as const },
];

/** A window's request: a topic, a sort and maybe one status code shown, the first 5 rows. */
const windowRequest = (topic: number, sort: number, status: number | null) => ({
  topic: topics[topic],
  sort: sorts[sort],
  filter: { idSubstring: "", groupPrefix: null, status: status === null ? null : [status] },
  offset: 0,
  limit: 5,
});

Deno.test("one view per topic counts by status, and the counts stay a recomputation's through opens, closes, changes, evictions and idle expiry", () => {
  let handovers = 0;
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
      const feed = new FeedView();
      const fleet = new Map<number, { id: string; group: string; status: number }>();
      const init: SensorEntry[] = [];
      for (let i = 0; i < 8; i++) {
        init.push({ index: i, id: `s${i}`, group: GROUPS[i % GROUPS.length] });
        fleet.set(i, { id: `s${i}`, group: GROUPS[i % GROUPS.length], status: 0 });
      }
      feed.apply([shardChanges({ sensors: init, metrics: ["m"] })]);
      const table = new ViewTable(feed, OPTS);
      let now = 0;
      const windows: ViewWindow[] = [];
      const check = (where: string) => {
        const views = [...table.views()];
        const counters = new Map<string, View[]>();
        for (const v of views) {
          const src = v.countsSource;
          assert(
            views.includes(src),
            `${where}: view ${v.id} counts from a dropped view ${src.id}`,
          );
          assertEquals(src.topicKey, v.topicKey);
          if (src === v) counters.set(v.topicKey, [...(counters.get(v.topicKey) ?? []), v]);
        }
        for (const v of views) {
          assertEquals(counters.get(v.topicKey)?.length, 1, `${where}: counters of ${v.topicKey}`);
          const counts = new Array(8).fill(0);
          for (const s of fleet.values()) {
            if (matches(v.topic, s.id, s.group)) counts[Math.min(s.status, 7)]++;
          }
          assertEquals(Array.from(v.topicCounts), counts, `${where}: view ${v.id}`);
        }
      };
      for (const op of ops) {
        const beforeCounters = [...table.views()].filter((v) => v.countsSource === v);
        if ("open" in op) {
          const opened = table.open(windowRequest(op.open, op.sort, op.status), {
            owners: [`address:${op.owner}`],
            now,
          });
          if ("window" in opened) windows.push(opened.window);
        } else if ("close" in op) {
          const w = windows[op.close % Math.max(1, windows.length)];
          if (w) table.close(w, now);
        } else if ("change" in op) {
          const w = windows[op.change % Math.max(1, windows.length)];
          if (w && w.closed === null) {
            table.change(w, windowRequest(op.topic, op.sort, op.status), {
              owners: ["address:9"],
              now,
            });
          }
        } else {
          const t = op.tick;
          const sensors = new Map<number, SensorEntry>();
          const removed = new Set<number>();
          for (const r of t.remove) {
            if (fleet.has(r)) {
              removed.add(r);
              fleet.delete(r);
            }
          }
          for (const [i, g] of t.add) {
            if (removed.has(i)) continue;
            sensors.set(i, { index: i, id: `s${i}`, group: GROUPS[g] });
            const known = fleet.get(i);
            if (known) known.group = GROUPS[g];
            else fleet.set(i, { id: `s${i}`, group: GROUPS[g], status: 0 });
          }
          const changes = feed.apply([
            shardChanges({ sensors: [...sensors.values()], removed: [...removed] }),
          ]);
          for (const [s, code] of t.status) {
            table.keys.setStatus(s, code);
            const f = fleet.get(s);
            if (f) f.status = code;
          }
          now += 100;
          table.advance(changes, now);
        }
        const after = new Set(table.views());
        for (const c of beforeCounters) {
          if (!after.has(c) && [...after].some((v) => v.topicKey === c.topicKey)) handovers++;
        }
        check(JSON.stringify(op));
      }
    }),
    { numRuns: 600 },
  );
  assert(handovers > 0, "the counting passed from a dropped view to another");
});
