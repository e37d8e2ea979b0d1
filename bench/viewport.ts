// The viewport benchmarks (issue 11): what a dashboard-shaped window and a
// full-fleet client receive on a live server; the hub's tick with 1, 10 and
// 100 distinct orderings; fan-out to many viewport clients (node `ws` clients
// in their own process); and the dashboard itself in Chromium, normal and
// 4x CPU-throttled. Each run starts its own server and simulator.
import { chromium } from "playwright-core";
import { ViewClient } from "../tests/testing/view_client.ts";
import { FeedClient } from "../tests/testing/feed_client.ts";
import type { ViewSpec } from "../protocol/mod.ts";
import {
  cpuSeconds,
  memoryMb,
  renice,
  startServer,
  startSimulator,
  stopProcess,
} from "./processes.ts";
import type { ServerProcess } from "./processes.ts";
import { freePort, memoryAfterGc, memoryAfterTrim } from "./inspector.ts";
import { cpuTimes, stealPercent } from "./machine_steal.ts";
import { otherLoadPercent, readLoad } from "./other_load.ts";

const root = new URL("..", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LoadOptions {
  sensors: number;
  rate: number;
  seconds: number;
  log: (line: string) => void;
  /** Extra server flags. */
  serverArgs?: string[];
  /** Extra flags for `deno run` of the server (e.g. `--inspect`). */
  denoArgs?: string[];
  /** Niceness of the simulator and of this process (its clients) while loaded (see `renice`); 0: as the server. */
  loadNice?: number;
}

interface Health {
  sensors: number;
  ingest: { accepted: number };
  hub: {
    ticks: number;
    lastTickMs: number;
    lastMergeMs: number;
    /** The same tick's CPU time on the hub's thread (null where not measured). */
    lastMergeCpuMs?: number | null;
    /** The same tick's run-queue wait on the hub's thread (null where not measured). */
    lastMergeWaitMs?: number | null;
    viewsMs: number;
    tickParts?: Record<string, number>;
    views: number;
    windows: number;
    skippedFrames: number;
    snapshotsSent: number;
  };
}

async function health(url: string): Promise<Health> {
  // Generous: a busy server on 2 shared cores (100,000 sensors) may answer slowly.
  return await (await fetch(new URL("healthz", url), { signal: AbortSignal.timeout(30_000) }))
    .json();
}

/** Server and simulator at a load, until the hub holds (almost) every sensor. */
async function withLoad<T>(
  o: LoadOptions & { duration: number; cwd?: string },
  run: (server: ServerProcess, load: { simPid: number }) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-viewport-" });
  const server = await startServer(
    [
      "--port",
      "0",
      "--data",
      `${dir}/bench.kv`,
      "--max-connections-per-address",
      "100000",
      // Its clients stand for many machines: no one address's viewport row budget.
      "--view-rows-per-address",
      "100000000",
      "--windows",
      "none",
      ...(o.serverArgs ?? []),
    ],
    30_000,
    { cwd: o.cwd, denoArgs: o.denoArgs },
  );
  const sim = startSimulator([
    "--url",
    server.url,
    "--sensors",
    String(o.sensors),
    "--rate",
    String(o.rate),
    "--duration",
    String(o.duration),
  ]).child;
  if (o.loadNice) {
    renice(sim.pid, o.loadNice);
    renice(Deno.pid, o.loadNice);
  }
  try {
    const deadline = Date.now() + 120_000;
    while ((await health(server.url)).sensors < o.sensors * 0.99) {
      if (Date.now() > deadline) throw new Error("the fleet did not appear within 120 s");
      await sleep(250);
    }
    return await run(server, { simPid: sim.pid });
  } finally {
    if (o.loadNice) renice(Deno.pid, 0);
    await stopProcess(sim);
    await stopProcess(server.child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

export interface BytesRow {
  client: string;
  kbPerSecond: number;
  framesPerSecond: number;
  /** Frame bytes per distinct sensor per frame (full-topic clients). */
  bytesPerSensorUpdate: number | null;
  /** A client closed by the server meanwhile, and with what. */
  note: string;
}

/** A dashboard-shaped window: the first 50 rows (the visible ~30 and the overscan). */
export const DASHBOARD_ROWS = 50;

/**
 * Bytes a second that a dashboard-shaped viewport client (by id, and hottest
 * first), and full-fleet clients (full and compact frames), receive at a load.
 */
export async function runViewportBytes(o: LoadOptions & { full?: boolean }): Promise<{
  rows: BytesRow[];
  acceptedPerSecond: number;
  /** Scrolls to random places of the view: ms from the ViewSubscribe to the rows there, sorted. */
  scrollMs: number[];
}> {
  return await withLoad({ ...o, duration: o.seconds + 90 }, async (server) => {
    const byId = new ViewClient(server.url);
    const hottest = new ViewClient(server.url);
    // The same window with two of the three metric columns hidden (the dashboard's "Columns").
    const oneColumn = new ViewClient(server.url);
    // Full Deltas of a large fleet are more than this process can decode (MB/s): only when asked.
    const full = o.full === false ? null : new FeedClient(server.url);
    const compact = new FeedClient(server.url, { encoding: "compact" });
    await Promise.all([
      byId.opened,
      hottest.opened,
      oneColumn.opened,
      full?.opened,
      compact.opened,
    ]);
    byId.view({ offset: 0, limit: DASHBOARD_ROWS });
    const hottestSpec: ViewSpec = {
      sort: { key: "metric", metric: "temperature", direction: "desc" },
      offset: 0,
      limit: DASHBOARD_ROWS,
    };
    hottest.view(hottestSpec);
    oneColumn.view({ ...hottestSpec, hiddenMetrics: ["humidity", "pressure"] });
    await sleep(3_000);
    type Counted = {
      frameBytes: number;
      viewFrames?: number;
      deltas?: number;
      sensorUpdates?: number;
    };
    const clients: [string, Counted][] = [
      [`viewport ${DASHBOARD_ROWS} rows, by id`, byId],
      [`viewport ${DASHBOARD_ROWS} rows, hottest first`, hottest],
      [`viewport ${DASHBOARD_ROWS} rows, hottest first, 1 of 3 metrics shown`, oneColumn],
      ...(full ? [["full fleet, full Deltas (/ws)", full] as [string, Counted]] : []),
      ["full fleet, compact (/ws?encoding=compact)", compact],
    ];
    let closed = "";
    for (const [name, c] of [["full", full], ["compact", compact]] as const) {
      c?.closed.then((e) => (closed += ` ${name} closed with ${e.code}`));
    }
    const before = clients.map(([, c]) => ({ ...snapshot(c) }));
    const accepted0 = (await health(server.url)).ingest.accepted;
    const t0 = performance.now();
    await sleep(o.seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const accepted = ((await health(server.url)).ingest.accepted - accepted0) / elapsed;
    const rows = clients.map(([name, c], i) => {
      const now = snapshot(c);
      const bytes = now.frameBytes - before[i].frameBytes;
      const sensorUpdates = now.sensorUpdates - before[i].sensorUpdates;
      return {
        client: name,
        kbPerSecond: bytes / elapsed / 1000,
        framesPerSecond: (now.frames - before[i].frames) / elapsed,
        note: closed,
        bytesPerSensorUpdate: "sensorUpdates" in c ? bytes / Math.max(1, sensorUpdates) : null,
      };
    });
    await Promise.all([full?.close(), compact.close()]);
    const scrollMs = await scrolls(hottest, hottestSpec, 20);
    for (const c of [byId, hottest, oneColumn]) {
      if (c.problems.length > 0) o.log(`viewport client problems: ${c.problems.slice(0, 3)}`);
    }
    await Promise.all([byId.close(), hottest.close(), oneColumn.close()]);
    return { rows, acceptedPerSecond: accepted, scrollMs };
  });
}

/**
 * Scrolls a sorted window `count` times to random places of its view (under
 * the server's 5 messages a second): per scroll, ms from sending the
 * ViewSubscribe until the window holds the rows of its new place.
 */
async function scrolls(client: ViewClient, spec: ViewSpec, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const block = Math.floor(Math.random() * Math.max(1, Math.floor(client.matching / 50) - 1));
    const offset = block * 50 + 7; // the server rounds down to its block of 50
    const joins = client.kinds.join;
    const t0 = performance.now();
    client.view({ ...spec, offset, limit: DASHBOARD_ROWS });
    const deadline = t0 + 10_000;
    while (
      !(client.kinds.join > joins && client.offset === block * 50 && client.rows.length > 0)
    ) {
      if (performance.now() > deadline) break;
      await sleep(1);
    }
    times.push(performance.now() - t0);
    await sleep(300);
  }
  return times.sort((a, b) => a - b);
}

/** Bytes of every frame; value frames (view frames, Deltas); distinct sensors per Delta. */
function snapshot(
  c: { frameBytes: number; viewFrames?: number; deltas?: number; sensorUpdates?: number },
) {
  return {
    frameBytes: c.frameBytes,
    frames: c.viewFrames ?? c.deltas ?? 0,
    sensorUpdates: c.sensorUpdates ?? 0,
  };
}

/** Distinct views: every sort (keys, fields, directions) under a few filters. */
export function distinctViews(count: number): ViewSpec[] {
  const sorts: ViewSpec["sort"][] = [];
  for (const metric of ["temperature", "humidity", "pressure"]) {
    for (const field of ["last", "avg", "min", "max"] as const) {
      for (const direction of ["desc", "asc"] as const) {
        sorts.push({ key: "metric", metric, field, direction });
      }
    }
  }
  for (const key of ["id", "group", "seen"] as const) {
    for (const direction of ["asc", "desc"] as const) sorts.push({ key, direction });
  }
  const filters = [{}, ...["a", "b", "c", "d"].map((p) => ({ groupPrefix: `plant-${p}` }))];
  const views: ViewSpec[] = [];
  for (const filter of filters) {
    for (const sort of sorts) views.push({ sort, filter, offset: 0, limit: DASHBOARD_ROWS });
  }
  if (count > views.length) throw new RangeError(`at most ${views.length} distinct views`);
  return views.slice(0, count);
}

export interface TickRow {
  orderings: number;
  views: number;
  ticks: number;
  roundP50: number;
  roundP99: number;
  tickP50: number;
  tickP99: number;
  /** The hub tick's CPU time (its thread's), NaN where the server does not measure it. */
  tickCpuP50: number;
  tickCpuP99: number;
  /** The hub tick's run-queue wait (its thread runnable without a core), NaN where not measured. */
  tickWaitP50: number;
  tickWaitP99: number;
  viewsP50: number;
  viewsP99: number;
  /** The host's steal over the sampled ticks, % of the machine's CPU time (null: unknown). */
  stealPercent: number | null;
  /** CPU time of processes other than the server, simulator and clients, % of the machine's (null: unknown). */
  otherPercent: number | null;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/**
 * The hub's tick (a round of flushes merged and sent) and its views' part,
 * with 1, 10 and 100 distinct orderings open, each watched by a window.
 */
export async function runViewTicks(
  o: LoadOptions & { orderings: number[] },
): Promise<TickRow[]> {
  const rows: TickRow[] = [];
  const serverArgs = ["--views-per-client", "1000", ...(o.serverArgs ?? [])];
  await withLoad({
    ...o,
    serverArgs,
    duration: (o.seconds + 8) * o.orderings.length + 60,
  }, async (server, load) => {
    const ours = [server.child.pid, load.simPid, Deno.pid];
    for (const count of o.orderings) {
      const clients = distinctViews(count).map((spec) => {
        const c = new ViewClient(server.url);
        c.opened.then(() => c.view(spec));
        return c;
      });
      await Promise.all(clients.map((c) => c.opened));
      await sleep(5_000);
      const rounds: number[] = [];
      const ticks: number[] = [];
      const cpu: number[] = [];
      const wait: number[] = [];
      const views: number[] = [];
      const parts: { tick: number; cpu: number; wait: number; parts: Record<string, number> }[] =
        [];
      let last = -1;
      const t0 = Date.now();
      const cpuBefore = cpuTimes();
      const loadBefore = readLoad(ours);
      while (Date.now() - t0 < o.seconds * 1000) {
        const h = (await health(server.url)).hub;
        if (h.ticks !== last) {
          last = h.ticks;
          rounds.push(h.lastTickMs);
          ticks.push(h.lastMergeMs);
          if (typeof h.lastMergeCpuMs === "number") cpu.push(h.lastMergeCpuMs);
          if (typeof h.lastMergeWaitMs === "number") wait.push(h.lastMergeWaitMs);
          views.push(h.viewsMs);
          if (h.tickParts) {
            parts.push({
              tick: h.lastMergeMs,
              cpu: h.lastMergeCpuMs ?? NaN,
              wait: h.lastMergeWaitMs ?? NaN,
              parts: h.tickParts,
            });
          }
        }
        await sleep(30);
      }
      const steal = stealPercent(cpuBefore, cpuTimes());
      const others = otherLoadPercent(loadBefore, readLoad(ours));
      if (parts.length > 0) o.log(`${count} orderings: ${tickPartsLine(parts)}`);
      rounds.sort((a, b) => a - b);
      ticks.sort((a, b) => a - b);
      cpu.sort((a, b) => a - b);
      wait.sort((a, b) => a - b);
      views.sort((a, b) => a - b);
      const h = (await health(server.url)).hub;
      o.log(
        `${count} orderings: ${h.views} views, ${h.windows} windows, ${ticks.length} ticks sampled`,
      );
      rows.push({
        orderings: count,
        views: h.views,
        ticks: ticks.length,
        roundP50: percentile(rounds, 0.5),
        roundP99: percentile(rounds, 0.99),
        tickP50: percentile(ticks, 0.5),
        tickP99: percentile(ticks, 0.99),
        tickCpuP50: percentile(cpu, 0.5),
        tickCpuP99: percentile(cpu, 0.99),
        tickWaitP50: percentile(wait, 0.5),
        tickWaitP99: percentile(wait, 0.99),
        viewsP50: percentile(views, 0.5),
        viewsP99: percentile(views, 0.99),
        stealPercent: steal,
        otherPercent: others,
      });
      await Promise.all(clients.map((c) => c.close()));
      await sleep(2_000);
    }
  });
  return rows;
}

/**
 * Where the slowest tenth of the sampled ticks went, by part (the hub's
 * `tickParts`), against the other ticks: what makes the tail.
 */
function tickPartsLine(
  samples: { tick: number; cpu: number; wait: number; parts: Record<string, number> }[],
): string {
  const sorted = [...samples].sort((a, b) => a.tick - b.tick);
  const cut = Math.floor(sorted.length * 0.9);
  const mean = (group: typeof samples) => {
    const sum: Record<string, number> = { tick: 0 };
    let cpu = 0, wait = 0;
    for (const s of group) {
      sum.tick += s.tick;
      cpu += s.cpu;
      wait += s.wait;
      for (const [k, v] of Object.entries(s.parts)) sum[k] = (sum[k] ?? 0) + v;
    }
    const named = Object.keys(sum).filter((k) => k !== "tick");
    const other = sum.tick - named.reduce((a, k) => a + sum[k], 0);
    return [
      ...named.map((k) => `${k} ${(sum[k] / group.length).toFixed(1)}`),
      `other ${(other / group.length).toFixed(1)}`,
      `= ${(sum.tick / group.length).toFixed(1)} ms (CPU ${(cpu / group.length).toFixed(1)}, ` +
      `run-queue wait ${(wait / group.length).toFixed(1)} ms)`,
    ].join(", ");
  };
  return `mean tick parts, slowest ${sorted.length - cut}: ${mean(sorted.slice(cut))}; ` +
    `the other ${cut}: ${mean(sorted.slice(0, cut))}`;
}

export interface FanoutRow {
  clients: number;
  open: number;
  /** Client processes holding them. */
  processes: number;
  framesPerSecond: number;
  kbPerSecondPerClient: number;
  p50: number;
  p99: number;
  cpuPercent: number;
  rssMb: number;
  /** RSS per client beyond what the server held with none (the fleet's own state). */
  kbPerClient: number;
  /** The same of the V8 heap in use, and of memory outside it (buffers), from /healthz. */
  heapKbPerClient: number;
  externalKbPerClient: number;
  heapUsedMb: number;
  externalMb: number;
  /** After a full GC (over the inspector) at the end of the step: RSS and heap used, per client. */
  gcKbPerClient: number;
  gcHeapKbPerClient: number;
  /** After the GC, per client: V8 heap reserved, of it the young generation, and external. */
  gcHeapTotalKbPerClient: number;
  gcNewSpaceKbPerClient: number;
  gcExternalKbPerClient: number;
  /** After the GC, per client: the malloc heap (native memory of the runtime). */
  gcMallocKbPerClient: number;
  /** At the last count only (it changes the process): RSS and malloc heap per client after malloc_trim. */
  trimmedKbPerClient: number | null;
  trimmedMallocKbPerClient: number | null;
  /** Sessions the server closed meanwhile (slow or silent clients). */
  closed: number;
  load: string;
}

/** The node client, bundled from bench/node_view_clients.ts. */
async function nodeClients(): Promise<string> {
  const out = await Deno.makeTempFile({ prefix: "pulseboard-view-clients-", suffix: ".mjs" });
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "-o", out, "bench/node_view_clients.ts"],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  return out;
}

/**
 * Clients one node process holds: small enough that a process keeps up with
 * its frames on a loaded machine (at 2,500 one fell seconds behind).
 */
const CLIENTS_PER_PROCESS = 1_000;
/** Handshakes a second over all processes: a steady pace a busy server answers in time. */
const OPEN_PER_SECOND = 100;

interface ClientReport {
  open: number;
  closed: number;
  failed: number;
  viewFrames: number;
  bytes: number;
  p50: number;
  p99: number;
}

/** A node process of viewport clients and its latest report. */
function spawnClients(
  script: string,
  o: { url: string; count: number; first: number; pace: number; specs: ViewSpec[] },
) {
  const child = new Deno.Command("node", {
    args: [
      script,
      o.url.replace("http", "ws") + "ws?subscribe=explicit",
      String(o.count),
      JSON.stringify(o.specs),
      String(o.pace),
      String(o.first),
    ],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const state = {
    child,
    latest: {
      open: 0,
      closed: 0,
      failed: 0,
      viewFrames: 0,
      bytes: 0,
      p50: 0,
      p99: 0,
    } as ClientReport,
    reading: Promise.resolve(),
  };
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  state.reading = (async () => {
    let buffered = "";
    while (true) {
      const { done, value } = await lines.read();
      if (done) return;
      buffered += value;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) if (line.trim()) state.latest = JSON.parse(line);
    }
  })().catch(() => {});
  return state;
}

async function serverMemory(url: string): Promise<{ heapUsed: number; external: number }> {
  const h = await health(url) as unknown as { memory?: { heapUsed: number; external: number } };
  return h.memory ?? { heapUsed: NaN, external: NaN };
}

const loadAverage = () => Deno.loadavg()[0].toFixed(1);

/**
 * Many viewport clients (20 places: 5 sorts at 4 offsets), opened step by
 * step to each count of `clients` (cumulative: 1000,5000,10000 opens 1,000,
 * then 4,000 more, then 5,000 more), spread over node processes of at most
 * 2,500 clients, at 100 handshakes a second: at each count, frames a second
 * delivered, tick-to-client latency, server CPU, and server memory (RSS, V8
 * heap in use and external) per client beyond what it held with none.
 */
export async function runViewFanout(
  o: LoadOptions & { clients: number[]; cwd?: string },
): Promise<FanoutRow[]> {
  const script = await nodeClients();
  const inspector = freePort();
  const specs: ViewSpec[] = [];
  for (const sort of distinctViews(5).map((v) => v.sort)) {
    for (const offset of [0, 500, 2_000, 4_000]) {
      specs.push({ sort, offset, limit: DASHBOARD_ROWS });
    }
  }
  const top = Math.max(...o.clients);
  const rows: FanoutRow[] = [];
  const processes: ReturnType<typeof spawnClients>[] = [];
  try {
    await withLoad({
      ...o,
      duration: top / OPEN_PER_SECOND + o.clients.length * (o.seconds + 90) + 120,
      denoArgs: [`--inspect=127.0.0.1:${inspector}`],
    }, async (server) => {
      await sleep(5_000);
      const base = medianRss(server.pid, 8);
      const baseMemory = await serverMemory(server.url);
      const baseGc = await memoryAfterGc(inspector, server.pid);
      o.log(
        `no clients: RSS ${base.toFixed(1)} MB, heap used ${
          (baseMemory.heapUsed / 2 ** 20).toFixed(1)
        } MB, external ${(baseMemory.external / 2 ** 20).toFixed(1)} MB; after GC: RSS ${
          (baseGc.rss / 2 ** 20).toFixed(1)
        } MB, heap used ${(baseGc.heapUsed / 2 ** 20).toFixed(1)} MB, heap total ${
          (baseGc.heapTotal / 2 ** 20).toFixed(1)
        } MB (young generation ${(baseGc.newSpace / 2 ** 20).toFixed(1)} MB), external ${
          (baseGc.external / 2 ** 20).toFixed(1)
        } MB, malloc heap ${(baseGc.malloc / 2 ** 20).toFixed(1)} MB; load ${loadAverage()}`,
      );
      let opened = 0;
      const total = () => {
        const sum: ClientReport = {
          open: 0,
          closed: 0,
          failed: 0,
          viewFrames: 0,
          bytes: 0,
          p50: 0,
          p99: 0,
        };
        for (const p of processes) {
          for (const key of ["open", "closed", "failed", "viewFrames", "bytes"] as const) {
            sum[key] += p.latest[key];
          }
          sum.p50 = Math.max(sum.p50, p.latest.p50);
          sum.p99 = Math.max(sum.p99, p.latest.p99);
        }
        return sum;
      };
      for (const count of [...o.clients].sort((a, b) => a - b)) {
        const load0 = loadAverage();
        const adding: { first: number; count: number }[] = [];
        for (let first = opened; first < count; first += CLIENTS_PER_PROCESS) {
          adding.push({ first, count: Math.min(CLIENTS_PER_PROCESS, count - first) });
        }
        for (const a of adding) {
          processes.push(spawnClients(script, {
            url: server.url,
            specs,
            ...a,
            pace: OPEN_PER_SECOND / adding.length,
          }));
        }
        opened = count;
        const deadline = Date.now() + 60_000 + (count / OPEN_PER_SECOND) * 2_000;
        // Until every handshake has settled (a session the server closed meanwhile counts too).
        const settled = () => {
          const t = total();
          return t.open + t.closed + t.failed >= count;
        };
        while (!settled() && Date.now() < deadline) await sleep(500);
        const now = total();
        o.log(
          `${now.open} of ${count} viewport clients open in ${processes.length} processes ` +
            `(${now.failed} failed, ${now.closed} closed), load ${loadAverage()}`,
        );
        await sleep(10_000);
        const start = total();
        const cpu0 = cpuSeconds(server.pid);
        const t0 = performance.now();
        const rss: number[] = [];
        const heap: number[] = [];
        const external: number[] = [];
        let p50 = 0, p99 = 0;
        while (performance.now() - t0 < o.seconds * 1000) {
          await sleep(1_000);
          rss.push(memoryMb(server.pid).rss);
          const memory = await serverMemory(server.url);
          heap.push(memory.heapUsed / 2 ** 20);
          external.push(memory.external / 2 ** 20);
          const t = total();
          p50 = Math.max(p50, t.p50);
          p99 = Math.max(p99, t.p99);
        }
        const elapsed = (performance.now() - t0) / 1000;
        const cpu = (cpuSeconds(server.pid) - cpu0) / elapsed;
        const median = (values: number[]) =>
          values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
        const rssMb = median(rss);
        const heapUsedMb = median(heap);
        const externalMb = median(external);
        const end = total();
        const perClient = (mb: number, baseMb: number) => ((mb - baseMb) * 1024) / count;
        // Last, so the collection does not disturb the samples above.
        const gc = await memoryAfterGc(inspector, server.pid);
        const trimmed = count === top
          ? await memoryAfterTrim(inspector, server.pid).catch((error) => {
            o.log(`malloc_trim failed: ${error}`);
            return null;
          })
          : null;
        rows.push({
          clients: count,
          open: end.open,
          processes: processes.length,
          framesPerSecond: (end.viewFrames - start.viewFrames) / elapsed,
          kbPerSecondPerClient: (end.bytes - start.bytes) / elapsed / 1000 / count,
          p50,
          p99,
          cpuPercent: cpu * 100,
          rssMb,
          kbPerClient: perClient(rssMb, base),
          heapUsedMb,
          externalMb,
          heapKbPerClient: perClient(heapUsedMb, baseMemory.heapUsed / 2 ** 20),
          externalKbPerClient: perClient(externalMb, baseMemory.external / 2 ** 20),
          gcKbPerClient: (gc.rss - baseGc.rss) / 1024 / count,
          gcHeapKbPerClient: (gc.heapUsed - baseGc.heapUsed) / 1024 / count,
          gcHeapTotalKbPerClient: (gc.heapTotal - baseGc.heapTotal) / 1024 / count,
          gcNewSpaceKbPerClient: (gc.newSpace - baseGc.newSpace) / 1024 / count,
          gcExternalKbPerClient: (gc.external - baseGc.external) / 1024 / count,
          gcMallocKbPerClient: (gc.malloc - baseGc.malloc) / 1024 / count,
          trimmedKbPerClient: trimmed && (trimmed.rss - baseGc.rss) / 1024 / count,
          trimmedMallocKbPerClient: trimmed && (trimmed.malloc - baseGc.malloc) / 1024 / count,
          closed: end.closed,
          load: `${load0} → ${loadAverage()}`,
        });
        o.log(JSON.stringify(rows.at(-1)));
      }
    });
  } finally {
    for (const p of processes) {
      try {
        p.child.kill("SIGTERM");
      } catch { /* already gone */ }
      await p.child.status;
      await p.reading;
    }
    await Deno.remove(script).catch(() => {});
  }
  return rows;
}

function medianRss(pid: number, samples: number): number {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    values.push(memoryMb(pid).rss);
    const until = Date.now() + 250;
    while (Date.now() < until) { /* a quarter second between samples, synchronously */ }
  }
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)];
}

export interface BrowserRow {
  throttle: number;
  kbPerSecond: number;
  rateHz: string;
  frameP95: number;
  rafP50: number;
  rafP99: number;
  longTaskMsPerSecond: number;
  catchUps: number;
}

const CHROMIUM = "/usr/bin/chromium";

/**
 * The dashboard in Chromium at a load: bytes a second it receives (its own
 * counter), its frame time (arrival to screen, 95th percentile, what it tells
 * the server), the animation frames' intervals (p50/p99: jank) and long tasks,
 * normal and with the CPU throttled 4x (a phone). With `cwd`, the server runs
 * from that checkout (to measure another version's dashboard the same way).
 */
export async function runBrowser(o: LoadOptions & { cwd?: string }): Promise<BrowserRow[]> {
  const rows: BrowserRow[] = [];
  await withLoad({ ...o, duration: o.seconds * 2 + 90 }, async (server) => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const cdp = await page.context().newCDPSession(page);
      await cdp.send("Network.enable");
      let wsBytes = 0;
      cdp.on("Network.webSocketFrameReceived", (event) => {
        wsBytes += Math.floor((event.response.payloadData.length * 3) / 4);
      });
      await page.goto(server.url);
      await page.getByTestId("connection-state").filter({ hasText: "live" }).waitFor({
        timeout: 30_000,
      });
      await sleep(5_000);
      for (const throttle of [1, 4]) {
        await cdp.send("Emulation.setCPUThrottlingRate", { rate: throttle });
        await sleep(3_000);
        const bytes0 = wsBytes;
        const t0 = performance.now();
        const measured = page.evaluate(async (ms: number) => {
          const intervals: number[] = [];
          let longTasks = 0;
          const observer = new PerformanceObserver((list) => {
            for (const entry of list.getEntries()) longTasks += entry.duration;
          });
          try {
            observer.observe({ type: "longtask", buffered: false });
          } catch { /* not supported */ }
          // In the page: a browser global.
          const raf = (globalThis as unknown as {
            requestAnimationFrame: (f: (at: number) => void) => void;
          }).requestAnimationFrame.bind(globalThis);
          let last = performance.now();
          const end = last + ms;
          await new Promise<void>((resolve) => {
            const frame = (at: number) => {
              intervals.push(at - last);
              last = at;
              if (at < end) raf(frame);
              else resolve();
            };
            raf(frame);
          });
          observer.disconnect();
          return { intervals, longTasks };
        }, o.seconds * 1000);
        let catchUps = 0;
        const frameMs: number[] = [];
        const rates = new Set<string>();
        while (performance.now() - t0 < o.seconds * 1000) {
          await sleep(500);
          const notice = page.getByTestId("feed-notice");
          if (
            (await notice.count()) > 0 && /catching up/.test((await notice.textContent()) ?? "")
          ) {
            catchUps++;
          }
          const rate = page.getByTestId("feed-rate");
          if ((await rate.count()) > 0) {
            rates.add(((await rate.textContent()) ?? "").trim());
            frameMs.push(Number(await rate.getAttribute("data-frame-ms") ?? NaN));
          }
        }
        const { intervals, longTasks } = await measured;
        const elapsed = (performance.now() - t0) / 1000;
        intervals.sort((a, b) => a - b);
        frameMs.sort((a, b) => a - b);
        rows.push({
          throttle,
          kbPerSecond: (wsBytes - bytes0) / elapsed / 1000,
          rateHz: [...rates].join(", ") || "–",
          frameP95: percentile(frameMs.filter((n) => !Number.isNaN(n)), 0.5),
          rafP50: percentile(intervals, 0.5),
          rafP99: percentile(intervals, 0.99),
          longTaskMsPerSecond: longTasks / elapsed,
          catchUps,
        });
      }
    } finally {
      await browser.close();
    }
  });
  return rows;
}
