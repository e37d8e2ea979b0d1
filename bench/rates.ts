// The end-to-end rate series: server subprocess on a real Deno KV file, N
// decoding WebSocket clients in this process, the simulator as a subprocess
// at each target rate in turn.
import { BenchFeedClient } from "./feed_client.ts";
import { LatencyHistogram } from "./latency_histogram.ts";
import {
  cpuSeconds,
  memoryMb,
  startServer,
  startSimulator,
  stopProcess,
  storageWriteBytes,
} from "./processes.ts";
import { threadCpu, threadPercent } from "./threads.ts";

export interface RatesOptions {
  rates: number[];
  /** Measured seconds per rate, after `warmupSeconds`. */
  seconds: number;
  warmupSeconds: number;
  clients: number;
  sensors: number;
  /** Simulator flags; undefined means the bench's choice per rate. */
  batch?: number;
  concurrency?: number;
  lingerMs?: number;
  /** A client keeps up while its p99 latency stays at or under this. */
  maxP99Ms: number;
  /** Extra server flags (e.g. `--windows none`). */
  serverArgs?: string[];
  /** Simulator flags in place of the HTTP ones (--url, --batch, --concurrency, --linger). */
  simArgs?: (serverUrl: string, target: number) => string[];
  /** Where /healthz counts the readings accepted. Default `ingest.accepted` (HTTP). */
  acceptedOf?: (health: Health) => number;
  signal: AbortSignal;
  /** Told about progress, one line at a time. */
  log: (line: string) => void;
}

export interface RateRow {
  target: number;
  /** Readings the ingest API acknowledged per second (durable in Deno KV). */
  accepted: number;
  /** Readings the log source handed to the shard actors per second. */
  toShards: number;
  /** Per client, on average: coalesced sensor-metric updates and sensor updates decoded per second. */
  updates: number;
  sensorUpdates: number;
  p50: number;
  p99: number;
  bytesPerUpdate: number;
  bytesPerSensorUpdate: number;
  rssPeakMb: number;
  rssEndMb: number;
  cpuPercent: number;
  /** Server CPU by thread kind (main, kv, v8 helpers, workers, other), % of a core. */
  threads: Record<string, number>;
  /** The load generator's own CPU, % of a core. */
  simCpuPercent: number;
  /** Bytes the server wrote to storage per accepted reading (log, rollups, checkpoints). */
  diskBytesPerReading: number;
  gaps: number;
  catchUps: number;
  deltasPerTick: number;
  keptUp: boolean;
  /** Why not kept up, and the simulator's own trouble, if any. */
  notes: string[];
}

export interface RatesResult {
  rows: RateRow[];
  serverUrl: string;
  /** VmHWM of the server over the whole run. */
  serverPeakMb: number;
  serverEndMb: number;
}

export interface Health {
  log: { readingsRead: number; pendingReadings: number; caughtUp: boolean };
  ingest: { accepted: number };
  hub: { ticks: number; skippedFrames: number };
  mqtt?: { readingsAccepted: number };
}

export async function health(url: string): Promise<Health> {
  const response = await fetch(new URL("healthz", url), { signal: AbortSignal.timeout(5_000) });
  return await response.json();
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export async function runRates(options: RatesOptions): Promise<RatesResult> {
  const { signal, log } = options;
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-bench-" });
  const server = await startServer([
    "--port",
    "0",
    "--data",
    `${dir}/bench.kv`,
    // Every client connects from loopback: the per-address limit (default 64) must fit them all.
    "--max-connections-per-address",
    String(Math.max(64, options.clients + 8)),
    // Its clients stand for many machines: no one address's viewport row budget.
    "--view-rows-per-address",
    "100000000",
    ...(options.serverArgs ?? []),
  ]);
  const clients: BenchFeedClient[] = [];
  const rows: RateRow[] = [];
  let serverPeakMb = NaN, serverEndMb = NaN;
  try {
    for (let i = 0; i < options.clients; i++) clients.push(new BenchFeedClient(server.url));
    await Promise.all(clients.map((c) => c.opened));
    log(
      `bench: server ${server.url} (pid ${server.pid}), ${options.clients} client(s), ${options.sensors} sensors, ` +
        `${options.warmupSeconds}+${options.seconds} s per rate, ${navigator.hardwareConcurrency} cores`,
    );
    for (const target of options.rates) {
      if (signal.aborted) break;
      const row = await measureRate(target, { server, clients, options });
      if (signal.aborted) break; // a cut-short window is not a measurement
      rows.push(row);
      const last = row;
      log(
        `bench: ${target}/s → accepted ${Math.round(last.accepted)}/s, p99 ${last.p99} ms${
          last.notes.length ? ` (${last.notes.join("; ")})` : ""
        }`,
      );
      // Let the pipeline drain before the next rate.
      const drainUntil = Date.now() + 10_000;
      while (Date.now() < drainUntil && !signal.aborted) {
        const h = await health(server.url);
        if (h.log.caughtUp && h.log.pendingReadings === 0) break;
        await delay(200, signal);
      }
      await delay(1_000, signal);
    }
    const memory = memoryMb(server.pid);
    serverPeakMb = memory.hwm;
    serverEndMb = memory.rss;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await stopProcess(server.child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return { rows, serverUrl: server.url, serverPeakMb, serverEndMb };
}

/** One row: the simulator at `target` readings/s, measured after a warm-up. */
export async function measureRate(
  target: number,
  run: { server: { url: string; pid: number }; clients: BenchFeedClient[]; options: RatesOptions },
): Promise<RateRow> {
  const { server, clients, options } = run;
  const { signal } = options;
  const concurrency = options.concurrency ?? Math.min(16, Math.max(2, Math.ceil(target / 12_500)));
  const simSeconds = options.warmupSeconds + options.seconds + 0.5;
  const sim = startSimulator([
    "--sensors",
    String(options.sensors),
    "--rate",
    String(target),
    ...(options.simArgs?.(server.url, target) ?? [
      "--url",
      server.url,
      "--batch",
      String(options.batch ?? 1000),
      "--concurrency",
      String(concurrency),
      ...(options.lingerMs === undefined ? [] : ["--linger", String(options.lingerMs)]),
    ]),
    "--duration",
    String(simSeconds),
  ]);
  try {
    await delay(options.warmupSeconds * 1000, signal);
    clients.forEach((c) => c.reset());
    const before = await health(server.url);
    const cpuBefore = cpuSeconds(server.pid);
    const threadsBefore = threadCpu(server.pid);
    const simCpuBefore = cpuSeconds(sim.child.pid);
    const writtenBefore = storageWriteBytes(server.pid);
    const started = performance.now();
    let rssPeakMb = 0;
    while (performance.now() - started < options.seconds * 1000 && !signal.aborted) {
      await delay(250, signal);
      rssPeakMb = Math.max(rssPeakMb, memoryMb(server.pid).rss);
    }
    const after = await health(server.url);
    const elapsed = (performance.now() - started) / 1000;
    const cpuPercent = ((cpuSeconds(server.pid) - cpuBefore) / elapsed) * 100;
    const threads = threadPercent(threadsBefore, threadCpu(server.pid), elapsed);
    const simCpuPercent = ((cpuSeconds(sim.child.pid) - simCpuBefore) / elapsed) * 100;
    const written = storageWriteBytes(server.pid) - writtenBefore;
    const rssEndMb = memoryMb(server.pid).rss;
    // Snapshot the clients' counters now: the simulator is still running.
    const latency = new LatencyHistogram();
    clients.forEach((c) => latency.merge(c.latency));
    const sum = (f: (c: BenchFeedClient) => number) => clients.reduce((n, c) => n + f(c), 0);
    const updates = sum((c) => c.updates), sensorUpdates = sum((c) => c.sensorUpdates);
    const bytes = sum((c) => c.deltaBytes), deltas = sum((c) => c.deltas);
    const gaps = sum((c) => c.gaps), catchUps = sum((c) => c.catchUps);
    const ticks = after.hub.ticks - before.hub.ticks;
    const p50 = latency.percentile(50), p99 = latency.percentile(99);
    const deltasPerTick = deltas / clients.length / Math.max(1, ticks);

    // Wait for the simulator's own summary (it stops by itself), killing it if it hangs.
    // Interrupted: stop it now (SIGTERM lets it finish its requests and print the summary).
    if (signal.aborted) await stopProcess(sim.child);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      sim.child.status.then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), (simSeconds + 10) * 1000))),
    ]);
    clearTimeout(timer);
    const notes: string[] = [];
    if (!exited) notes.push("simulator hung: killed");
    const summary = sim.lines.join("\n");
    const skipped = Number(summary.match(/skipped (\d+)/)?.[1] ?? 0);
    const failed = Number(summary.match(/failed (\d+)/)?.[1] ?? 0);
    if (skipped) notes.push(`sim skipped ${skipped} (fell behind)`);
    if (failed) notes.push(`sim failed ${failed}`);
    const errors = sim.lines.filter((l) => /^\s+\d+× /.test(l)).map((l) => l.trim());
    if (errors.length) notes.push(`sim errors: ${errors.join(", ")}`);

    const keptUp = gaps === 0 && catchUps === 0 && p99 <= options.maxP99Ms && deltasPerTick >= 0.8;
    if (gaps) notes.push(`${gaps} seq gaps`);
    if (catchUps) notes.push(`${catchUps} catch-up snapshots`);
    if (p99 > options.maxP99Ms) notes.push(`p99 over ${options.maxP99Ms} ms`);
    if (deltasPerTick < 0.8) notes.push(`${deltasPerTick.toFixed(2)} deltas per tick`);
    const perClient = elapsed * clients.length;
    const acceptedOf = options.acceptedOf ?? ((h: Health) => h.ingest.accepted);
    const acceptedCount = acceptedOf(after) - acceptedOf(before);
    return {
      target,
      accepted: acceptedCount / elapsed,
      toShards: (after.log.readingsRead - before.log.readingsRead) / elapsed,
      updates: updates / perClient,
      sensorUpdates: sensorUpdates / perClient,
      p50,
      p99,
      bytesPerUpdate: bytes / Math.max(1, updates),
      bytesPerSensorUpdate: bytes / Math.max(1, sensorUpdates),
      rssPeakMb,
      rssEndMb,
      cpuPercent,
      threads,
      simCpuPercent,
      diskBytesPerReading: written / Math.max(1, acceptedCount),
      gaps,
      catchUps,
      deltasPerTick,
      keptUp,
      notes,
    };
  } finally {
    await stopProcess(sim.child);
  }
}
