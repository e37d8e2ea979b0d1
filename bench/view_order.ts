// Benchmark of the viewport views (actors/hub/views): what ordering 100,000
// sensors costs the hub's tick. Standalone:
//
//   deno run -A bench/view_order.ts [--sensors 100000] [--changes 10000] [--ticks 200]
//
// It re-runs itself with --expose-gc so memory deltas are measured after a
// full collection. Sections:
//   1. sorting 100k keys three ways (why the views use a radix sort);
//   2. the tick (ViewTable.advance) with 1, 10 and 100 distinct orderings
//      open, each with windows at offset 0 and at random offsets;
//   3. memory per view and per window (10,000 windows on 100 views);
//   4. serving a window at a random offset after an operator's resort;
//   5. the hub's whole views tick (HubViews.tick: ordering, the places'
//      frames, the sends) with 100 distinct orderings watched by a window
//      each, as `deno task bench --view-ticks` opens them, and what the
//      tick allocates (`--alloc`: by function; `--cpu <file>`: where its
//      time goes, by function, the profile saved to <file>). `--only 5` runs it alone;
//   6. after a restart: the views made over 100,000 restored sensors, their
//      first tick, and the first view opened.
//
// The shared orders' scheduled sorts run on the views' sort worker as in the
// hub (`--in-tick`: in the tick, for comparison); the ticks are `--gap` ms
// apart (not timed), so the worker's orders come back between them.
import { parseArgs } from "node:util";
import process from "node:process";
import { FeedView } from "../actors/hub/feed_view.ts";
import type { TickChanges } from "../actors/hub/feed_view.ts";
import { allocateStates, allocateWindowStates } from "../protocol/columns.ts";
import type { ShardChanges } from "../actors/shards/shard_messages.ts";
import { topicFor } from "../actors/hub/topic.ts";
import { NO_FILTER, ViewTable } from "../actors/hub/views/mod.ts";
import type { SortKey, ViewFilter, ViewSort, ViewWindow } from "../actors/hub/views/mod.ts";
import { RadixScratch, sortByKey } from "../actors/hub/views/radix_order.ts";
import { renderTable } from "./table.ts";
import { HubViews } from "../actors/hub/hub_views.ts";
import { HubStats } from "../actors/hub/hub_stats.ts";
import { Session } from "../actors/hub/session.ts";
import type { FrameSink } from "../actors/hub/session.ts";
import { RingBudget } from "../actors/hub/stream_ring.ts";
import { distinctViews } from "./viewport.ts";
import { threadCpuClock } from "../server/ops/thread_clock.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  // Memory deltas need a full collection before each reading.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", import.meta.filename!, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  });
  Deno.exit((await child.output()).code);
}

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    sensors: { type: "string", default: "100000" },
    changes: { type: "string", default: "10000" },
    ticks: { type: "string", default: "200" },
    only: { type: "string" },
    alloc: { type: "boolean", default: false },
    cpu: { type: "string" },
    "in-tick": { type: "boolean", default: false },
    gap: { type: "string", default: "20" },
  },
});
/** The table options every section uses: where the shared orders' scheduled sorts run. */
const SORTS = args["in-tick"] ? { offThreadMin: Infinity } : {};
const GAP_MS = Number(args.gap);
/** The time between two ticks, untimed: the sort worker's answers come back meanwhile. */
const gap = () => new Promise((resolve) => setTimeout(resolve, GAP_MS));
const SENSORS = Number(args.sensors);
const CHANGES = Number(args.changes);
const TICKS = Number(args.ticks);
const METRICS = ["temperature", "humidity", "pressure"];
const TICK_MS = 100;

let seed = 42;
function random(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
}

const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
const ms = (x: number) => x.toFixed(2);
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
function memory(): number {
  gc!();
  gc!();
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

console.log(
  `# Viewport views: ${SENSORS} sensors × ${METRICS.length} metrics, ${CHANGES} changes per tick`,
);
console.log(`${navigator.hardwareConcurrency} cores, load average ${load()} (1, 5, 15 min)\n`);

const only = args.only === undefined ? null : Number(args.only);
const section = (n: number) => only === null || only === n;

// ---------------------------------------------------------------------------
// 1. Sorting 100k keys, ties by id rank.
if (section(1)) {
  const n = SENSORS;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = i % 50 === 0 ? NaN : Math.round((22 + (random() - 0.5) * 8) * 10) / 10;
  }
  const rank = new Uint32Array(n);
  for (let i = 0; i < n; i++) rank[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rank[i], rank[j]] = [rank[j], rank[i]];
  }
  const byRank = new Uint32Array(n);
  for (let i = 0; i < n; i++) byRank[rank[i]] = i;
  const compare = (a: number, b: number) => {
    const x = keys[a], y = keys[b];
    const xm = x !== x, ym = y !== y;
    if (xm || ym) return xm === ym ? rank[a] - rank[b] : xm ? 1 : -1;
    return x - y || rank[a] - rank[b];
  };
  const out = new Uint32Array(n);
  const packed = new Float64Array(n);
  const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
  const scratch = new RadixScratch();
  const ways: [string, () => void][] = [
    ["Uint32Array of indexes, sort(comparator)", () => {
      for (let i = 0; i < n; i++) out[i] = i;
      out.sort(compare);
    }],
    ["Float64Array of packed (float32 key, rank), native sort", () => {
      // Exact only when keys differ in float32; ties beyond that need a fix-up pass (not timed).
      for (let i = 0; i < n; i++) {
        const x = keys[i];
        let bits = 0xffffffff;
        if (x === x) {
          f32[0] = x;
          bits = u32[0] & 0x80000000 ? ~u32[0] >>> 0 : (u32[0] | 0x80000000) >>> 0;
        }
        packed[i] = bits * 2 ** 17 + rank[i];
      }
      packed.sort();
      for (let i = 0; i < n; i++) out[i] = byRank[packed[i] % 2 ** 17];
    }],
    ["radix sort on the float64 bits (sortByKey, used)", () => {
      sortByKey(keys, byRank, { out, descending: false, scratch });
    }],
  ];
  const rows = ways.map(([name, run]) => {
    const times: number[] = [];
    for (let r = 0; r < 12; r++) {
      const t = performance.now();
      run();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return [name, ms(percentile(times, 50)), ms(times[0]), ms(times[times.length - 1])];
  });
  console.log(`## 1. Sorting ${n} Float64 keys with ties by id rank (12 runs)\n`);
  console.log(renderTable(["method", "p50 ms", "min ms", "max ms"], rows) + "\n");
}

// ---------------------------------------------------------------------------
// The fleet: a FeedView fed by hand-made flushes (not timed).

function shard(parts: Partial<ShardChanges>): ShardChanges {
  return {
    sensors: [],
    metrics: [],
    updates: allocateStates(0),
    windows: allocateWindowStates(0),
    late: [],
    statuses: [],
    removed: [],
    ...parts,
  };
}

const levels = [22, 45, 1013];
const spreads = [4, 10, 6];
let clock = 1_700_000_000_000;

function makeFleet(): { feed: FeedView; current: Float64Array; first: TickChanges } {
  const feed = new FeedView();
  const updates = allocateStates(SENSORS * METRICS.length);
  const current = new Float64Array(SENSORS * METRICS.length);
  for (let s = 0; s < SENSORS; s++) {
    for (let m = 0; m < METRICS.length; m++) {
      const i = s * METRICS.length + m;
      const v = Math.round((levels[m] + (random() - 0.5) * spreads[m]) * 10) / 10;
      current[i] = v;
      updates.sensor[i] = s;
      updates.metric[i] = m;
      updates.last[i] =
        updates.avg[i] =
        updates.min[i] =
        updates.max[i] =
          v;
      updates.timeMs[i] = clock;
    }
  }
  const first = feed.apply([shard({
    sensors: Array.from({ length: SENSORS }, (_, s) => ({
      index: s,
      id: `sensor-${(s * 7919) % SENSORS}`,
      group: `plant-${s % 10}/line-${s % 7}`,
    })),
    metrics: METRICS.map((name, index) => ({ index, name })),
    updates,
  })]);
  return { feed, current, first: first! };
}

const changedAt = new Uint32Array(SENSORS * METRICS.length);
let tickStamp = 0;

/** One tick's changes: CHANGES metric states of random sensors, drifting, merged into the mirror. */
function nextTick(fleet: { feed: FeedView; current: Float64Array }): TickChanges {
  return fleet.feed.apply([nextFlush(fleet)])!;
}

/** The flush `nextTick` merges (made apart, so section 5 times the merge alone). */
function nextFlush(fleet: { current: Float64Array }): ShardChanges {
  clock += TICK_MS;
  const updates = allocateStates(CHANGES);
  tickStamp++;
  for (let k = 0; k < CHANGES; k++) {
    const s = Math.floor(random() * SENSORS), m = Math.floor(random() * METRICS.length);
    const i = s * METRICS.length + m;
    // A flush holds one state per (sensor, metric), as the shards send it.
    if (changedAt[i] === tickStamp) {
      k--;
      continue;
    }
    changedAt[i] = tickStamp;
    const v = Math.round((fleet.current[i] + (random() - 0.5) * spreads[m] * 0.05) * 10) / 10;
    fleet.current[i] = v;
    updates.sensor[k] = s;
    updates.metric[k] = m;
    updates.last[k] = v;
    updates.avg[k] = (v + levels[m]) / 2;
    updates.min[k] = v - 1;
    updates.max[k] = v + 1;
    updates.timeMs[k] = clock;
  }
  return shard({ updates });
}

const everything = topicFor([{ id: 1, all: true, group: null, sensors: [] }]);
const SORT_KEYS: SortKey[] = [
  { kind: "id" },
  { kind: "group" },
  { kind: "seen" },
  ...METRICS.flatMap((_, metric) =>
    (["last", "avg"] as const).map((field): SortKey => ({ kind: "metric", metric, field }))
  ),
];

/** The i-th distinct ordering: 18 sorts (9 keys × 2 directions), then the same with filters. */
function viewRequest(i: number): { topic: typeof everything; sort: ViewSort; filter: ViewFilter } {
  const sort: ViewSort = {
    key: SORT_KEYS[i % SORT_KEYS.length],
    direction: Math.floor(i / SORT_KEYS.length) % 2 === 0 ? "desc" : "asc",
  };
  const round = Math.floor(i / (2 * SORT_KEYS.length));
  const filters: ViewFilter[] = [
    NO_FILTER,
    { ...NO_FILTER, groupPrefix: `plant-${i % 10}` },
    { ...NO_FILTER, idSubstring: `${i % 10}${(i + 3) % 10}` },
    { ...NO_FILTER, groupPrefix: `plant-${i % 10}/line-${i % 7}` },
    { ...NO_FILTER, idSubstring: `${i % 9 + 1}` },
    { ...NO_FILTER, groupPrefix: `plant-${(i + 5) % 10}`, idSubstring: "1" },
  ];
  const topic = round % 2 === 1
    ? topicFor([{ id: 1, all: false, group: `plant-${i % 10}`, sensors: [] }])
    : everything;
  return { topic, sort, filter: filters[round % filters.length] };
}

function openWindows(
  table: ViewTable,
  o: { views: number; perView: { top: number; random: number }; now: number },
): ViewWindow[] {
  const windows: ViewWindow[] = [];
  for (let v = 0; v < o.views; v++) {
    const request = viewRequest(v);
    const open = (offset: number, limit: number, client: number) => {
      const opened = table.open({ ...request, offset, limit }, {
        owners: [`address:10.0.${client >> 8}.${client & 255}`],
        now: o.now,
      });
      if ("refused" in opened) throw new Error(opened.refused);
      windows.push(opened.window);
    };
    for (let w = 0; w < o.perView.top; w++) open(0, 40 + (w % 3) * 20, windows.length);
    for (let w = 0; w < o.perView.random; w++) {
      open(Math.floor(random() * SENSORS * 0.9), 60, windows.length);
    }
  }
  return windows;
}

// ---------------------------------------------------------------------------
// 2. The tick with 1, 10 and 100 orderings.

const fleet = makeFleet();
for (let t = 0; t < 5; t++) nextTick(fleet);
const tickRows: string[][] = [];
const offThreadRows: string[] = [];
for (const views of section(2) ? [1, 10, 100] : []) {
  const table = new ViewTable(fleet.feed, { maxViews: 256, viewsPerClient: 256, ...SORTS });
  let now = 0;
  openWindows(table, { views, perView: { top: 3, random: 2 }, now });
  table.advance(null, now); // the first ordering of every view (forced)
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let orderings = 0, sorts = 0, deferred = 0, news = 0, offThread = 0, adopted = 0;
  for (let t = 0; t < 20 + TICKS; t++) {
    await gap();
    const changes = nextTick(fleet);
    now += TICK_MS;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const out = table.advance(changes, now);
    const took = performance.now() - start;
    const used = process.cpuUsage(cpu);
    if (t < 20) continue; // warm-up: the JIT, and the schedule spreading
    times.push(took);
    cpuTimes.push((used.user + used.system) / 1000);
    orderings += table.last.orderings;
    sorts += table.last.sorts;
    deferred += table.last.deferred;
    offThread += table.last.offThread;
    adopted += table.last.adopted;
    news += out.length;
  }
  table.stop();
  offThreadRows.push(
    `${views} orderings: ${offThread} of ${sorts} sorts started off the tick, ${adopted} taken in`,
  );
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  tickRows.push([
    String(views),
    String(table.windowCount),
    ms(percentile(times, 50)),
    ms(percentile(times, 99)),
    ms(times[times.length - 1]),
    ms(percentile(cpuTimes, 50)),
    ms(percentile(cpuTimes, 99)),
    (orderings / TICKS).toFixed(1),
    (sorts / TICKS).toFixed(1),
    (deferred / TICKS).toFixed(1),
    (news / TICKS).toFixed(0),
  ]);
}
if (section(2)) {
  console.log(
    `## 2. ViewTable.advance per tick (${TICKS} ticks of ${TICK_MS} ms after 20 warm-up)\n`,
  );
  console.log(
    renderTable(
      [
        "orderings",
        "windows",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU p50 ms",
        "CPU p99 ms",
        "views ordered/tick",
        "orders sorted/tick",
        "deferred/tick",
        "windows with news/tick",
      ],
      tickRows,
    ) + "\n",
  );
  console.log(offThreadRows.join("\n") + "\n");
  console.log(`load average after: ${load()}\n`);
}

// ---------------------------------------------------------------------------
// 3. Memory per view and per window.
if (section(3)) {
  let now = 0;
  const base = memory();
  const table = new ViewTable(fleet.feed, {
    maxViews: 256,
    viewsPerClient: 256,
    maxWindows: 20_000,
    ...SORTS,
  });
  table.advance(nextTick(fleet), now += TICK_MS);
  const empty = memory();
  // One window per view first, ordered: what the views themselves hold.
  openWindows(table, { views: 100, perView: { top: 1, random: 0 }, now });
  table.advance(nextTick(fleet), now += TICK_MS);
  const withViews = memory();
  // Then 10,000 windows on them: 60 at offset 0 and 39 at random offsets per view.
  const windows = openWindows(table, { views: 100, perView: { top: 60, random: 39 }, now });
  const times: number[] = [];
  for (let t = 0; t < 40; t++) {
    await gap();
    const changes = nextTick(fleet);
    const start = performance.now();
    table.advance(changes, now += TICK_MS);
    if (t >= 10) times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  table.stop();
  const withWindows = memory();
  const kb = (bytes: number) => (bytes / 1024).toFixed(1);
  console.log("## 3. Memory (heap + external after a full GC)\n");
  console.log(
    renderTable(["what", "KiB"], [
      ["table over the fleet, no views (keys, ranks, scratch)", kb(empty - base)],
      ["per view (100 views, taken as deep as their windows need)", kb((withViews - empty) / 100)],
      [
        `per window (${windows.length} more windows, at offset 0 and at random offsets)`,
        kb((withWindows - withViews) / windows.length),
      ],
      [
        `per window, all ${table.windowCount} windows and the 100 views together`,
        kb((withWindows - empty) / table.windowCount),
      ],
      ["the table's own count of its arrays (ViewTable.bytes)", kb(table.bytes)],
    ]) + "\n",
  );
  console.log(
    `ViewTable.advance with these ${table.windowCount} windows (30 ticks): p50 ${
      ms(percentile(times, 50))
    } ms, ` +
      `max ${ms(times.at(-1)!)} ms\n`,
  );
}

// ---------------------------------------------------------------------------
// 4. An operator resorts, then scrolls to a random offset; each is served at
// once (ViewTable.serve), between ticks, as the hub would on the request.
if (section(4)) {
  const table = new ViewTable(fleet.feed, { maxViews: 256, viewsPerClient: 256, ...SORTS });
  let now = 0;
  const windows = openWindows(table, { views: 100, perView: { top: 3, random: 2 }, now });
  table.advance(null, now);
  for (let t = 0; t < 30; t++) table.advance(nextTick(fleet), now += TICK_MS);
  const resorts: number[] = [];
  const scrolls: number[] = [];
  const ticks: number[] = [];
  for (let trial = 0; trial < 30; trial++) {
    const w = windows[Math.floor(random() * windows.length)];
    const request = {
      topic: { key: w.view.topicKey, spec: w.view.topic },
      sort: w.view.sort,
      filter: w.view.filter,
    };
    // A resort: the view ordered anew now, its shared order sorted if stale.
    w.resort();
    let start = performance.now();
    table.serve(w, now);
    resorts.push(performance.now() - start);
    // A scroll far down: rows taken deeper from the same order, or the view ordered anew.
    const offset = Math.floor(random() * Math.max(1, w.view.matching - 60));
    table.change(w, { ...request, offset, limit: 60 }, { owners: ["address:op"], now });
    start = performance.now();
    table.serve(w, now);
    scrolls.push(performance.now() - start);
    if (w.rows.length === 0 && w.view.matching > offset) {
      throw new Error("the scrolled window is empty");
    }
    // Time moves on: the schedule's orderings go on meanwhile.
    await gap();
    start = performance.now();
    table.advance(nextTick(fleet), now += TICK_MS);
    ticks.push(performance.now() - start);
  }
  table.stop();
  for (const list of [resorts, scrolls, ticks]) list.sort((a, b) => a - b);
  console.log(
    "## 4. Serving an operator's resort, then a scroll to a random offset (100 orderings open, 30 trials)\n",
  );
  console.log(
    renderTable(["served at once (ViewTable.serve)", "p50 ms", "max ms"], [
      [
        "the resort (view ordered anew, its order sorted if stale)",
        ms(percentile(resorts, 50)),
        ms(resorts.at(-1)!),
      ],
      [
        "the scroll (rows taken deeper, or the view ordered anew)",
        ms(percentile(scrolls, 50)),
        ms(scrolls.at(-1)!),
      ],
      [
        "the next tick (ViewTable.advance), for comparison",
        ms(percentile(ticks, 50)),
        ms(ticks.at(-1)!),
      ],
    ]) + "\n",
  );
}
// ---------------------------------------------------------------------------
// 5. The hub's views tick: 100 distinct orderings, a window on each (as the
// live `--view-ticks` bench opens them), every place's frame encoded and
// sent to sinks that count bytes. Heap growth over ticks that had no
// collection is what a tick allocates on the JS heap.
if (section(5)) {
  class CountingSink implements FrameSink {
    bufferedAmount = 0;
    closed = false;
    heardAt = 0;
    bytes = 0;
    frames = 0;
    send(frame: Uint8Array) {
      this.bytes += frame.byteLength;
      this.frames++;
    }
    close() {
      this.closed = true;
    }
  }
  const stats = new HubStats();
  const views = benchViews(fleet.feed, stats);
  let now = clock;
  let tickNo = 1;
  const sinks: CountingSink[] = [];
  const sessions: Session[] = [];
  for (const [i, spec] of distinctViews(100).entries()) {
    const sink = new CountingSink();
    const session = new Session(sink, {}, { tickMs: TICK_MS, now });
    sinks.push(sink);
    sessions.push(session);
    views.request(session, {
      subscriptions: [],
      sort: {
        key: spec.sort!.key,
        metric: spec.sort!.metric ?? null,
        field: spec.sort!.field ?? "last",
        direction: spec.sort!.direction ?? "asc",
      },
      filter: {
        idSubstring: "",
        // The fleet's groups are plant-0 … plant-9.
        groupPrefix: spec.filter?.groupPrefix ? `plant-${i % 10}` : null,
        status: null,
      },
      offset: 0,
      limit: spec.limit ?? 50,
      order: "keep",
      resume: null,
      hiddenMetrics: [],
    }, { scope: null, owners: [`address:10.0.0.${i}`], now, tickNo });
  }
  const parts: Record<string, number[]> = {
    apply: [],
    judge: [],
    order: [],
    frames: [],
    sends: [],
    tick: [],
    // The thread's CPU time: a tick slowed by waits for a core is told from one that worked more.
    "the tick's CPU": [],
    "the merge's CPU (FeedView.apply)": [],
    "views' CPU (HubViews.tick)": [],
  };
  const cpuClock = threadCpuClock();
  const cpuNow = typeof cpuClock === "function" ? cpuClock : null;
  const grown: number[] = [];
  const externalGrown: number[] = [];
  /** Per measured tick: the views' ordering time and work, to see what the slowest carry. */
  const carried: { order: number; work: Record<string, number> }[] = [];
  /** Per measured tick: views ordered, and the frames' part and the whole tick (ms). */
  const byOrderings: { orderings: number; frames: number; tick: number }[] = [];
  let sent = 0, frames = 0;
  // --alloc: V8's sampling heap profiler over the measured ticks, bytes by allocating function.
  const profiler = args.alloc ? await heapSampler() : null;
  const cpu = args.cpu ? await cpuSampler() : null;
  for (let t = 0; t < 50 + TICKS; t++) {
    await gap();
    if (t === 50) await profiler?.start();
    if (t === 50) await cpu?.start();
    now = clock + TICK_MS;
    tickNo++;
    const before = Deno.memoryUsage();
    const flush = nextFlush(fleet);
    const started = performance.now();
    const cpuStarted = cpuNow?.() ?? NaN;
    const applied = fleet.feed.apply([flush])!;
    const appliedAt = performance.now();
    const appliedCpu = cpuNow?.() ?? NaN;
    const merged = fleet.feed.judge(applied, now);
    const judgedAt = performance.now();
    for (const session of sessions) session.tick(now);
    const viewsStarted = cpuNow?.() ?? NaN;
    views.tick(merged, { now, tickNo });
    const ended = performance.now();
    const cpuEnded = cpuNow?.() ?? NaN;
    const after = Deno.memoryUsage();
    if (t < 50) {
      for (const sink of sinks) sink.bytes = sink.frames = 0;
      continue; // warm-up: the JIT, and the schedule spreading
    }
    parts.apply.push(appliedAt - started);
    parts.judge.push(judgedAt - appliedAt);
    parts.order.push(stats.tickParts.order);
    parts.frames.push(stats.tickParts.frames);
    parts.sends.push(stats.tickParts.sends);
    parts.tick.push(ended - started);
    parts["the tick's CPU"].push(cpuEnded - cpuStarted);
    parts["the merge's CPU (FeedView.apply)"].push(appliedCpu - cpuStarted);
    parts["views' CPU (HubViews.tick)"].push(cpuEnded - viewsStarted);
    carried.push({ order: stats.tickParts.order, work: { ...views.table.last } });
    byOrderings.push({
      orderings: views.table.last.orderings,
      frames: stats.tickParts.frames,
      tick: ended - started,
    });
    if (after.heapUsed >= before.heapUsed) grown.push(after.heapUsed - before.heapUsed);
    if (after.external >= before.external) externalGrown.push(after.external - before.external);
  }
  const allocated = await profiler?.stop();
  carried.sort((a, b) => a.order - b.order);
  const cut = Math.floor(carried.length * 0.9);
  const means = (group: typeof carried) =>
    Object.keys(group[0].work).map((k) =>
      `${k} ${(group.reduce((a, c) => a + c.work[k], 0) / group.length).toFixed(2)}`
    ).join(", ");
  const slowest = carried.slice(cut), others = carried.slice(0, cut);
  const meanOrder = (group: typeof carried) =>
    (group.reduce((a, c) => a + c.order, 0) / group.length).toFixed(2);
  const carriedLine =
    `the slowest ${slowest.length} orderings (mean ${meanOrder(slowest)} ms) carried ` +
    `${means(slowest)}; the other ${others.length} (mean ${meanOrder(others)} ms): ${
      means(others)
    }\n`;
  const spent = await cpu?.stop(args.cpu!);
  views.stop();
  for (const sink of sinks) {
    sent += sink.bytes;
    frames += sink.frames;
  }
  for (const list of [...Object.values(parts), grown, externalGrown]) list.sort((a, b) => a - b);
  console.log(
    `## 5. The hub's views tick, 100 distinct orderings with a window each (${TICKS} ticks after 50 warm-up)\n`,
  );
  console.log(
    renderTable(
      ["part", "p50 ms", "p90 ms", "p99 ms", "max ms"],
      Object.entries(parts).map(([name, list]) => [
        name === "tick" ? "the tick (all of the above)" : name,
        ms(percentile(list, 50)),
        ms(percentile(list, 90)),
        ms(percentile(list, 99)),
        ms(list.at(-1)!),
      ]),
    ) + "\n",
  );
  const kb = (bytes: number) => (bytes / 1024).toFixed(0);
  console.log(
    `${(frames / TICKS).toFixed(1)} frames and ${kb(sent / TICKS)} KiB sent a tick; ` +
      `heap grown by a tick without a collection p50 ${kb(percentile(grown, 50))} KiB ` +
      `(${grown.length} of ${TICKS} ticks), external p50 ${
        kb(percentile(externalGrown, 50))
      } KiB\n`,
  );
  console.log(carriedLine);
  console.log(orderingsLine(byOrderings));
  if (allocated) {
    console.log(
      renderTable(
        ["allocated by (the innermost project function)", "KiB a tick"],
        allocated.slice(0, 25).map(([where, bytes]) => [where, kb(bytes / TICKS)]),
      ) + "\n",
    );
  }
  if (spent) {
    console.log(
      renderTable(
        ["self time of (function, gaps between ticks excluded)", "ms a tick"],
        spent.slice(0, 30).map(([where, us]) => [where, ms(us / 1000 / TICKS)]),
      ) + "\n",
    );
  }
}

// ---------------------------------------------------------------------------
// 6. After a restart: the hub's views made over the restored fleet and their
// first tick (which takes every sensor's state), with no view open; then the
// first view opened. Fresh fleets each round, the best and the median of 5.
if (section(6)) {
  const made: number[] = [], firstTicks: number[] = [], opens: number[] = [];
  const madeCpu: number[] = [], firstCpu: number[] = [], openCpu: number[] = [];
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  for (let round = 0; round < 5; round++) {
    const restored = makeFleet();
    const stats = new HubStats();
    gc!();
    const now = clock;
    let start = performance.now();
    let cpu = process.cpuUsage();
    const views = benchViews(restored.feed, stats);
    made.push(performance.now() - start);
    madeCpu.push(cpuMs(cpu));
    start = performance.now();
    cpu = process.cpuUsage();
    views.tick(restored.feed.judge(restored.first, now), { now, tickNo: 1 });
    firstTicks.push(performance.now() - start);
    firstCpu.push(cpuMs(cpu));
    const sink: FrameSink = { bufferedAmount: 0, closed: false, heardAt: 0, send() {}, close() {} };
    start = performance.now();
    cpu = process.cpuUsage();
    views.request(new Session(sink, {}, { tickMs: TICK_MS, now }), {
      subscriptions: [],
      sort: { key: "metric", metric: "temperature", field: "last", direction: "desc" },
      filter: { idSubstring: "", groupPrefix: null, status: null },
      offset: 0,
      limit: 50,
      order: "keep",
      resume: null,
      hiddenMetrics: [],
    }, { scope: null, owners: ["address:10.0.0.1"], now, tickNo: 1 });
    opens.push(performance.now() - start);
    openCpu.push(cpuMs(cpu));
    views.stop();
  }
  for (const list of [made, firstTicks, opens, madeCpu, firstCpu, openCpu]) {
    list.sort((a, b) => a - b);
  }
  console.log(`## 6. After a restart: the views over ${SENSORS} restored sensors (5 rounds)\n`);
  console.log(
    renderTable(
      ["step", "wall best / median ms", "CPU best / median ms"],
      [
        ["HubViews made (the sort keys of every sensor)", made, madeCpu],
        ["its first tick (every sensor's state), no view open", firstTicks, firstCpu],
        ["then the first view opened (by temperature, 50 rows)", opens, openCpu],
      ].map(([step, wall, used]) => [
        step as string,
        `${ms((wall as number[])[0])} / ${ms((wall as number[])[2])}`,
        `${ms((used as number[])[0])} / ${ms((used as number[])[2])}`,
      ]),
    ) + "\n",
  );
}

console.log(`\nload average at the end: ${load()}`);

/** Samples allocations (V8's sampling heap profiler, in process); `stop` sums them by function. */
async function heapSampler() {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => error ? reject(error) : resolve(result))
    );
  await post("HeapProfiler.enable");
  interface Node {
    callFrame: { functionName: string; url: string; lineNumber: number };
    selfSize: number;
    children: Node[];
  }
  const ours = new URL("..", import.meta.url).href;
  return {
    start: () =>
      post("HeapProfiler.startSampling", {
        samplingInterval: 512,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      }),
    async stop(): Promise<[string, number][]> {
      const { profile } = await post("HeapProfiler.stopSampling") as { profile: { head: Node } };
      const by = new Map<string, number>();
      // Charged to the innermost frame of ours (a library's or a builtin's to its caller);
      // the line is where the function starts.
      const walk = (node: Node, owner: string) => {
        const f = node.callFrame;
        const mine = f.url.startsWith(ours) && !f.url.includes("node_modules");
        const here = mine
          ? `${f.functionName || "(anonymous)"} ${f.url.slice(ours.length)}:${f.lineNumber + 1}`
          : owner;
        by.set(here, (by.get(here) ?? 0) + node.selfSize);
        for (const child of node.children) walk(child, here);
      };
      walk(profile.head, "(outside)");
      return [...by].sort((a, b) => b[1] - a[1]);
    },
  };
}

/**
 * V8's CPU profiler over the measured ticks: self time by function (any
 * function, builtins and the collector included), the idle gaps left out;
 * the whole profile is written to `file` (open it in DevTools).
 */
async function cpuSampler() {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => error ? reject(error) : resolve(result))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }
  const root = new URL("..", import.meta.url).href;
  return {
    start: () => post("Profiler.start"),
    async stop(file: string): Promise<[string, number][]> {
      const { profile } = await post("Profiler.stop") as {
        profile: { nodes: Node[]; samples: number[]; timeDeltas: number[] };
      };
      await Deno.writeTextFile(file, JSON.stringify(profile));
      const names = new Map<number, string>();
      for (const { id, callFrame: f } of profile.nodes) {
        const url = f.url.startsWith(root) ? f.url.slice(root.length) : f.url.split("/").at(-1);
        names.set(id, `${f.functionName || "(anonymous)"} ${url}:${f.lineNumber + 1}`);
      }
      const by = new Map<string, number>();
      // A sample's time is the delta to the next one.
      for (let i = 0; i + 1 < profile.samples.length; i++) {
        const name = names.get(profile.samples[i])!;
        if (name.startsWith("(idle)") || name.startsWith("(program)")) continue;
        by.set(name, (by.get(name) ?? 0) + profile.timeDeltas[i + 1]);
      }
      return [...by].sort((a, b) => b[1] - a[1]);
    },
  };
}

/** The hub's views over `feed`, with the limits these sections use. */
/**
 * The ticks grouped by how many views they ordered: a view ordered anew
 * brings rows entering its window, so its frame is larger (and deflated).
 */
function orderingsLine(ticks: { orderings: number; frames: number; tick: number }[]): string {
  const groups = new Map<number, { n: number; frames: number; tick: number }>();
  for (const t of ticks) {
    const g = groups.get(t.orderings) ?? { n: 0, frames: 0, tick: 0 };
    g.n++;
    g.frames += t.frames;
    g.tick += t.tick;
    groups.set(t.orderings, g);
  }
  const parts = [...groups].sort((a, b) => a[0] - b[0]).map(([count, g]) =>
    `${count}: ${g.n} ticks, frames ${(g.frames / g.n).toFixed(2)} ms, tick ${
      (g.tick / g.n).toFixed(2)
    } ms`
  );
  return `by views ordered in the tick (mean): ${parts.join("; ")}\n`;
}

function benchViews(feed: ConstructorParameters<typeof HubViews>[0], stats: HubStats): HubViews {
  return new HubViews(feed, {
    limits: { ringMs: 30_000, ringBytes: 32 << 20 },
    budget: new RingBudget(256 << 20),
    tickMs: TICK_MS,
    table: { maxViews: 256, viewsPerClient: 1000, ...SORTS },
    maxSubscriptions: 16,
    maxSubscriptionBytes: 64 << 10,
    stats,
  });
}
