// `deno task bench`: the end-to-end benchmark. Starts the server as a
// subprocess (port 0, a real Deno KV file in a temp dir), N WebSocket clients
// that decode every frame, and the simulator as a subprocess at a series of
// target rates; prints one table. Not a test: numbers depend on the machine.
import { parseArgs } from "node:util";
import { killAll, stopAll } from "./processes.ts";
import { runRates } from "./rates.ts";
import type { RateRow } from "./rates.ts";
import { renderTable } from "./table.ts";
import { loadAverage, rawKvLimit, replayConcurrency, runScale } from "./scale.ts";
import type { ScaleRow } from "./scale.ts";

const USAGE = `Usage: deno task bench [options]
  --rates <a,b,...>    target readings/s (default 10000,50000,100000,200000)
  --seconds <s>        measured seconds per rate (default 10), after --warmup <s> (default 2)
  --clients <n>        decoding WebSocket clients (default 1)
  --sensors <n>        simulated sensors (default 5000)
  --batch <n>          simulator readings per request (default 1000)
  --concurrency <n>    simulator requests in flight (default: one per 12,500/s of target, 2 to 16)
  --linger <ms>        simulator batching delay (default: the simulator's, 100)
  --max-p99 <ms>       latency a client may reach and still count as keeping up (default 1000)
  --quick              10000,50000 for 4 s each
  --fanout             also run the fan-out table (many clients over topics, some stalled)
  --fanout-only        only the fan-out table; --fanout-clients <n> (default 1000)
  --soak <s>           only the memory soak, at --soak-rate <n> (default 10000)
  --crash <runs>       only the kill -9 crash runs (shards on --workers <n> workers, default 2)
  --windows-off        run the server with --windows none (no event windows, no rollups)
  --compare-windows    the rate table twice: windows and rollups on, then off
  --workers <a,b,...>  the rate table once per server --workers value, in one run (e.g. 0,1,2)
  --replay             feed the rate table with \`sim --replay\` (pre-encoded bodies, cheaper than the server)
  --raw-kv <s>         also the raw limit: Deno KV commits of 60 KB values, <s> seconds per shape
  --scale <a,b,...>    only the fleet runs: per sensor count, \`sim --replay\` at --scale-rate <n>
                       (default 40000) for --seconds (default 30), then RSS, SIGTERM to exit, and a
                       restart's time to every sensor served; --server-args "<flags>" go to the server
  --history            only the history query latency: 24 h of one sensor at 10 readings/s
  --mqtt               only MQTT ingest against HTTP ingest in one run (readings/s, publish→dashboard
                       latency, CPU per reading) at --rates (default 5000,20000,50000)
  --mqtt-storm <n>     only an MQTT connect storm of n devices (each publishes one reading and stays)
  --mongo              only the Mongo change-stream source against the wire-level test server:
                       a --mongo-backlog <n> (default 200000) backlog, then --mongo-rate <n>/s
                       (default 5000) for --seconds (default 5)
  --viewport           only the viewport bytes: what a dashboard-shaped window (50 rows, by id
                       and hottest first) and full-fleet clients (full and compact frames)
                       receive, at 5000 sensors and 10000 readings/s, then at
                       --viewport-sensors <n> (default 100000) and --viewport-rate <n> (default 50000);
                       and how long 20 scrolls to random places of the sorted view take
  --view-ticks         only the hub tick with 1, 10 and 100 distinct orderings open
                       (--orderings <a,b,...>) over --viewport-sensors at --viewport-rate;
                       the simulator and the clients run at --load-nice <n> (default 10; 0: the
                       server's priority), standing for other machines
  --view-fanout <a,b>  only viewport fan-out: viewport clients opened step by step to each count
                       (node ws, 1,000 a process, 100 handshakes/s), frames/s, latency, server CPU
                       and memory (RSS, heap, external; and after a full GC) per client beyond
                       none (e.g. 1000,5000,10000); --server-root <dir> runs the server from
                       another checkout
  --browser            only the dashboard in Chromium: KB/s received and frame times, normal and
                       4x CPU-throttled, at --sensors and --browser-rate <n> (default 10000);
                       --browser-root <dir> runs the server from another checkout
  --compact-bytes      only bench/compact_bytes.ts (bytes per sensor update, simulated time)
  --view-order         only bench/view_order.ts (orderings of 100,000 sensors, in process)`;

const flags = parseFlags();

function parseFlags() {
  try {
    return parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        rates: { type: "string" },
        seconds: { type: "string" },
        warmup: { type: "string", default: "2" },
        clients: { type: "string", default: "1" },
        sensors: { type: "string", default: "5000" },
        batch: { type: "string" },
        concurrency: { type: "string" },
        linger: { type: "string" },
        "max-p99": { type: "string", default: "1000" },
        quick: { type: "boolean", default: false },
        fanout: { type: "boolean", default: false },
        "fanout-only": { type: "boolean", default: false },
        "fanout-clients": { type: "string", default: "1000" },
        soak: { type: "string" },
        "soak-rate": { type: "string", default: "10000" },
        crash: { type: "string" },
        "windows-off": { type: "boolean", default: false },
        "compare-windows": { type: "boolean", default: false },
        workers: { type: "string" },
        replay: { type: "boolean", default: false },
        "raw-kv": { type: "string" },
        scale: { type: "string" },
        "scale-rate": { type: "string", default: "40000" },
        "server-args": { type: "string", default: "" },
        history: { type: "boolean", default: false },
        mongo: { type: "boolean", default: false },
        mqtt: { type: "boolean", default: false },
        "mqtt-storm": { type: "string" },
        "mongo-backlog": { type: "string", default: "200000" },
        "mongo-rate": { type: "string", default: "5000" },
        viewport: { type: "boolean", default: false },
        "viewport-sensors": { type: "string", default: "100000" },
        "viewport-rate": { type: "string", default: "50000" },
        "view-ticks": { type: "boolean", default: false },
        orderings: { type: "string", default: "1,10,100" },
        "load-nice": { type: "string", default: "10" },
        "view-fanout": { type: "string" },
        browser: { type: "boolean", default: false },
        "browser-rate": { type: "string", default: "10000" },
        "browser-root": { type: "string" },
        "server-root": { type: "string" },
        "compact-bytes": { type: "boolean", default: false },
        "view-order": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
}
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) {
    console.error(`--${name} must be a positive number, got "${raw}"\n\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}

function niceness(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 19) {
    console.error(`--load-nice must be an integer from 0 to 19, got "${raw}"\n\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}

// Ctrl-C: stop measuring, then stop every child process; a second one exits at once.
const controller = new AbortController();
let interrupts = 0;
const interrupt = () => {
  if (interrupts++ > 0) {
    killAll();
    Deno.exit(130);
  }
  console.error("bench: interrupted, cleaning up");
  controller.abort();
};
Deno.addSignalListener("SIGINT", interrupt);
Deno.addSignalListener("SIGTERM", interrupt);
globalThis.addEventListener("unload", killAll);

let exitCode = 0;
try {
  exitCode = await run();
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.stack : error}`);
  exitCode = 1;
} finally {
  await stopAll();
  Deno.removeSignalListener("SIGINT", interrupt);
  Deno.removeSignalListener("SIGTERM", interrupt);
}
Deno.exit(exitCode);

async function run(): Promise<number> {
  if (flags.crash !== undefined) return await crash(Number(flags.crash));
  if (flags["compact-bytes"] || flags["view-order"]) {
    const script = flags["compact-bytes"] ? "bench/compact_bytes.ts" : "bench/view_order.ts";
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    return code;
  }
  if (
    flags.viewport || flags["view-ticks"] || flags["view-fanout"] !== undefined || flags.browser
  ) {
    const { viewportBench } = await import("./viewport_report.ts");
    return await viewportBench({
      viewport: flags.viewport,
      viewTicks: flags["view-ticks"],
      fanout: flags["view-fanout"]?.split(",").map((n) => positive("view-fanout", n.trim())!),
      browser: flags.browser,
      sensors: positive("sensors", flags.sensors)!,
      bigSensors: positive("viewport-sensors", flags["viewport-sensors"])!,
      bigRate: positive("viewport-rate", flags["viewport-rate"])!,
      orderings: flags.orderings.split(",").map((n) => positive("orderings", n.trim())!),
      loadNice: niceness(flags["load-nice"]),
      browserRate: positive("browser-rate", flags["browser-rate"])!,
      browserRoot: flags["browser-root"],
      serverRoot: flags["server-root"],
      serverArgs: extraServerArgs(),
      seconds: positive("seconds", flags.seconds) ?? 10,
    });
  }
  if (flags.history) {
    const { runHistoryBench } = await import("./history.ts");
    return await runHistoryBench(controller.signal);
  }
  if (flags.mqtt || flags["mqtt-storm"] !== undefined) {
    const { renderMqttBench, runMqttBench, runMqttStorm } = await import("./mqtt.ts");
    if (flags["mqtt-storm"] !== undefined) {
      console.log(await runMqttStorm(positive("mqtt-storm", flags["mqtt-storm"])!));
    }
    if (flags.mqtt) {
      console.log(renderMqttBench(
        await runMqttBench({
          rates: (flags.rates ?? "5000,20000,50000").split(",").map((r) => positive("rates", r)!),
          seconds: positive("seconds", flags.seconds) ?? (flags.quick ? 4 : 8),
          warmupSeconds: Number(flags.warmup),
          sensors: positive("sensors", flags.sensors)!,
          maxP99Ms: positive("max-p99", flags["max-p99"])!,
          signal: controller.signal,
          log: (line) => console.error(line),
        }),
      ));
    }
    return controller.signal.aborted ? 130 : 0;
  }
  if (flags.mongo) {
    const { renderMongoBench, runMongoBench } = await import("./mongo.ts");
    console.log(renderMongoBench(
      await runMongoBench({
        backlog: positive("mongo-backlog", flags["mongo-backlog"]),
        rate: positive("mongo-rate", flags["mongo-rate"]),
        seconds: positive("seconds", flags.seconds) ?? 5,
        sensors: positive("sensors", flags.sensors),
      }),
    ));
    return 0;
  }
  if (flags.scale !== undefined) return await scale();
  if (flags.soak !== undefined) {
    const { runSoak } = await import("./soak.ts");
    await runSoak(
      Number(flags.soak),
      Number(flags["fanout-clients"] === "1000" ? 100 : flags["fanout-clients"]),
      Number(flags["soak-rate"]),
    );
    return 0;
  }
  const sensors = positive("sensors", flags.sensors)!;
  const seconds = positive("seconds", flags.seconds) ?? (flags.quick ? 4 : 10);
  if (!flags["fanout-only"]) {
    const rates = (flags.rates ?? (flags.quick ? "10000,50000" : "10000,50000,100000,200000"))
      .split(",").map((r) => positive("rates", r.trim())!);
    const maxP99Ms = positive("max-p99", flags["max-p99"])!;
    const variants: [string, string[]][] = flags.workers !== undefined
      ? flags.workers.split(",").map((w) => [`--workers ${w.trim()}`, ["--workers", w.trim()]])
      : flags["compare-windows"]
      ? [["windows and rollups on (default)", []], ["windows off (--windows none)", [
        "--windows",
        "none",
      ]]]
      : [["", flags["windows-off"] ? ["--windows", "none"] : []]];
    const tables: [string, RateRow[]][] = [];
    for (const [label, serverArgs] of variants) {
      if (controller.signal.aborted) break;
      const result = await runRates({
        rates,
        seconds,
        warmupSeconds: Number(flags.warmup),
        clients: positive("clients", flags.clients)!,
        sensors,
        batch: positive("batch", flags.batch),
        concurrency: positive("concurrency", flags.concurrency),
        lingerMs: positive("linger", flags.linger),
        maxP99Ms,
        serverArgs: [...serverArgs, ...extraServerArgs()],
        simArgs: flags.replay ? replayArgs : undefined,
        signal: controller.signal,
        log: (line) => console.error(line),
      });
      if (result.rows.length === 0) {
        console.log("bench: interrupted before any rate was measured");
        return 130;
      }
      if (label) console.log(`\n${label} (load average ${loadAverage()}):`);
      printRates(result.rows, maxP99Ms, Number(flags.clients));
      console.log(
        `server RSS over the whole run: peak (VmHWM) ${result.serverPeakMb.toFixed(0)} MB, ` +
          `at the end ${result.serverEndMb.toFixed(0)} MB`,
      );
      tables.push([label, result.rows]);
    }
    if (tables.length === 2) printWindowsCost(tables[0][1], tables[1][1]);
  }
  if (flags["raw-kv"] !== undefined && !controller.signal.aborted) await rawKv();
  if ((flags.fanout || flags["fanout-only"]) && !controller.signal.aborted) {
    await fanout(sensors, seconds);
  }
  return controller.signal.aborted ? 130 : 0;
}

function extraServerArgs(): string[] {
  return flags["server-args"].split(/\s+/).filter((a) => a !== "");
}

/** `sim --replay` flags for the rate table: requests in flight by the target, as for the simulator. */
function replayArgs(url: string, target: number): string[] {
  return [
    "--replay",
    "--url",
    url,
    "--batch",
    String(positive("batch", flags.batch) ?? 1000),
    "--concurrency",
    String(positive("concurrency", flags.concurrency) ?? replayConcurrency(target)),
  ];
}

async function rawKv(): Promise<void> {
  const rows = await rawKvLimit(positive("raw-kv", flags["raw-kv"])!);
  console.log(
    `\nraw Deno KV limit, 60 KB values, 8 commits in flight (load average ${loadAverage()}):`,
  );
  console.log(renderTable(
    ["values per commit", "MB/s", "readings/s at 78 B/reading"],
    rows.map((
      r,
    ) => [String(r.perCommit), r.mbPerS.toFixed(1), String(Math.round(r.mbPerS * 1e6 / 78))]),
  ));
}

async function scale(): Promise<number> {
  const rows: ScaleRow[] = [];
  for (const sensors of flags.scale!.split(",").map((n) => positive("scale", n.trim())!)) {
    if (controller.signal.aborted) break;
    rows.push(
      await runScale({
        sensors,
        rate: positive("scale-rate", flags["scale-rate"])!,
        seconds: positive("seconds", flags.seconds) ?? 30,
        serverArgs: extraServerArgs(),
        signal: controller.signal,
        log: (line) => console.error(line),
      }),
    );
  }
  console.log(renderTable(
    [
      "sensors",
      "offered/s",
      "accepted/s",
      "lowest 1 s",
      "checkpoints",
      "lowest 1 s in a checkpoint",
      "RSS MB end/peak",
      "drain s",
      "SIGTERM→exit s",
      "restart: listening s",
      "restart: all served s",
      "restart: its CPU s, host steal %",
      "restart RSS MB",
      "load average",
    ],
    rows.map((r) => [
      String(r.sensors),
      String(r.rate),
      String(Math.round(r.accepted)),
      String(Math.round(r.lowest)),
      String(r.checkpoints),
      Number.isNaN(r.checkpointDip) ? "-" : String(Math.round(r.checkpointDip)),
      `${r.rssMb.toFixed(0)} / ${r.hwmMb.toFixed(0)}`,
      r.drainS.toFixed(1),
      `${r.stopS.toFixed(2)}${r.stopCode === 0 ? "" : ` (exit ${r.stopCode})`}`,
      r.listeningS.toFixed(2),
      r.servedS.toFixed(2),
      `${r.servedCpuS.toFixed(2)}, ${
        r.restartStealPercent === null ? "–" : r.restartStealPercent.toFixed(0)
      }`,
      r.restartRssMb.toFixed(0),
      r.load,
    ]),
  ));
  if (flags["raw-kv"] !== undefined && !controller.signal.aborted) await rawKv();
  return controller.signal.aborted ? 130 : 0;
}

function printRates(rows: RateRow[], maxP99Ms: number, clients: number): void {
  const header = [
    "target/s",
    "accepted/s",
    "achieved",
    "to shards/s",
    "client metric upd/s",
    "client sensor upd/s",
    "latency p50/p99 ms",
    "B/metric update",
    "B/sensor update",
    "server RSS MB peak/end",
    "server CPU %",
    "disk B/reading",
    "client kept up",
  ];
  const cells = rows.map((r) => [
    String(r.target),
    Math.round(r.accepted).toString(),
    `${((r.accepted / r.target) * 100).toFixed(1)}%`,
    Math.round(r.toShards).toString(),
    Math.round(r.updates).toString(),
    Math.round(r.sensorUpdates).toString(),
    `${r.p50} / ${r.p99}`,
    r.bytesPerUpdate.toFixed(1),
    r.bytesPerSensorUpdate.toFixed(1),
    `${r.rssPeakMb.toFixed(0)} / ${r.rssEndMb.toFixed(0)}`,
    r.cpuPercent.toFixed(0),
    r.diskBytesPerReading.toFixed(0),
    r.keptUp ? "yes" : "no",
  ]);
  console.log(renderTable(header, cells));
  const sustained = rows.filter((r) => r.keptUp && r.accepted >= 0.95 * r.target);
  const best = sustained.reduce<RateRow | null>(
    (a, r) => (a === null || r.accepted > a.accepted ? r : a),
    null,
  );
  console.log(
    best
      ? `end to end: ${
        Math.round(best.accepted)
      } readings/s accepted (≥ 95% of the ${best.target}/s target) while ${clients} client(s) kept up (contiguous seq, p99 ≤ ${maxP99Ms} ms)`
      : `end to end: no rate was both achieved (≥ 95%) and kept up with by the client(s)`,
  );
  for (const r of rows.filter((r) => r.notes.length)) {
    console.log(`  at ${r.target}/s: ${r.notes.join("; ")}`);
  }
  // CPU per accepted reading: less noisy than the rate on a shared machine.
  const micros = (percent: number, r: RateRow) => (percent / 100) * 1e6 / Math.max(1, r.accepted);
  for (const r of rows) {
    const threads = Object.entries(r.threads).sort((a, b) => b[1] - a[1])
      .map(([name, percent]) => `${name} ${micros(percent, r).toFixed(2)}`).join(", ");
    console.log(
      `  at ${r.target}/s: server CPU ${
        micros(r.cpuPercent, r).toFixed(2)
      } µs per accepted reading ` +
        `(${threads}); the load generator ${r.simCpuPercent.toFixed(0)}% of a core ` +
        `(${micros(r.simCpuPercent, r).toFixed(2)} µs per reading)`,
    );
  }
  console.log(
    [
      "accepted/s: readings the ingest API acknowledged (durable in Deno KV), per second of the window;",
      "to shards/s: readings the log source handed to the shard actors;",
      "client metric/sensor upd/s: per client, coalesced sensor-metric updates and distinct sensors per Delta, decoded per second;",
      "  the hub coalesces (latest value wins per 100 ms tick), so at most sensors × 3 metrics × 10 updates/s reach a client,",
      "  however many readings are accepted;",
      "latency: the update's event time (the simulator stamps readings as it builds each request) to its decode in the",
      "  client, over every update: the HTTP post, the durable write, the log read, the shard and up to one hub tick;",
      "B/update: Delta frame bytes over the updates (or sensors) they carry; server RSS from /proc/<pid>/status, sampled every 250 ms;",
      "disk B/reading: bytes the server wrote to storage (/proc/<pid>/io write_bytes: Deno KV's SQLite pages and WAL for the log,",
      "  rollups and checkpoints) over the readings accepted in the window;",
      "client kept up: no seq gaps or catch-up snapshots, ≥ 0.8 Deltas per hub tick, p99 ≤ --max-p99.",
    ].join("\n"),
  );
}

function printWindowsCost(on: RateRow[], off: RateRow[]): void {
  console.log("\nwindows and rollups, on against off, per target rate:");
  const cells = on.map((a) => {
    const b = off.find((r) => r.target === a.target);
    if (!b) return [String(a.target), "-", "-", "-", "-"];
    return [
      String(a.target),
      `${Math.round(a.accepted)} / ${Math.round(b.accepted)}`,
      `${a.p50}/${a.p99} vs ${b.p50}/${b.p99}`,
      `${a.cpuPercent.toFixed(0)} / ${b.cpuPercent.toFixed(0)}`,
      `${a.diskBytesPerReading.toFixed(0)} / ${b.diskBytesPerReading.toFixed(0)}`,
    ];
  });
  console.log(
    renderTable(
      [
        "target/s",
        "accepted/s on / off",
        "p50/p99 ms on vs off",
        "CPU % on / off",
        "disk B/reading on / off",
      ],
      cells,
    ),
  );
}

async function fanout(sensors: number, seconds: number): Promise<void> {
  const { runFanout } = await import("./fanout.ts");
  const clients = Number(flags["fanout-clients"]);
  console.log(
    `\nfan-out: ${clients} clients over 10 topics (groups), 100 ms tick, simulator at 10,000 readings/s over ${sensors} sensors; windows of ${seconds} s (from the start), ${seconds} s and 60 s`,
  );
  const rows = await runFanout({
    clients,
    topics: 10,
    stalledPercent: 1,
    seconds,
    steadySeconds: 60,
    rate: 10_000,
    sensors,
    serverArgs: extraServerArgs(),
  });
  console.log(renderTable(
    [
      "phase",
      "clients",
      "frames/s delivered",
      "tick→client p50/p99 ms",
      "server CPU %",
      "server RSS MB",
    ],
    rows.map((r) => [
      r.phase,
      String(r.clients),
      Math.round(r.framesPerSecond).toString(),
      `${r.p50} / ${r.p99}`,
      r.cpuPercent.toFixed(1),
      r.rssMb.toFixed(0),
    ]),
  ));
  console.log(
    rows.map((r) =>
      `server CPU by thread (${r.phase}): ` +
      Object.entries(r.threads).sort((a, b) => b[1][0] + b[1][1] - a[1][0] - a[1][1])
        .map(([n, [user, system]]) => `${n} ${user}% user + ${system}% sys`).join(", ")
    ).join("\n"),
  );
  console.log(
    "latency: Delta.server_time_ms (stamped when the hub sends the tick) to receipt in the client process; " +
      "stalled clients complete the handshake on the everything-topic and never read.",
  );
}

/** `--crash <runs>`: kill -9 mid-ingest under load, restart and check, that many times. */
async function crash(runs: number): Promise<number> {
  const { crashOnce } = await import("../tests/crash_test.ts");
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-crash-bench-" });
  let acknowledged = 0, lost = 0, duplicated = 0;
  const firstDelta: number[] = [];
  try {
    for (let round = 0; round < runs && !controller.signal.aborted; round++) {
      const r = await crashOnce(`${dir}/store.kv`, round, {
        writers: 8,
        runMs: 2_000,
        workers: flags.workers === undefined ? 2 : Number(flags.workers.split(",")[0]),
      });
      acknowledged += r.acknowledged;
      lost += r.lost;
      duplicated += r.duplicated;
      firstDelta.push(r.secondsToFirstDelta);
      console.log(
        `crash ${round}: ${r.acknowledged} acknowledged, ${r.lost} lost, ${r.duplicated} duplicated, ` +
          `first delta after ${r.secondsToFirstDelta.toFixed(2)} s`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  if (firstDelta.length === 0) return 130;
  firstDelta.sort((a, b) => a - b);
  console.log(
    `crash runs: ${firstDelta.length}, acknowledged ${acknowledged}, lost ${lost}, duplicated ${duplicated}, ` +
      `first delta after restart: median ${
        firstDelta[Math.floor(firstDelta.length / 2)].toFixed(2)
      } s, max ${firstDelta.at(-1)!.toFixed(2)} s`,
  );
  return lost === 0 && duplicated === 0 ? 0 : 1;
}
