// `deno task bench --scale <sensors,...>`: a fleet fed by `sim --replay` at
// --scale-rate for --seconds, then the server's RSS, its SIGTERM-to-exit
// time, and a restart's time from process start to every sensor served.
// Accepted readings are sampled every 250 ms, so a checkpoint's ingest dip
// shows as the lowest 1-second rate while it ran.
import { cpuSeconds, memoryMb, startServer, startSimulator, stopProcess } from "./processes.ts";
import { cpuTimes, stealPercent } from "./machine_steal.ts";
import { health } from "./rates.ts";
import { freePort, mallocRss, memoryAfterGc, memoryAfterTrim } from "./inspector.ts";

export interface ScaleOptions {
  sensors: number;
  rate: number;
  seconds: number;
  /** Extra server flags (e.g. `--workers 2`, `--checkpoint 10000`). */
  serverArgs: string[];
  signal: AbortSignal;
  log: (line: string) => void;
}

export interface ScaleRow {
  /** Sensors that reported (the hub's count once the shards had every reading). */
  sensors: number;
  rate: number;
  /** Readings accepted per second over the fed seconds. */
  accepted: number;
  /** Lowest accepted rate over 1 s while a checkpoint was saved (NaN: none saved while fed). */
  checkpointDip: number;
  checkpoints: number;
  /** Lowest accepted rate over any 1 s after the first 2 s. */
  lowest: number;
  rssMb: number;
  hwmMb: number;
  /** Seconds from the end of the feed until the shards had every reading. */
  drainS: number;
  stopS: number;
  stopCode: number;
  /** From spawning the restarted process: its "listening" line, and /healthz counting every sensor. */
  listeningS: number;
  servedS: number;
  /** The restarted server's CPU time (every thread) when it served every sensor. */
  servedCpuS: number;
  /** The host's steal over the restart (null where /proc/stat has none). */
  restartStealPercent: number | null;
  restartRssMb: number;
  load: string;
}

interface HealthNow {
  sensors: number;
  memory?: { heapTotal: number; heapUsed: number; external: number };
  ingest: { accepted: number };
  log: {
    readingsRead: number;
    caughtUp: boolean;
    pendingReadings: number;
    checkpointsSaved: number;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

export async function runScale(options: ScaleOptions): Promise<ScaleRow> {
  const { log, sensors } = options;
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-scale-" });
  const args = ["--port", "0", "--data", `${dir}/scale.kv`, ...options.serverArgs];
  try {
    // PULSEBOARD_SCALE_GC=1: the first server runs under --inspect, and after the feed the
    // bench reads its RSS after a full GC and after malloc_trim (live vs. garbage vs. kept pages).
    const inspectorPort = Deno.env.get("PULSEBOARD_SCALE_GC") === "1" ? freePort() : 0;
    const server = await startServer(args, 120_000, {
      denoArgs: inspectorPort ? [`--inspect=127.0.0.1:${inspectorPort}`] : [],
    });
    log(
      `scale: ${sensors} sensors at ${options.rate}/s for ${options.seconds} s (${args.join(" ")})`,
    );
    const sim = startSimulator([
      "--replay",
      "--url",
      server.url,
      "--sensors",
      String(sensors),
      "--rate",
      String(options.rate),
      "--concurrency",
      String(replayConcurrency(options.rate)),
      "--duration",
      String(options.seconds),
    ]);
    // Samples until the simulator exits: time, accepted, checkpoints saved, RSS.
    const samples: { t: number; accepted: number; checkpoints: number; rssMb: number }[] = [];
    // PULSEBOARD_SCALE_TRACE=<file>: every sample's memory split, as CSV (where a peak comes from).
    const tracePath = Deno.env.get("PULSEBOARD_SCALE_TRACE");
    const trace: string[] = [
      "t,clock,rss,rssAnon,rssFile,hwm,heapTotal,heapUsed,external,checkpoints,accepted",
    ];
    const started = performance.now();
    let simDone = false;
    sim.child.status.then(() => (simDone = true));
    while (!simDone && !options.signal.aborted) {
      const h = await health(server.url) as unknown as HealthNow;
      samples.push({
        t: (performance.now() - started) / 1000,
        accepted: h.ingest.accepted,
        checkpoints: h.log.checkpointsSaved,
        rssMb: memoryMb(server.pid).rss,
      });
      if (tracePath) trace.push(traceLine(samples[samples.length - 1], server.pid, h));
      await sleep(250);
    }
    const fedEnd = performance.now();
    // Until the shards have every reading and the hub every sensor they hold (the replayed
    // bodies pick sensors at random: a few of the fleet may never have reported).
    let h = await health(server.url) as unknown as HealthNow;
    let sensorsSeen = -1;
    while (
      !(h.log.caughtUp && h.log.pendingReadings === 0 && h.sensors === sensorsSeen) &&
      performance.now() - fedEnd < 120_000 && !options.signal.aborted
    ) {
      sensorsSeen = h.sensors;
      await sleep(500);
      h = await health(server.url) as unknown as HealthNow;
    }
    const fleet = h.sensors;
    if (tracePath) await Deno.writeTextFile(tracePath, trace.join("\n") + "\n");
    log(
      `scale: RSS over the feed (s MB, * a checkpoint saved since the last): ${
        rssTimeline(samples)
      }`,
    );
    const drainS = (performance.now() - fedEnd) / 1000;
    const memory = memoryMb(server.pid);
    if (inspectorPort) {
      const mb = (n: number) => (n / 2 ** 20).toFixed(0);
      const before = mallocRss(server.pid);
      const gc = await memoryAfterGc(inspectorPort, server.pid);
      const trimmed = await memoryAfterTrim(inspectorPort, server.pid);
      log(
        `scale: RSS ${memory.rss.toFixed(0)} MB (malloc heap ${mb(before)}); after a full GC ${
          mb(gc.rss)
        } (heap used ${mb(gc.heapUsed)}, external ${mb(gc.external)}, malloc heap ${
          mb(gc.malloc)
        }); after malloc_trim ${mb(trimmed.rss)} (malloc heap ${mb(trimmed.malloc)})`,
      );
    }
    const rates = perSecond(samples);
    const first = samples.find((s) => s.accepted > 0) ?? samples[0];
    const last = samples[samples.length - 1];
    const accepted = (last.accepted - first.accepted) / Math.max(0.001, last.t - first.t);
    const during = rates.filter((r) => r.checkpointing && r.t > first.t + 2);
    const steady = rates.filter((r) => r.t > first.t + 2 && r.t < last.t - 1);
    const stopAt = performance.now();
    server.child.kill("SIGTERM");
    const status = await server.child.status;
    const stopS = (performance.now() - stopAt) / 1000;
    await sleep(100); // the last log lines
    log(
      `scale: ${fleet} sensors, fed ${Math.round(accepted)}/s accepted, RSS ${
        memory.rss.toFixed(0)
      } MB (peak ${memory.hwm.toFixed(0)}); stopped in ${stopS.toFixed(2)} s: ${server.stopped}`,
    );
    // Restart on the same data: time from spawn to every sensor served.
    const stealBefore = cpuTimes();
    const spawned = performance.now();
    const again = await startServer(args, 120_000);
    const listeningS = (performance.now() - spawned) / 1000;
    let served = await health(again.url) as unknown as HealthNow;
    while (
      served.sensors < fleet && performance.now() - spawned < 120_000 && !options.signal.aborted
    ) {
      await sleep(20);
      served = await health(again.url) as unknown as HealthNow;
    }
    const servedS = (performance.now() - spawned) / 1000;
    const servedCpuS = cpuSeconds(again.pid);
    const restartStealPercent = stealPercent(stealBefore, cpuTimes());
    await sleep(3_000);
    const restartRssMb = memoryMb(again.pid).rss;
    await stopProcess(again.child, 60_000);
    return {
      sensors: fleet,
      rate: options.rate,
      accepted,
      checkpointDip: during.length ? Math.min(...during.map((r) => r.rate)) : NaN,
      checkpoints: last.checkpoints - samples[0].checkpoints,
      lowest: steady.length ? Math.min(...steady.map((r) => r.rate)) : NaN,
      rssMb: memory.rss,
      hwmMb: memory.hwm,
      drainS,
      stopS,
      stopCode: status.code,
      listeningS,
      servedS,
      servedCpuS,
      restartStealPercent,
      restartRssMb,
      load: loadAverage(),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** One CSV row of PULSEBOARD_SCALE_TRACE: RSS by kind (MB, /proc) and V8's split (MB). */
function traceLine(
  s: { t: number; accepted: number; checkpoints: number },
  pid: number,
  h: HealthNow,
): string {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))?.[1] ?? NaN);
  const mb = (bytes: number | undefined) => ((bytes ?? NaN) / 2 ** 20).toFixed(0);
  const now = new Date();
  return [
    s.t.toFixed(2),
    // Seconds into the wall-clock minute: window boundaries (10 s, 1 min) show where they fall.
    (now.getUTCSeconds() + now.getUTCMilliseconds() / 1000).toFixed(1),
    ...["VmRSS", "RssAnon", "RssFile", "VmHWM"].map((k) => (kb(k) / 1024).toFixed(0)),
    mb(h.memory?.heapTotal),
    mb(h.memory?.heapUsed),
    mb(h.memory?.external),
    s.checkpoints,
    s.accepted,
  ].join(",");
}

/** Every second's sampled RSS, marked where a checkpoint was saved, and the highest sampled. */
function rssTimeline(samples: { t: number; checkpoints: number; rssMb: number }[]): string {
  const out: string[] = [];
  let next = 0, checkpoints = samples[0]?.checkpoints ?? 0;
  for (const s of samples) {
    if (s.t < next && s.checkpoints === checkpoints) continue;
    out.push(`${s.t.toFixed(0)}:${s.rssMb.toFixed(0)}${s.checkpoints !== checkpoints ? "*" : ""}`);
    checkpoints = s.checkpoints;
    next = Math.floor(s.t) + 1;
  }
  const peak = Math.max(...samples.map((s) => s.rssMb));
  return `${out.join(" ")}; highest sampled ${peak.toFixed(0)}`;
}

/** Requests `sim --replay` keeps in flight for `rate`: enough that the server's answer time is not the limit. */
export function replayConcurrency(rate: number): number {
  return Math.min(64, Math.max(8, Math.ceil(rate / 2_500)));
}

/**
 * Accepted readings per second over sliding 1 s spans of the samples, each
 * marked when a checkpoint was saved within it (the count moved).
 */
function perSecond(samples: { t: number; accepted: number; checkpoints: number }[]) {
  const out: { t: number; rate: number; checkpointing: boolean }[] = [];
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    while (j < i && samples[i].t - samples[j + 1].t >= 1) j++;
    const span = samples[i].t - samples[j].t;
    if (span < 0.9) continue;
    out.push({
      t: samples[i].t,
      rate: (samples[i].accepted - samples[j].accepted) / span,
      checkpointing: samples[i].checkpoints !== samples[j].checkpoints,
    });
  }
  return out;
}

/** The raw limit: Deno KV commits of 60 KB values, one per commit and 8 per commit, for `seconds` each. */
export async function rawKvLimit(
  seconds: number,
): Promise<{ perCommit: number; mbPerS: number }[]> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-rawkv-" });
  const kv = await Deno.openKv(`${dir}/raw.kv`);
  const value = new Uint8Array(60_000).map((_, i) => (i * 7919) & 255);
  const out: { perCommit: number; mbPerS: number }[] = [];
  try {
    for (const perCommit of [1, 8]) {
      let n = 0;
      const started = performance.now();
      while (performance.now() - started < seconds * 1000) {
        // Commits in flight together, as the log writer hands them over.
        await Promise.all(Array.from({ length: 8 }, () => {
          const op = kv.atomic();
          for (let k = 0; k < perCommit; k++) op.set(["raw", n++, k], value);
          return op.commit();
        }));
      }
      out.push({
        perCommit,
        mbPerS: (n * 60_000) / 1e6 / ((performance.now() - started) / 1000),
      });
    }
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return out;
}
