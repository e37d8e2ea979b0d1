import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { listingCompare } from "../../../tests/listing_order.ts";
import { shardChanges } from "../../../tests/shard_changes.ts";
import type { StateRow } from "../../../tests/shard_changes.ts";
import { FeedView } from "../feed_view.ts";
import { matches, topicFor } from "../topic.ts";
import type { TopicSpec } from "../topic.ts";
import type { SensorEntry } from "../../../protocol/server_frames.ts";
import { ViewTable } from "./view_table.ts";
import type { ViewTableOptions, WindowRequest } from "./view_table.ts";
import type { ViewWindow } from "./view_window.ts";
import type { OrderSorter, SortedOrder } from "./order_sorter.ts";
import { SortWorker } from "./sort_worker.ts";
import { NO_FILTER } from "./view_spec.ts";
import type { MetricField, SortKey, ViewFilter, ViewSort } from "./view_spec.ts";

const everything = topicFor([{ id: 1, all: true, group: null, sensors: [] }]);
const groupTopic = (group: string) => topicFor([{ id: 1, all: false, group, sensors: [] }]);
const me = { owners: ["address:a"] };
const BLOCK = 5;
/** Every tick may re-order every view: the schedule is tested on its own below. */
const EAGER: Partial<ViewTableOptions> = {
  resortMs: 0,
  columnMaxAgeMs: 0,
  minSortGapMs: 0,
  staggerMs: 0,
  tickBudget: Infinity,
  sortsPerTick: Infinity,
  window: { block: BLOCK, maxRows: 100 },
};

/** A FeedView fed by hand-made flushes, and a table over it, on a clock of 100 ms ticks. */
class Harness {
  readonly feed = new FeedView();
  table!: ViewTable;
  now = 0;

  constructor(
    options: Partial<ViewTableOptions> = EAGER,
    before?: Parameters<typeof shardChanges>[0],
  ) {
    if (before) this.feed.apply([shardChanges(before)]);
    this.table = new ViewTable(this.feed, options);
  }

  tick(parts: Parameters<typeof shardChanges>[0] = {}, statuses: [number, number][] = []) {
    for (const [s, code] of statuses) this.table.keys.setStatus(s, code);
    const changes = this.feed.apply([shardChanges(parts)]);
    this.now += 100;
    return this.table.advance(changes, this.now);
  }

  open(request: Partial<WindowRequest>, owners = me.owners): ViewWindow {
    const opened = this.table.open({
      topic: everything,
      sort: { key: { kind: "id" }, direction: "asc" },
      filter: NO_FILTER,
      offset: 0,
      limit: BLOCK,
      ...request,
    }, { owners, now: this.now });
    if ("refused" in opened) throw new Error(opened.refused);
    return opened.window;
  }
}

const sensor = (index: number, id: string, group = "g"): SensorEntry => ({ index, id, group });
const value = (sensor: number, last: number, timeMs = 1_000, metric = 0): StateRow => ({
  sensor,
  metric,
  last,
  timeMs,
});
const byMetric = (direction: "asc" | "desc", field: MetricField = "last"): ViewSort => ({
  key: { kind: "metric", metric: 0, field },
  direction,
});
const ids = (h: Harness, rows: Iterable<number>) => [...rows].map((s) => h.table.keys.id(s));

// ---------------------------------------------------------------------------
// The model: the fleet as plain objects, and a view's rows by a plain sort
// with the documented rules.

interface ModelSensor {
  id: string;
  group: string;
  values: Map<number, StateRow>;
  seen: number;
  status: number;
}

function modelKey(s: ModelSensor, key: SortKey): number {
  switch (key.kind) {
    case "seen":
      return s.seen;
    case "status":
      return s.status === 0 ? NaN : s.status;
    case "metric": {
      const row = s.values.get(key.metric);
      if (!row) return NaN;
      return { last: row.last, avg: row.avg!, min: row.min!, max: row.max! }[key.field];
    }
    default:
      return NaN;
  }
}

function modelRows(
  fleet: Map<number, ModelSensor>,
  view: { topic: TopicSpec; sort: ViewSort; filter: ViewFilter },
): { rows: number[]; total: number } {
  const f = view.filter;
  const inTopic = [...fleet].filter(([, s]) => matches(view.topic, s.id, s.group));
  const rows = inTopic.filter(([, s]) =>
    s.id.toLowerCase().includes(f.idSubstring.trim().toLowerCase()) &&
    (f.groupPrefix === null || s.group === f.groupPrefix ||
      s.group.startsWith(f.groupPrefix + "/")) &&
    (f.status === null || f.status.includes(s.status))
  );
  const dir = view.sort.direction === "asc" ? 1 : -1;
  const key = view.sort.key;
  rows.sort(([, a], [, b]) => {
    if (key.kind === "id") return dir * listingCompare(a.id, b.id);
    if (key.kind === "group") {
      return dir * listingCompare(a.group, b.group) || listingCompare(a.id, b.id);
    }
    const x = modelKey(a, key), y = modelKey(b, key);
    const xMissing = Number.isNaN(x), yMissing = Number.isNaN(y);
    if (xMissing !== yMissing) return xMissing ? 1 : -1;
    if (!xMissing && x !== y) return x < y ? -dir : dir;
    return listingCompare(a.id, b.id);
  });
  return { rows: rows.map(([index]) => index), total: inTopic.length };
}

type Step =
  | { add: number; group: string }
  | { regroup: number; group: string }
  | { remove: number }
  | { update: number; metric: number; last: number; avg: number; timeMs: number }
  | { status: number; code: number };

const GROUPS = ["", "a", "a/b", "a/b2", "A/10", "a/2", "b"];
const VALUES = [-1, 0, -0, 0.5, 2, 2, 10, 1e9];

const sortArb: fc.Arbitrary<ViewSort> = fc.record({
  key: fc.oneof(
    fc.constant<SortKey>({ kind: "id" }),
    fc.constant<SortKey>({ kind: "group" }),
    fc.constant<SortKey>({ kind: "seen" }),
    fc.constant<SortKey>({ kind: "status" }),
    fc.record({
      kind: fc.constant("metric" as const),
      metric: fc.nat(2),
      field: fc.constantFrom<MetricField>("last", "avg", "min", "max"),
    }),
  ),
  direction: fc.constantFrom("asc" as const, "desc" as const),
});
const filterArb: fc.Arbitrary<ViewFilter> = fc.record({
  idSubstring: fc.constantFrom("", "1", "S", "a0", " x "),
  groupPrefix: fc.constantFrom(null, "a", "a/b", "b"),
  status: fc.constantFrom(null, [0], [1, 2], [2]),
});
const topicArb = fc.constantFrom(everything, groupTopic("a"), groupTopic("a/b"));
const stepArb = (n: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ add: fc.nat(n - 1), group: fc.constantFrom(...GROUPS) }) },
    {
      weight: 1,
      arbitrary: fc.record({ regroup: fc.nat(n - 1), group: fc.constantFrom(...GROUPS) }),
    },
    { weight: 1, arbitrary: fc.record({ remove: fc.nat(n - 1) }) },
    {
      weight: 6,
      arbitrary: fc.record({
        update: fc.nat(n - 1),
        metric: fc.nat(2),
        last: fc.constantFrom(...VALUES),
        avg: fc.constantFrom(...VALUES),
        timeMs: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_050 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ status: fc.nat(n - 1), code: fc.nat(3) }) },
  );

Deno.test("every window's rows, counts (and its topic's by status) and news equal a plain recomputation, for any fleet, updates, filters and sorts", () => {
  const N = 24;
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.stringMatching(/^[sS]-?[0-9]{0,3}[a-c]?$/), { minLength: N, maxLength: N }),
      fc.array(fc.array(stepArb(N), { maxLength: 12 }), { minLength: 1, maxLength: 10 }),
      fc.array(
        fc.record({
          topic: topicArb,
          sort: sortArb,
          filter: filterArb,
          offset: fc.nat(25),
          limit: fc.integer({ min: 1, max: 12 }),
          held: fc.boolean(),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      fc.nat(2),
      fc.option(fc.record({ at: fc.nat(9), filter: filterArb, sort: sortArb })),
      (names, ticks, requests, loadAfter, change) => {
        const fleet = new Map<number, ModelSensor>();
        const feed = new FeedView();
        let table: ViewTable | null = null;
        let windows: { window: ViewWindow; request: WindowRequest; before: number[] }[] = [];
        let now = 0;
        ticks.forEach((steps, t) => {
          const sensors = new Map<number, SensorEntry>();
          const removed = new Set<number>();
          const updates = new Map<string, StateRow>();
          const statuses: [number, number][] = [];
          const touched = new Set<number>();
          const groupAtStart = new Map([...fleet].map(([i, s]) => [i, s.group]));
          for (const step of steps) {
            if ("add" in step || "regroup" in step) {
              const index = "add" in step ? step.add : step.regroup;
              const known = fleet.get(index);
              if ("regroup" in step && !known) continue;
              if (known?.group === step.group) continue;
              // FeedView applies a flush's removals before its sensors.
              if (removed.has(index)) continue;
              sensors.set(index, sensor(index, names[index], step.group));
              if (known) {
                known.group = step.group;
                // A group changed and changed back within a flush is no change.
                if (groupAtStart.get(index) === step.group) {
                  sensors.delete(index);
                  touched.delete(index);
                  continue;
                }
              } else {
                fleet.set(index, {
                  id: names[index],
                  group: step.group,
                  values: new Map(),
                  seen: NaN,
                  status: 0,
                });
              }
              touched.add(index);
            } else if ("remove" in step) {
              if (!fleet.has(step.remove) || sensors.has(step.remove)) continue;
              removed.add(step.remove);
              fleet.delete(step.remove);
              for (const key of updates.keys()) {
                if (key.startsWith(`${step.remove}:`)) updates.delete(key);
              }
              touched.delete(step.remove);
            } else if ("update" in step) {
              const s = fleet.get(step.update);
              if (!s) continue;
              // As a shard reports it: a metric's time never goes back (its last value is the newest by event time).
              const timeMs = Math.max(step.timeMs, s.values.get(step.metric)?.timeMs ?? -Infinity);
              const row = {
                sensor: step.update,
                metric: step.metric,
                last: step.last,
                avg: step.avg,
                min: Math.min(step.last, step.avg),
                max: Math.max(step.last, step.avg),
                timeMs,
              };
              updates.set(`${step.update}:${step.metric}`, row);
              s.values.set(step.metric, row);
              if (!(s.seen >= timeMs)) s.seen = timeMs;
              touched.add(step.update);
            } else if (table !== null) {
              const s = fleet.get(step.status);
              if (!s) continue;
              statuses.push([step.status, step.code]);
            }
          }
          const changes = feed.apply([
            shardChanges({
              sensors: [...sensors.values()],
              metrics: ["m0", "m1", "m2"],
              updates: [...updates.values()],
              removed: [...removed],
            }),
          ]);
          now += 100;
          if (table === null) {
            if (t < loadAfter) return;
            // The table starts from the feed's state so far.
            table = new ViewTable(feed, EAGER);
            // A twin of the first request: two windows at one place share their news' arrays.
            const asked = [...requests, { ...requests[0], held: false }];
            windows = asked.map((r) => {
              const request = { ...r, filter: { ...r.filter } };
              const opened = table!.open(request, { owners: me.owners, now });
              assert("window" in opened, JSON.stringify(opened));
              return { window: opened.window, request, before: [] };
            });
            table.advance(null, now);
            for (const w of windows) {
              w.before = [...w.window.rows];
              if (asked[windows.indexOf(w)].held) w.window.hold();
            }
            return;
          }
          // A status is news when the tick ends on another than it started with: one set
          // and set back within the tick changed nothing a client shows.
          const statusAtStart = new Map<number, number>();
          for (const [s, code] of statuses) {
            table.keys.setStatus(s, code);
            if (!fleet.has(s)) continue; // removed later in the tick: the status goes with it
            if (!statusAtStart.has(s)) statusAtStart.set(s, fleet.get(s)!.status);
            fleet.get(s)!.status = code;
          }
          for (const [s, start] of statusAtStart) {
            if (fleet.has(s) && fleet.get(s)!.status !== start) touched.add(s);
          }
          if (change && change.at === t) {
            const w = windows[0];
            w.request = { ...w.request, filter: change.filter, sort: change.sort };
            const changed = table.change(w.window, w.request, { owners: me.owners, now });
            assert("window" in changed);
          }
          table.advance(changes, now);
          for (const w of windows) {
            const { window, request } = w;
            const expected = modelRows(fleet, { ...request, topic: request.topic.spec });
            assertEquals([window.total, window.matching], [expected.total, expected.rows.length]);
            // The topic's sensors by status code, whatever the filter.
            const counts = new Array(8).fill(0);
            for (const s of fleet.values()) {
              if (matches(request.topic.spec, s.id, s.group)) counts[s.status]++;
            }
            assertEquals(Array.from(window.view.topicCounts), counts);
            const rows = [...window.rows];
            if (window.held) {
              // Held: the rows it had, less sensors removed from the fleet.
              assertEquals(rows, w.before.filter((s) => fleet.has(s)));
            } else {
              const start = Math.floor(request.offset / BLOCK) * BLOCK;
              const end = Math.ceil((request.offset + request.limit) / BLOCK) * BLOCK;
              assertEquals(
                ids({ table } as Harness, rows),
                ids({ table } as Harness, expected.rows.slice(start, end)),
              );
            }
            const before = new Set(w.before);
            assertEquals([...window.entered], rows.filter((s) => !before.has(s)));
            assertEquals([...window.left], w.before.filter((s) => !rows.includes(s)));
            assertEquals(
              [...window.changed],
              rows.filter((s) => before.has(s) && touched.has(s)),
            );
            w.before = rows;
          }
        });
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("equal keys keep id order in both directions, and missing values go last in both", () => {
  const h = new Harness(EAGER, {
    sensors: ["s10", "s9", "s2", "S1", "s3", "s20"].map((id, i) => sensor(i, id)),
    updates: [value(0, 5), value(1, 5), value(2, 7), value(3, 5), value(5, 7)], // s3 has none
  });
  const asc = h.open({ sort: byMetric("asc"), limit: 10 });
  const desc = h.open({ sort: byMetric("desc"), limit: 10 });
  const idDesc = h.open({ sort: { key: { kind: "id" }, direction: "desc" }, limit: 10 });
  h.tick();
  assertEquals(ids(h, asc.rows), ["S1", "s9", "s10", "s2", "s20", "s3"]);
  assertEquals(ids(h, desc.rows), ["s2", "s20", "S1", "s9", "s10", "s3"]);
  assertEquals(ids(h, idDesc.rows), ["s20", "s10", "s9", "s3", "s2", "S1"]);
  // A new ordering with the same values changes nothing: the rows do not swap.
  h.tick({ updates: [value(1, 5, 2_000), value(0, 5, 2_000)] });
  assertEquals([asc.moved, desc.moved], [false, false]);
  assertEquals(ids(h, asc.rows), ["S1", "s9", "s10", "s2", "s20", "s3"]);
});

Deno.test("a held window keeps its rows while values change, deltas still flow, and release takes the newest order", () => {
  const h = new Harness(EAGER, {
    sensors: [0, 1, 2, 3, 4, 5].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2, 3, 4, 5].map((i) => value(i, i)),
  });
  const w = h.open({ sort: byMetric("desc"), limit: 3 }); // rounded to 5 rows
  h.tick();
  assertEquals(ids(h, w.rows), ["s5", "s4", "s3", "s2", "s1"]);
  w.hold();
  h.tick({ updates: [value(0, 100, 2_000), value(5, -1, 2_000)] });
  assertEquals(ids(h, w.rows), ["s5", "s4", "s3", "s2", "s1"]);
  assertEquals([w.moved, ids(h, w.changed)], [false, ["s5"]]);
  h.tick({ updates: [value(4, 50, 3_000)] });
  assertEquals([w.moved, ids(h, w.changed), ids(h, w.rows)[0]], [false, ["s4"], "s5"]);
  w.release();
  h.tick();
  assertEquals(ids(h, w.rows), ["s0", "s4", "s3", "s2", "s1"]);
  assertEquals([w.moved, ids(h, w.entered), ids(h, w.left)], [true, ["s0"], ["s5"]]);
});

Deno.test("a row leaving the window and coming back yields an exit, then an entry with full state", () => {
  const h = new Harness(EAGER, {
    sensors: [0, 1, 2, 3, 4, 5, 6].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2, 3, 4, 5, 6].map((i) => value(i, 10 + i)),
  });
  const top = h.open({ sort: byMetric("desc"), limit: 5 });
  h.tick();
  assertEquals(ids(h, top.rows), ["s6", "s5", "s4", "s3", "s2"]);
  let news = h.tick({ updates: [value(6, 0, 2_000)] });
  assert(news.includes(top));
  assertEquals([ids(h, top.left), ids(h, top.entered)], [["s6"], ["s1"]]);
  h.tick({ updates: [value(5, 11.5, 3_000)] });
  assertEquals([ids(h, top.left), ids(h, top.entered), top.moved], [[], [], true]); // moved within
  news = h.tick({ updates: [value(6, 99, 4_000)] });
  assert(news.includes(top));
  // Back in: an entry (the hub sends its full state and its last minute), not a delta.
  assertEquals([ids(h, top.entered), ids(h, top.left), ids(h, top.changed)], [["s6"], ["s1"], []]);
  assertEquals(ids(h, top.rows), ["s6", "s4", "s3", "s2", "s5"]);
});

Deno.test("a filter change re-windows the session and reports only the new rows as entering", () => {
  const h = new Harness(EAGER, {
    sensors: [
      sensor(0, "pump-1", "a"),
      sensor(1, "pump-2", "a"),
      sensor(2, "valve-1", "a"),
      sensor(3, "valve-2", "b"),
      sensor(4, "pump-3", "b"),
    ],
  });
  const w = h.open({ limit: 5 });
  h.tick();
  assertEquals(ids(h, w.entered), ["pump-1", "pump-2", "pump-3", "valve-1", "valve-2"]);
  const request = {
    topic: everything,
    sort: { key: { kind: "id" }, direction: "asc" } as ViewSort,
    filter: { ...NO_FILTER, idSubstring: "PUMP" },
    offset: 0,
    limit: 5,
  };
  assert("window" in h.table.change(w, request, { ...me, now: h.now }));
  h.tick();
  assertEquals(ids(h, w.rows), ["pump-1", "pump-2", "pump-3"]);
  assertEquals([ids(h, w.entered), ids(h, w.left)], [[], ["valve-1", "valve-2"]]);
  assertEquals([w.total, w.matching], [5, 3]);
  h.table.change(w, { ...request, filter: { ...NO_FILTER, groupPrefix: "b" } }, {
    ...me,
    now: h.now,
  });
  h.tick();
  assertEquals(ids(h, w.rows), ["pump-3", "valve-2"]);
  assertEquals([ids(h, w.entered), ids(h, w.left)], [["valve-2"], ["pump-1", "pump-2"]]);
});

Deno.test("a removed sensor leaves every window, held or not, and the counts drop at once", () => {
  const h = new Harness({ ...EAGER, resortMs: 60_000 }, {
    sensors: [0, 1, 2, 3, 4, 5, 6].map((i) => sensor(i, `s${i}`, i < 4 ? "a" : "b")),
    updates: [0, 1, 2, 3, 4, 5, 6].map((i) => value(i, i)),
  });
  const plain = h.open({ limit: 5 });
  const held = h.open({ sort: byMetric("desc"), limit: 5 });
  const scoped = h.open({ topic: groupTopic("a"), limit: 5 });
  h.tick();
  held.hold();
  assertEquals(ids(h, held.rows), ["s6", "s5", "s4", "s3", "s2"]);
  h.tick({ removed: [3] });
  for (const w of [plain, held, scoped]) {
    assert(!w.rows.includes(3));
    assertEquals([...w.left], [3]);
    assert(w.countsChanged);
  }
  assertEquals([plain.total, plain.matching, scoped.total, scoped.matching], [6, 6, 3, 3]);
  // Unheld windows close the gap; the held one keeps its other rows where they were.
  assertEquals(ids(h, plain.rows), ["s0", "s1", "s2", "s4", "s5"]);
  assertEquals(ids(h, plain.entered), ["s5"]);
  assertEquals(ids(h, held.rows), ["s6", "s5", "s4", "s2"]);
  assertEquals(ids(h, scoped.rows), ["s0", "s1", "s2"]);
});

Deno.test("counts follow sensors coming, going, changing group and changing status", () => {
  const h = new Harness(EAGER, {
    sensors: [sensor(0, "x0", "a/1"), sensor(1, "x1", "a/2"), sensor(2, "y", "b")],
  });
  const w = h.open({
    topic: groupTopic("a"),
    filter: { idSubstring: "x", groupPrefix: null, status: [0, 2] },
  });
  h.tick();
  assertEquals([w.total, w.matching], [2, 2]);
  h.tick({ sensors: [sensor(2, "y", "a/3"), sensor(3, "x3", "a/1")] });
  assertEquals([w.total, w.matching], [4, 3]);
  h.tick({}, [[0, 1]]); // status 1 is not shown
  assertEquals([w.total, w.matching], [4, 2]);
  h.tick({ sensors: [sensor(1, "x1", "c")], removed: [3] });
  assertEquals([w.total, w.matching, w.countsChanged], [2, 0, true]);
  h.tick();
  assertEquals(w.countsChanged, false);
});

Deno.test("values re-order a view at most once per resortMs; an operator's resort is served at once", () => {
  const h = new Harness({ ...EAGER, resortMs: 1000, columnMaxAgeMs: 0 }, {
    sensors: [0, 1, 2].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2].map((i) => value(i, i)),
  });
  const w = h.open({ sort: byMetric("desc") });
  const other = h.open({ sort: byMetric("desc"), limit: 1 });
  h.tick();
  assertEquals([h.now, ids(h, w.rows)], [100, ["s2", "s1", "s0"]]);
  // s0 rises every tick; the order catches up once, one second after it was taken.
  const movedAt: number[] = [];
  for (let t = 0; t < 15; t++) {
    h.tick({ updates: [value(0, 20 + t, 2_000 + t)] });
    if (w.moved) movedAt.push(h.now);
  }
  assertEquals(movedAt, [1_100]);
  assertEquals(ids(h, w.rows), ["s0", "s2", "s1"]);
  h.tick({ updates: [value(1, 1_000, 9_000)] });
  assertEquals(ids(h, w.rows), ["s0", "s2", "s1"]); // not due until 2100
  w.resort();
  h.tick();
  assertEquals([h.now, ids(h, w.rows)], [1_800, ["s1", "s0", "s2"]]);
  // The view is shared: the other window follows the new order too.
  assertEquals(ids(h, other.rows), ["s1", "s0", "s2"]);
});

Deno.test("a sensor turning warn or critical goes to the top of a status-sorted view at once; other status changes wait", () => {
  const h = new Harness({ ...EAGER, resortMs: 1000, columnMaxAgeMs: 1000, minSortGapMs: 100 }, {
    sensors: [0, 1, 2].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2].map((i) => value(i, i)),
  });
  const byStatus: ViewSort = { key: { kind: "status" }, direction: "desc" };
  const w = h.open({ sort: byStatus });
  h.tick({}, [[0, 1], [1, 1], [2, 1]]);
  h.tick();
  h.tick();
  assertEquals(ids(h, w.rows), ["s0", "s1", "s2"]);
  h.tick({}, [[1, 2]]); // stale: not urgent, waits for the schedule
  assertEquals(ids(h, w.rows), ["s0", "s1", "s2"]);
  h.tick({}, [[2, 5]]); // critical: ordered in this tick
  assertEquals(ids(h, w.rows), ["s2", "s1", "s0"]);
});

Deno.test("due orderings beyond a tick's budget wait for the next tick, so views spread over ticks", () => {
  const h = new Harness({ ...EAGER, resortMs: 1000, tickBudget: 1 }, {
    sensors: [0, 1, 2].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2].map((i) => value(i, i)),
  });
  const windows = [0, 1, 2, 3].map((i) =>
    h.open({
      sort: byMetric("desc"),
      filter: { ...NO_FILTER, idSubstring: `${i === 3 ? "" : "s"}` },
    })
  );
  // Two distinct views (idSubstring "s" and ""), ordered on their first tick (new views are forced).
  h.tick();
  assertEquals(h.table.last.orderings, 2);
  for (let t = 0; t < 9; t++) h.tick({ updates: [value(0, 10 + t, 2_000 + t)] });
  h.tick({ updates: [value(0, 100, 3_000)] });
  // Both are due now; a budget of one unit lets one through per tick.
  assertEquals([h.table.last.orderings, h.table.last.deferred], [1, 1]);
  h.tick({ updates: [value(0, 101, 3_001)] });
  assertEquals([h.table.last.orderings, h.table.last.deferred], [1, 0]);
  assertEquals(windows.length, 4);
});

Deno.test("stale shared orders due in one tick are sorted one a tick, the other views waiting their turn", () => {
  // The default sortsPerTick (1); a budget that would let all three through.
  const { sortsPerTick: _, ...schedule } = { ...EAGER, resortMs: 1000, columnMaxAgeMs: 1000 };
  const h = new Harness(schedule, {
    sensors: [0, 1, 2].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2].map((i) => value(i, i)),
  });
  const fields: MetricField[] = ["last", "min", "max"];
  const windows = fields.map((field) => h.open({ sort: byMetric("desc", field) }));
  h.tick();
  // New views are ordered (and their orders sorted) at once, together.
  assertEquals([h.table.last.sorts, h.table.last.orderings], [3, 3]);
  // Values reversed: every order is stale, and all three views come due at 1,100 ms.
  const reversed = [0, 1, 2].map((i) => ({ ...value(i, 10 - i, 2_000), min: 10 - i, max: 10 - i }));
  h.tick({ updates: reversed });
  const perTick: [number, number, number][] = [];
  while (h.now < 1_400) {
    h.tick();
    if (h.now >= 1_100) {
      perTick.push([h.table.last.sorts, h.table.last.orderings, h.table.last.deferred]);
    }
  }
  assertEquals(perTick, [[1, 1, 2], [1, 1, 1], [1, 1, 0], [0, 0, 0]]);
  for (const w of windows) assertEquals(ids(h, w.rows), ["s0", "s1", "s2"]);
});

Deno.test("orders sorted every tick for rising statuses do not hold back the schedule's sorts", () => {
  const { sortsPerTick: _, ...schedule } = { ...EAGER, resortMs: 1000, columnMaxAgeMs: 1000 };
  const h = new Harness(schedule, {
    sensors: [0, 1, 2].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2].map((i) => value(i, i)),
  });
  h.open({ sort: { key: { kind: "status" }, direction: "desc" } });
  const byValue = h.open({ sort: byMetric("desc") });
  h.tick();
  assertEquals(ids(h, byValue.rows), ["s2", "s1", "s0"]);
  h.tick({ updates: [0, 1, 2].map((i) => value(i, 10 - i, 2_000)) });
  // Every tick one sensor becomes critical: the status view is ordered (its order sorted) at once, each tick.
  for (let k = 0; h.now < 1_500; k++) h.tick({}, [[k % 2, 5], [(k + 1) % 2, 0]]);
  assertEquals(ids(h, byValue.rows), ["s0", "s1", "s2"]);
});

Deno.test("windows at the same place share a slice key, whatever their height within a block", () => {
  const h = new Harness({ ...EAGER, window: { block: 50, maxRows: 1000 } }, {
    sensors: Array.from({ length: 300 }, (_, i) => sensor(i, `s${i}`)),
  });
  const a = h.open({ offset: 0, limit: 38 });
  const b = h.open({ offset: 0, limit: 45 });
  const c = h.open({ offset: 10, limit: 40 });
  const d = h.open({ offset: 120, limit: 40 }, ["address:b"]);
  h.tick();
  assertEquals([a.offset, a.limit, c.offset, c.limit, d.offset, d.limit], [0, 50, 0, 50, 100, 100]);
  assertEquals(a.frameKey, b.frameKey);
  assertEquals(a.frameKey, c.frameKey);
  assert(a.frameKey !== d.frameKey);
  assertEquals(ids(h, d.rows).slice(0, 2), ["s100", "s101"]);
  assertEquals(h.table.viewCount, 1);
});

Deno.test("scrolling past the rows taken so far serves the right rows, from the same order", () => {
  const n = 2_000;
  const h = new Harness({ ...EAGER, resortMs: 60_000, window: { block: 50, maxRows: 100 } }, {
    sensors: Array.from({ length: n }, (_, i) => sensor(i, `s${i}`)),
    updates: Array.from({ length: n }, (_, i) => value(i, (i * 7919) % 1000)),
  });
  const w = h.open({ sort: byMetric("asc"), limit: 50 });
  h.tick();
  const view = w.view;
  assert(view.length < n, "the view took only what its windows need");
  const version = view.version;
  h.table.change(w, { ...requestOf(w), offset: 1_900, limit: 100 }, { ...me, now: h.now });
  h.tick();
  // Keys sorted: values (i * 7919) % 1000 for i < 2000 take each value twice.
  const expected = Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => (a * 7919) % 1000 - (b * 7919) % 1000 || listingCompare(`s${a}`, `s${b}`))
    .slice(1_900, 2_000);
  assertEquals([...w.rows], expected);
  assertEquals(view.version, version); // the rows above did not move
});

Deno.test("a scroll to rows of members that came after the view's order shows them at once, not at its next ordering", () => {
  const first = 100, n = 300;
  const v = (i: number) => (i * 37) % 101;
  const h = new Harness({ ...EAGER, resortMs: 60_000, window: { block: 50, maxRows: 100 } }, {
    sensors: Array.from({ length: first }, (_, i) => sensor(i, `s${i}`)),
    updates: Array.from({ length: first }, (_, i) => value(i, v(i))),
  });
  const w = h.open({ sort: byMetric("desc"), limit: 50 });
  h.tick();
  // The rest of the fleet comes; the view's next ordering is a minute away.
  h.tick({
    sensors: Array.from({ length: n - first }, (_, k) => sensor(first + k, `s${first + k}`)),
    updates: Array.from({ length: n - first }, (_, k) => value(first + k, v(first + k))),
  });
  assertEquals(w.view.matching, n);
  const changed = h.table.change(w, { ...requestOf(w), offset: 250, limit: 50 }, {
    ...me,
    now: h.now,
  });
  assert("window" in changed);
  h.table.serve(w, h.now);
  // Descending by value, equal values in id order.
  const expected = Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => v(b) - v(a) || listingCompare(`s${a}`, `s${b}`))
    .slice(250, 300);
  assertEquals(ids(h, w.rows), expected.map((i) => `s${i}`));
});

Deno.test("a slice asked for before the view took its rows is made again once they are taken, under another key", () => {
  const n = 2_000;
  const v = (i: number) => (i * 7919) % 1000;
  const h = new Harness({ ...EAGER, resortMs: 60_000, window: { block: 50, maxRows: 100 } }, {
    sensors: Array.from({ length: n }, (_, i) => sensor(i, `s${i}`)),
    updates: Array.from({ length: n }, (_, i) => value(i, v(i))),
  });
  const w = h.open({ sort: byMetric("asc"), limit: 50 });
  h.tick();
  const view = w.view;
  assert(view.length < 1_900, "the view took only what its windows need");
  // Something asks for the place first (a window's place, a frame): nothing taken there yet.
  const early = view.slice(1_900, 100);
  assertEquals(early.rows.length, 0);
  const version = view.version;
  h.table.change(w, { ...requestOf(w), offset: 1_900, limit: 100 }, { ...me, now: h.now });
  h.table.serve(w, h.now);
  assertEquals(view.version, version); // taken further, not ordered again
  const expected = Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => v(a) - v(b) || listingCompare(`s${a}`, `s${b}`))
    .slice(1_900, 2_000);
  assertEquals([...w.rows], expected);
  assert(w.shown!.key !== early.key, "equal keys, equal rows");
});

function requestOf(w: ViewWindow): WindowRequest {
  return {
    topic: { key: w.view.topicKey, spec: w.view.topic },
    sort: w.view.sort,
    filter: w.view.filter,
    offset: w.offset,
    limit: w.limit,
  };
}

Deno.test("views with the same sort key share one order, sorted once, whatever their topic, filter or direction", () => {
  const h = new Harness(EAGER, {
    sensors: [0, 1, 2, 3].map((i) => sensor(i, `s${i}`, i % 2 ? "a" : "b")),
    updates: [0, 1, 2, 3].map((i) => value(i, -i)),
  });
  const a = h.open({ sort: byMetric("desc") });
  const b = h.open({ sort: byMetric("desc"), topic: groupTopic("a") });
  const c = h.open({ sort: byMetric("desc"), filter: { ...NO_FILTER, idSubstring: "3" } });
  const d = h.open({ sort: byMetric("asc") });
  h.tick();
  assertEquals([h.table.viewCount, h.table.columnCount, h.table.last.sorts], [4, 1, 1]);
  assertEquals([ids(h, a.rows), ids(h, b.rows), ids(h, c.rows), ids(h, d.rows)], [
    ["s0", "s1", "s2", "s3"],
    ["s1", "s3"],
    ["s3"],
    ["s3", "s2", "s1", "s0"],
  ]);
  for (const w of [a, b, c, d]) h.table.close(w, h.now);
  h.tick();
  assertEquals([h.table.viewCount, h.table.windowCount], [4, 0]); // idle, kept for idleMs
  h.now += 30_000;
  h.tick();
  assertEquals([h.table.viewCount, h.table.columnCount, h.table.keys.metricColumnCount], [0, 0, 0]);
});

Deno.test("a client at its share of views is refused in its own words; a full table evicts idle views, then a hoarder's, closing their windows", () => {
  const h = new Harness({ ...EAGER, maxViews: 3, viewsPerClient: 2 });
  const open = (idSubstring: string, owners: string[]) =>
    h.table.open({
      topic: everything,
      sort: { key: { kind: "id" }, direction: "asc" },
      filter: { ...NO_FILTER, idSubstring },
      offset: 0,
      limit: 5,
    }, { owners, now: h.now });
  const x = ["address:x"];
  assert("window" in open("a", x));
  const second = open("b", x);
  assert("window" in second);
  const third = open("c", x);
  assert(
    "refused" in third && /this address already holds 2 views/.test(third.refused),
    JSON.stringify(third),
  );
  // Joining a view that exists is never refused.
  assert("window" in open("a", x));
  const y = ["address:y"];
  assert("window" in open("d", y));
  // Full, nothing idle: x holds two, more than z's none plus one, so one of x's gives way.
  const z = open("e", ["address:z"]);
  assert("window" in z);
  assertEquals(z.evicted.length, 1);
  // Of x's views, the one with the fewest windows: "b".
  const [gone] = z.evicted;
  assert(gone === second.window && gone.closed !== null && /evicted/.test(gone.closed));
  // x, y and z hold one each now: a newcomer is refused.
  const full = open("f", ["address:w"]);
  assert("refused" in full && /3 distinct views/.test(full.refused), JSON.stringify(full));
  assertEquals([h.table.viewCount, h.table.windowCount], [3, 4]);
  // An idle view makes room at once.
  const zWindow = z.window;
  h.table.close(zWindow, h.now);
  const after = open("f", ["address:w"]);
  assert("window" in after);
  assertEquals(after.evicted, []);
  assertEquals(h.table.viewCount, 3);
});

Deno.test("malformed requests get clear errors and change nothing", () => {
  const h = new Harness();
  const bad: [Partial<WindowRequest>, RegExp][] = [
    [{ limit: 0 }, /limit 0 is not an integer in 1\.\.100/],
    [{ limit: 101 }, /limit 101/],
    [{ offset: -1 }, /offset -1/],
    [{ offset: 1.5 }, /offset 1.5/],
    [
      { sort: { key: { kind: "color" } as unknown as SortKey, direction: "asc" } },
      /sort key "color"/,
    ],
    [{ sort: { key: { kind: "id" }, direction: "up" as "asc" } }, /direction "up"/],
    [
      { sort: { key: { kind: "metric", metric: 70_000, field: "last" }, direction: "asc" } },
      /metric index 70000/,
    ],
    [
      { sort: { key: { kind: "metric", metric: 1, field: "p99" as "last" }, direction: "asc" } },
      /field "p99"/,
    ],
    [{ filter: { ...NO_FILTER, groupPrefix: "a//b" } }, /Cannot open view: group "a\/\/b"/],
    [{ filter: { ...NO_FILTER, idSubstring: "x".repeat(129) } }, /idSubstring is longer than 128/],
    [{ filter: { ...NO_FILTER, status: [256] } }, /status code 256/],
  ];
  for (const [request, message] of bad) {
    let error: unknown = null;
    try {
      h.open(request);
    } catch (e) {
      error = e;
    }
    assert(error instanceof RangeError || error instanceof TypeError, String(error));
    assert(message.test((error as Error).message), (error as Error).message);
  }
  assertEquals([h.table.viewCount, h.table.windowCount], [0, 0]);
});

Deno.test("a metric column made after the fleet came is filled from the feed's state", () => {
  const h = new Harness(EAGER, {
    sensors: [0, 1, 2].map((i) => sensor(i, `s${i}`)),
    updates: [value(0, 3, 1_000, 1), value(1, 1, 1_000, 1), value(2, 2, 1_000, 0)],
  });
  h.tick();
  h.tick();
  const w = h.open({
    sort: { key: { kind: "metric", metric: 1, field: "last" }, direction: "asc" },
  });
  h.tick();
  assertEquals(ids(h, w.rows), ["s1", "s0", "s2"]);
});

Deno.test("members gained join the rows at the view's next ordering, even when the shared order is young", () => {
  const h = new Harness({ ...EAGER, resortMs: 1000, columnMaxAgeMs: 60_000 }, {
    sensors: [0, 1, 2].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2].map((i) => value(i, i)),
  });
  const all = h.open({ sort: byMetric("desc") });
  const flagged = h.open({ sort: byMetric("desc"), filter: { ...NO_FILTER, status: [2] } });
  h.tick();
  // A new sensor (not in the order sorted before it came), and a status that brings s0 into the filter.
  h.tick({ sensors: [sensor(3, "s3")], updates: [value(3, 50)] }, [[0, 2]]);
  assertEquals([all.matching, flagged.matching], [4, 1]); // counted at once
  assertEquals([ids(h, all.rows), ids(h, flagged.rows)], [["s2", "s1", "s0"], []]); // rows wait
  while (h.now < 1_100) h.tick();
  assertEquals(ids(h, all.rows), ["s3", "s2", "s1", "s0"]);
  assertEquals(ids(h, flagged.rows), ["s0"]);
  assertEquals([ids(h, all.entered), ids(h, flagged.entered)], [["s3"], ["s0"]]);
});

Deno.test("views made together come due for their next ordering in different ticks", () => {
  const h = new Harness({ ...EAGER, resortMs: 1000, staggerMs: 1000 }, {
    sensors: [0, 1, 2].map((i) => sensor(i, `s${i}`)),
    updates: [0, 1, 2].map((i) => value(i, i)),
  });
  for (let i = 0; i < 10; i++) {
    h.open({
      sort: byMetric("desc"),
      filter: { ...NO_FILTER, idSubstring: `${i}`.repeat(i % 3) + "s".repeat(i) },
    });
  }
  h.tick();
  assertEquals(h.table.last.orderings, 10); // new views: ordered at once, together
  const perTick: number[] = [];
  while (h.now < 2_100) {
    h.tick({ updates: [value(h.now % 3, h.now, h.now)] });
    perTick.push(h.table.last.orderings);
  }
  // Each was ordered again once, 1 to 2 s after the first (at 100 ms), never more than two in a tick.
  assertEquals(perTick.reduce((a, b) => a + b, 0), 10);
  assertEquals(perTick.slice(0, 9).every((n) => n === 0), true);
  assert(Math.max(...perTick) <= 2, JSON.stringify(perTick));
});

Deno.test("a window is served at once between ticks: rows and entries now, deltas with the next tick", () => {
  const n = 1_000;
  const h = new Harness({ ...EAGER, resortMs: 60_000, window: { block: 50, maxRows: 100 } }, {
    sensors: Array.from({ length: n }, (_, i) => sensor(i, `s${i}`)),
    updates: Array.from({ length: n }, (_, i) => value(i, i % 10)),
  });
  const w = h.open({ sort: byMetric("desc"), limit: 50 });
  h.table.serve(w, h.now); // a new window: no tick needed
  assertEquals(w.rows.length, 50);
  assertEquals([w.entered.length, w.changed.length, w.matching], [50, 0, 1_000]);
  h.tick({ updates: [value(w.rows[3], 9, 5_000)] });
  assertEquals([w.entered.length, [...w.changed]], [0, [w.rows[3]]]);
  // A scroll far down, served before the next tick, from the same order.
  const version = w.view.version;
  h.table.change(w, { ...requestOf(w), offset: 900, limit: 50 }, { ...me, now: h.now });
  h.table.serve(w, h.now);
  const expected = Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => (b % 10) - (a % 10) || listingCompare(`s${a}`, `s${b}`));
  assertEquals([...w.rows], expected.slice(900, 950));
  assertEquals([w.entered.length, w.left.length, w.changed.length, w.view.version], [
    50,
    50,
    0,
    version,
  ]);
  // A resort asked for is ordered at once too.
  h.tick({ updates: [value(998, 100, 6_000), value(999, 100, 6_000)] });
  h.table.change(w, { ...requestOf(w), offset: 0, limit: 50 }, { ...me, now: h.now });
  w.resort();
  h.table.serve(w, h.now);
  assertEquals(ids(h, w.rows.subarray(0, 2)), ["s998", "s999"]);
});

Deno.test("a viewer limited to group prefixes sees only sensors within them, in rows and in counts", () => {
  const h = new Harness(EAGER, {
    sensors: [
      sensor(0, "a1", "plant-a/l1"),
      sensor(1, "b1", "plant-b"),
      sensor(2, "a2", "plant-a"),
      sensor(3, "c1", "plant-c"),
    ],
  });
  const scoped = topicFor([{ id: 1, all: true, group: null, sensors: [] }], ["plant-a"]);
  const w = h.open({ topic: scoped, limit: 50 });
  const everyone = h.open({ limit: 50 });
  h.tick();
  assertEquals([ids(h, w.rows), w.total, w.matching], [["a1", "a2"], 2, 2]);
  assert(w.view !== everyone.view); // the scope is part of the topic key: no sharing across scopes
  h.tick({ sensors: [sensor(1, "b1", "plant-a/l2"), sensor(0, "a1", "plant-b")] });
  assertEquals([w.total, w.matching], [2, 2]);
  assertEquals(ids(h, w.left), ["a1"]);
  h.tick();
  assertEquals(ids(h, w.rows), ["a2", "b1"]);
});

Deno.test("windows over the table's cap are refused; options it cannot work with are refused at construction", () => {
  const h = new Harness({ ...EAGER, maxWindows: 2 });
  h.open({});
  h.open({});
  const third = h.table.open({
    topic: everything,
    sort: { key: { kind: "id" }, direction: "asc" },
    filter: NO_FILTER,
    offset: 0,
    limit: 5,
  }, { ...me, now: 0 });
  assert("refused" in third && /already serves 2 view windows/.test(third.refused));
  for (
    const [options, message] of [
      [{ maxViews: 0 }, /maxViews 0/],
      [{ window: { block: 50, maxRows: 70_000 } }, /window.maxRows 70000/],
      [{ resortMs: -1 }, /resortMs -1/],
      [{ tickBudget: NaN }, /tickBudget NaN/],
    ] as const
  ) {
    let error: unknown = null;
    try {
      new ViewTable(new FeedView(), options);
    } catch (e) {
      error = e;
    }
    assert(error instanceof RangeError && message.test(error.message), String(error));
  }
});

Deno.test("a held window scrolled elsewhere stays held there, with the view's rows at the new place", () => {
  const h = new Harness(EAGER, {
    sensors: Array.from({ length: 20 }, (_, i) => sensor(i, `s${i}`)),
    updates: Array.from({ length: 20 }, (_, i) => value(i, i)),
  });
  const w = h.open({ sort: byMetric("desc"), limit: 5 });
  h.tick();
  w.hold();
  h.tick({ updates: [value(0, 100, 2_000)] }); // s0 would lead, but the rows are held
  assertEquals(ids(h, w.rows), ["s19", "s18", "s17", "s16", "s15"]);
  h.table.change(w, { ...requestOf(w), offset: 10, limit: 5 }, { ...me, now: h.now });
  h.tick({ updates: [value(1, 200, 3_000)] });
  // Rows 10..14 of the view's newest order (s1, s0, s19, ...), then held again.
  assertEquals([w.held, ids(h, w.rows)], [true, ["s11", "s10", "s9", "s8", "s7"]]);
  h.tick({ updates: [value(2, 300, 4_000)] });
  assertEquals([w.moved, ids(h, w.rows)], [false, ["s11", "s10", "s9", "s8", "s7"]]);
});

// ---------------------------------------------------------------------------
// Shared orders sorted off the tick (a sorter: the worker thread in the hub).

/** An `OrderSorter` the test drives: it keeps each job's copies and answers when told, by a plain comparator sort. */
class HandSorter implements OrderSorter {
  jobs: { token: number; values: Float64Array; ids: Uint32Array }[] = [];
  #answers: { token: number; asc: Uint32Array; desc: Uint32Array }[] = [];
  failed = false;
  closed = false;

  get inFlight(): number {
    return this.jobs.length + this.#answers.length;
  }

  start(token: number, job: { values: Float64Array; ids: Uint32Array }): boolean {
    if (this.failed || this.closed) return false;
    this.jobs.push({ token, values: job.values.slice(), ids: job.ids.slice() });
    return true;
  }

  /** Sorts the jobs so far; their orders come with the table's next tick. */
  answer(): void {
    for (const { token, values, ids } of this.jobs.splice(0)) {
      const position = new Map([...ids].map((s, i) => [s, i]));
      const sorted = (dir: number) =>
        Uint32Array.from([...ids].sort((a, b) => {
          const x = values[a], y = values[b];
          if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
          if (x < y) return -dir;
          if (x > y) return dir;
          return position.get(a)! - position.get(b)!;
        }));
      this.#answers.push({ token, asc: sorted(1), desc: sorted(-1) });
    }
  }

  take(each: (token: number, order: SortedOrder) => unknown): void {
    for (const { token, asc, desc } of this.#answers.splice(0)) {
      each(token, { asc, desc, length: asc.length });
    }
  }

  fail(): void {
    this.failed = true;
  }

  close(): void {
    this.closed = true;
  }
}

type Meanwhile =
  | { update: number; last: number }
  | { remove: number }
  | { add: number };

/**
 * A fleet of `n` sensors (ids s0.., metric 0 from `values`) with a table
 * sorting off the tick through `sorter`, and a window of every row sorted by
 * metric 0's last value; the model of the fleet beside it.
 */
function offTickFleet(
  o: {
    values: (number | null)[];
    direction: "asc" | "desc";
    idSubstring: string;
    sorter: () => OrderSorter | null;
  },
) {
  const fleet = new Map<number, ModelSensor>();
  const feed = new FeedView();
  const rows: StateRow[] = [];
  o.values.forEach((v, i) => {
    const s: ModelSensor = { id: `s${i}`, group: "g", values: new Map(), seen: NaN, status: 0 };
    if (v !== null) {
      const row = value(i, v, 1_000 + i);
      s.values.set(0, row);
      s.seen = row.timeMs;
      rows.push(row);
    }
    fleet.set(i, s);
  });
  feed.apply([
    shardChanges({
      sensors: [...fleet].map(([i, s]) => sensor(i, s.id)),
      metrics: ["m0"],
      updates: rows,
    }),
  ]);
  const table = new ViewTable(feed, {
    resortMs: 1000,
    columnMaxAgeMs: 1000,
    staggerMs: 0,
    tickBudget: Infinity,
    sortsPerTick: Infinity,
    offThreadMin: 0,
    sorter: o.sorter,
    window: { block: BLOCK, maxRows: 100 },
  });
  const request = {
    topic: everything,
    sort: byMetric(o.direction),
    filter: { ...NO_FILTER, idSubstring: o.idSubstring },
    offset: 0,
    limit: 100,
  };
  const opened = table.open(request, { owners: me.owners, now: 0 });
  assert("window" in opened);
  let now = 0;
  let nextTime = 10_000;
  /** One tick of changes, applied to the model and the table. */
  const tick = (steps: Meanwhile[]) => {
    const sensors: SensorEntry[] = [];
    const updates: StateRow[] = [];
    const removed: number[] = [];
    for (const step of steps) {
      if ("update" in step) {
        const s = fleet.get(step.update);
        if (!s || removed.includes(step.update)) continue;
        const row = value(step.update, step.last, nextTime++);
        s.values.set(0, row);
        s.seen = row.timeMs;
        updates.push(row);
      } else if ("remove" in step) {
        if (!fleet.has(step.remove) || sensors.some((e) => e.index === step.remove)) continue;
        fleet.delete(step.remove);
        removed.push(step.remove);
        for (let i = updates.length - 1; i >= 0; i--) {
          if (updates[i].sensor === step.remove) updates.splice(i, 1);
        }
      } else if (!fleet.has(step.add) && !removed.includes(step.add)) {
        const s: ModelSensor = {
          id: `s${step.add}`,
          group: "g",
          values: new Map(),
          seen: NaN,
          status: 0,
        };
        fleet.set(step.add, s);
        sensors.push(sensor(step.add, s.id));
      }
    }
    const changes = feed.apply([shardChanges({ sensors, metrics: ["m0"], updates, removed })]);
    now += 100;
    table.advance(changes, now);
  };
  const passes = (s: ModelSensor) => s.id.toLowerCase().includes(o.idSubstring);
  /** A copy of the model now: what a sort now would order by. */
  const snapshot = () =>
    new Map([...fleet].map(([i, s]) => [i, { ...s, values: new Map(s.values) }]));
  /** The rows of a sort at `at`, less the members gone since. */
  const rowsOfSortAt = (at: Map<number, ModelSensor>) =>
    modelRows(at, { topic: everything.spec, sort: request.sort, filter: request.filter }).rows
      .filter((i) => fleet.has(i) && passes(fleet.get(i)!));
  return { fleet, table, window: opened.window, tick, snapshot, rowsOfSortAt, passes };
}

const meanwhileArb = (n: number, reserve: number): fc.Arbitrary<Meanwhile> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ update: fc.nat(n - 1), last: fc.constantFrom(...VALUES) }),
    },
    { weight: 1, arbitrary: fc.record({ remove: fc.nat(n - 1) }) },
    { weight: 1, arbitrary: fc.record({ add: fc.integer({ min: n, max: n + reserve - 1 }) }) },
  );

Deno.test("an order sorted off the tick and taken in later gives the window the rows of a sort as of its start, whatever came, went or changed meanwhile", () => {
  const N = 30;
  fc.assert(
    fc.property(
      fc.array(fc.option(fc.constantFrom(...VALUES), { nil: null }), {
        minLength: N,
        maxLength: N,
      }),
      fc.array(fc.array(meanwhileArb(N, 8), { maxLength: 4 }), { maxLength: 12 }),
      fc.array(fc.array(meanwhileArb(N, 8), { maxLength: 4 }), { maxLength: 4 }),
      fc.constantFrom("asc" as const, "desc" as const),
      fc.constantFrom("", "1"),
      (values, before, meanwhile, direction, idSubstring) => {
        const sorter = new HandSorter();
        const f = offTickFleet({ values, direction, idSubstring, sorter: () => sorter });
        f.tick([]); // the first ordering, in the tick (100 ms)
        assertEquals(sorter.jobs.length, 0);
        // A second of changes (without newcomers); at 1,100 ms the view is due and its order is stale.
        const updates = before.map((steps) => steps.filter((s) => "update" in s));
        for (let t = 0; t < 9; t++) f.tick(updates[t] ?? []);
        f.tick([{ update: 0, last: 1e9 + 1 }]);
        assertEquals(sorter.jobs.length, 1, "a sort started off the tick at 1,100 ms");
        let sortedAt = f.snapshot();
        let sortedInTick = false;
        for (const steps of meanwhile) {
          const had = new Set(f.fleet.keys());
          f.tick(steps);
          const gained = [...f.fleet].some(([i, s]) => !had.has(i) && f.passes(s));
          // A view that gains sensors its order lacks is ordered at once, from a sort in the tick.
          if (gained && !sortedInTick) {
            sortedAt = f.snapshot();
            sortedInTick = true;
          }
        }
        sorter.answer();
        f.tick([]);
        assertEquals(f.table.last.adopted, sortedInTick ? 0 : 1);
        assertEquals(
          ids({ table: f.table } as Harness, f.window.rows),
          ids({ table: f.table } as Harness, f.rowsOfSortAt(sortedAt)),
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("without a sorter (it cannot start) the shared orders are sorted in the tick, the same rows", () => {
  let asked = 0;
  const f = offTickFleet({
    values: [5, 3, null, 9, 1, 3, 7],
    direction: "asc",
    idSubstring: "",
    sorter: () => (asked++, null),
  });
  f.tick([]);
  for (let t = 0; t < 9; t++) f.tick([{ update: t % 7, last: 10 - t }]);
  f.tick([{ update: 2, last: 0 }, { remove: 4 }]);
  assertEquals(asked, 1);
  assert(!f.table.sortingOffThread);
  assertEquals(f.table.last.sorts, 1);
  assertEquals(
    ids({ table: f.table } as Harness, f.window.rows),
    ids({ table: f.table } as Harness, f.rowsOfSortAt(f.snapshot())),
  );
});

Deno.test("a sorter that fails with a sort in flight: the next sort runs in the tick, whole, and the rows are right", () => {
  const sorter = new HandSorter();
  const f = offTickFleet({
    values: [5, 3, null, 9, 1, 3, 7, 2, 8, 0],
    direction: "desc",
    idSubstring: "",
    sorter: () => sorter,
  });
  f.tick([]);
  // Keys move before the sort starts off the tick (their marks are cleared then)...
  for (let t = 0; t < 9; t++) f.tick([{ update: t, last: 20 + t }]);
  f.tick([{ update: 9, last: -5 }]);
  assertEquals(sorter.jobs.length, 1);
  // ...and one after. The worker fails: that sort never comes.
  f.tick([{ update: 1, last: 100 }]);
  sorter.fail();
  f.tick([]);
  assert(sorter.closed);
  assert(!f.table.sortingOffThread);
  assertEquals(f.table.last.sorts, 1);
  assertEquals(
    ids({ table: f.table } as Harness, f.window.rows),
    ids({ table: f.table } as Harness, f.rowsOfSortAt(f.snapshot())),
  );
});

Deno.test("an operator's resort while a sort is off the tick is served at once, in the tick; the late order is dropped", () => {
  const sorter = new HandSorter();
  const f = offTickFleet({
    values: [5, 3, null, 9, 1, 3, 7],
    direction: "asc",
    idSubstring: "",
    sorter: () => sorter,
  });
  f.tick([]);
  for (let t = 0; t < 10; t++) f.tick([{ update: t % 7, last: 10 - t }]);
  assertEquals(sorter.jobs.length, 1);
  f.tick([{ update: 3, last: -1 }]);
  f.window.resort();
  f.table.serve(f.window, 1_300);
  const resorted = f.snapshot();
  assertEquals(
    ids({ table: f.table } as Harness, f.window.rows),
    ids({ table: f.table } as Harness, f.rowsOfSortAt(resorted)),
  );
  sorter.answer();
  f.tick([{ update: 0, last: -2 }]);
  assertEquals(f.table.last.adopted, 0);
  assertEquals(
    ids({ table: f.table } as Harness, f.window.rows),
    ids({ table: f.table } as Harness, f.rowsOfSortAt(resorted)),
  );
});

Deno.test("with the real sort worker, a stale order is sorted off the tick and its rows taken in; stopping the table stops the worker", async () => {
  let worker: OrderSorter | null = null;
  const f = offTickFleet({
    values: Array.from({ length: 500 }, (_, i) => (i * 7919) % 101),
    direction: "desc",
    idSubstring: "",
    sorter: () => (worker = SortWorker.start()),
  });
  f.tick([]);
  for (let t = 0; t < 10; t++) f.tick([{ update: t * 3, last: 1000 + t }]);
  assert(worker !== null && f.table.sortingOffThread);
  const sortedAt = f.snapshot();
  let adopted = 0;
  // A tick every 100 ms, as in the hub (the worker's first start includes its module's type check here).
  for (let t = 0; t < 45 && adopted === 0; t++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    f.tick([]);
    adopted = f.table.last.adopted;
  }
  assertEquals(adopted, 1);
  assertEquals(f.window.rows.length, 100);
  assertEquals(
    ids({ table: f.table } as Harness, f.window.rows),
    ids({ table: f.table } as Harness, f.rowsOfSortAt(sortedAt).slice(0, 100)),
  );
  f.table.stop();
  assert(!f.table.sortingOffThread);
});

Deno.test("views on one topic share one count by status; when the counting view goes, another counts, and the counts stay right", () => {
  const h = new Harness({ ...EAGER, idleMs: 1_000 });
  h.tick({
    sensors: Array.from({ length: 30 }, (_, i) => sensor(i, `s${i}`, i < 20 ? "a" : "b")),
  });
  const inA = { topic: groupTopic("a") };
  const first = h.open({ ...inA, sort: { key: { kind: "id" }, direction: "asc" } });
  const second = h.open({ ...inA, sort: { key: { kind: "id" }, direction: "desc" } });
  const other = h.open({ topic: everything });
  h.tick({}, [[1, 5], [2, 4], [25, 5]]);
  // By code: 0 unknown ... 4 warn, 5 critical.
  const inGroupA = [18, 0, 0, 0, 1, 1, 0, 0];
  assertEquals(Array.from(first.view.topicCounts), inGroupA);
  assertEquals(Array.from(second.view.topicCounts), inGroupA);
  assertEquals(Array.from(other.view.topicCounts), [27, 0, 0, 0, 1, 2, 0, 0]);
  assert(second.view.countsSource === first.view, "the second view reads the first's count");
  // The first view's window closes; past idleMs its view is dropped.
  h.table.close(first, h.now);
  h.now += 2_000;
  h.tick({}, [[3, 5]]);
  assert(second.view.countsSource === second.view, "the second view counts now");
  const before = second.view.topicCountsVersion;
  assertEquals(Array.from(second.view.topicCounts), [17, 0, 0, 0, 1, 2, 0, 0]);
  h.tick({}, [[1, 1]]);
  assertEquals(Array.from(second.view.topicCounts), [17, 1, 0, 0, 1, 1, 0, 0]);
  assert(second.view.topicCountsVersion !== before, "a new version");
});
