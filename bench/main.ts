// `deno task bench`: end-to-end benchmark. Starts a server (real Deno KV file
// in a temp dir), WebSocket clients that decode every frame, and the simulator
// as a separate process at a series of target rates; prints one table.
// Options: --rates 10000,50000,100000,200000  --seconds 8  --clients 1  --quick
import { parseArgs } from "node:util";
import * as flatbuffers from "flatbuffers";
import { Body, Delta, Envelope, MetricUpdate } from "../protocol/schema_generated.ts";
import { encodePong } from "../protocol/frames.ts";
import { Ping } from "../protocol/schema_generated.ts";
import { spawnServer } from "../tests/server_process.ts";
import { runFanout } from "./fanout.ts";
import { runSoak } from "./soak.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rates: { type: "string" },
    seconds: { type: "string" },
    clients: { type: "string", default: "1" },
    sensors: { type: "string", default: "5000" },
    quick: { type: "boolean", default: false },
    "fanout-clients": { type: "string", default: "1000" },
    "fanout-only": { type: "boolean", default: false },
    soak: { type: "string" },
    "soak-rate": { type: "string", default: "10000" },
    crash: { type: "string" },
  },
});
if (flags.crash !== undefined) {
  // `--crash <runs>`: kill -9 mid-ingest under load, then restart and check, that many times.
  const { crashOnce } = await import("../tests/crash_test.ts");
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-crash-bench-" });
  let acknowledged = 0, lost = 0, duplicated = 0;
  const firstDelta: number[] = [];
  for (let round = 0; round < Number(flags.crash); round++) {
    const r = await crashOnce(`${dir}/store.kv`, round, { writers: 8, runMs: 2_000 });
    acknowledged += r.acknowledged;
    lost += r.lost;
    duplicated += r.duplicated;
    firstDelta.push(r.secondsToFirstDelta);
    console.log(
      `crash ${round}: ${r.acknowledged} acknowledged, ${r.lost} lost, ${r.duplicated} duplicated, first delta after ${
        r.secondsToFirstDelta.toFixed(2)
      } s`,
    );
  }
  await Deno.remove(dir, { recursive: true });
  console.log(
    `crash runs: ${flags.crash}, acknowledged ${acknowledged}, lost ${lost}, duplicated ${duplicated}, ` +
      `first delta after restart: median ${
        firstDelta.sort((a, b) => a - b)[Math.floor(firstDelta.length / 2)].toFixed(2)
      } s, max ${Math.max(...firstDelta).toFixed(2)} s`,
  );
  Deno.exit(lost === 0 && duplicated === 0 ? 0 : 1);
}
if (flags.soak !== undefined) {
  // `--soak <seconds>`: only the memory soak.
  await runSoak(
    Number(flags.soak),
    Number(flags["fanout-clients"] === "1000" ? 100 : flags["fanout-clients"]),
    Number(flags["soak-rate"]),
  );
  Deno.exit(0);
}
const rates = flags["fanout-only"]
  ? []
  : (flags.rates ?? (flags.quick ? "10000,50000" : "10000,50000,100000,200000,300000"))
    .split(",").map(Number);
const seconds = Number(flags.seconds ?? (flags.quick ? 4 : 8));
const clientCount = Number(flags.clients);
const sensors = Number(flags.sensors);
const root = new URL("..", import.meta.url).pathname;

/** What one client saw. */
class BenchClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  latencies: number[] = [];
  updates = 0;
  sensorUpdates = 0;
  deltaBytes = 0;
  deltas = 0;
  gaps = 0;
  #seq = -1;

  constructor(url: string) {
    this.socket = new WebSocket(url.replace("http", "ws") + "ws");
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve) => (this.socket.onopen = () => resolve()));
    const update = new MetricUpdate();
    const seen = new Set<number>();
    this.socket.onmessage = (event) => {
      const now = Date.now();
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      const envelope = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes));
      const type = envelope.bodyType();
      if (type === Body.Ping) {
        this.socket.send(encodePong((envelope.body(new Ping()) as Ping).nonce()));
        return;
      }
      if (type === Body.Snapshot) {
        this.#seq = -2;
        return;
      }
      if (type !== Body.Delta) return;
      const delta = envelope.body(new Delta()) as Delta;
      const seq = Number(delta.seq());
      if (this.#seq >= 0 && seq !== this.#seq + 1) this.gaps++;
      this.#seq = seq;
      this.deltas++;
      this.deltaBytes += bytes.byteLength;
      const n = delta.updatesLength();
      seen.clear();
      for (let i = 0; i < n; i++) {
        delta.updates(i, update);
        seen.add(update.sensor());
        // Sample latency: every update would make the bench the bottleneck.
        if (i % 16 === 0) this.latencies.push(now - update.timeMs());
      }
      this.updates += n;
      this.sensorUpdates += seen.size;
    };
  }

  reset(): void {
    this.latencies = [];
    this.updates =
      this.sensorUpdates =
      this.deltaBytes =
      this.deltas =
      this.gaps =
        0;
  }
}

function memory(pid: number): { rssMb: number; peakMb: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))?.[1] ?? 0);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

async function health(url: string) {
  return await (await fetch(url + "healthz")).json();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

if (rates.length > 0) await runRates();

async function runRates(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-bench-" });
  const server = await spawnServer(["--port", "0", "--data", `${dir}/bench.kv`]);
  const clients = Array.from({ length: clientCount }, () => new BenchClient(server.url));
  await Promise.all(clients.map((c) => c.opened));
  const rows: string[][] = [];
  console.log(
    `bench: ${sensors} sensors, ${clientCount} client(s), ${seconds}s per rate, server ${server.url}, ${Deno.build.os} ${navigator.hardwareConcurrency} cores`,
  );
  try {
    for (const rate of rates) {
      const batch = Math.min(700, Math.max(50, Math.ceil(rate / 40)));
      const sim = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "sim/main.ts",
          "--url",
          server.url,
          "--sensors",
          String(sensors),
          "--rate",
          String(rate),
          "--batch",
          String(batch),
          "--concurrency",
          rate > 50_000 ? "6" : "2",
          "--duration",
          String(seconds + 2),
        ],
        cwd: root,
        stdout: "null",
        stderr: "inherit",
      }).spawn();
      // Measure after a 2 s warm-up, for `seconds`.
      await new Promise((r) => setTimeout(r, 2_000));
      clients.forEach((c) => c.reset());
      const before = await health(server.url);
      const started = performance.now();
      let peak = 0;
      while (performance.now() - started < seconds * 1000) {
        await new Promise((r) => setTimeout(r, 250));
        peak = Math.max(peak, memory(server.child.pid).rssMb);
      }
      const after = await health(server.url);
      const elapsed = (performance.now() - started) / 1000;
      await sim.status;
      const c = clients[0];
      const latencies = clients.flatMap((x) => x.latencies).sort((a, b) => a - b);
      const accepted = (after.ingest.accepted - before.ingest.accepted) / elapsed;
      const delivered = (after.log.readingsRead - before.log.readingsRead) / elapsed;
      rows.push([
        String(rate),
        Math.round(accepted).toString(),
        Math.round(delivered).toString(),
        Math.round(c.updates / elapsed).toString(),
        `${percentile(latencies, 50)} / ${percentile(latencies, 99)}`,
        (c.deltaBytes / Math.max(1, c.updates)).toFixed(1),
        (c.deltaBytes / Math.max(1, c.sensorUpdates)).toFixed(1),
        `${peak.toFixed(0)}`,
        String(clients.reduce((n, x) => n + x.gaps, 0)),
      ]);
      // Let the pipeline drain between rates.
      await new Promise((r) => setTimeout(r, 1_000));
    }
  } finally {
    clients.forEach((c) => c.socket.close());
    server.child.kill("SIGTERM");
    await server.child.status;
    const end = rows.length;
    await Deno.remove(dir, { recursive: true });
    void end;
  }

  const header = [
    "target/s",
    "accepted/s",
    "to shards/s",
    "client updates/s",
    "latency p50/p99 ms",
    "B/metric update",
    "B/sensor update",
    "server RSS MB",
    "seq gaps",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padStart(widths[i])).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const row of rows) console.log(line(row));
  console.log(
    "accepted/s: readings the ingest API acknowledged (durable in Deno KV); to shards/s: readings the log source handed to the shard actors;",
  );
  console.log(
    "client updates/s: coalesced sensor-metric updates one WebSocket client decoded (latest value wins per 100 ms tick);",
  );
  console.log(
    "latency: reading event time (stamped by the simulator) to decode in the client, sampled 1 in 16 updates.",
  );
}

const fanoutClients = Number(flags["fanout-clients"]);
console.log(
  `\nfan-out: ${fanoutClients} clients over 10 topics (groups), 100 ms tick, simulator at 10,000 readings/s over ${sensors} sensors`,
);
const fanout = await runFanout({
  clients: fanoutClients,
  topics: 10,
  stalledPercent: 1,
  seconds,
  rate: 10_000,
  sensors,
});
const fanoutHeader = [
  "phase",
  "clients",
  "frames/s delivered",
  "tick→client p50/p99 ms",
  "server CPU %",
  "server RSS MB",
];
const fanoutRows = fanout.map((r) => [
  r.phase,
  String(r.clients),
  Math.round(r.framesPerSecond).toString(),
  `${r.p50} / ${r.p99}`,
  r.cpuPercent.toFixed(0),
  r.rssMb.toFixed(0),
]);
const fw = fanoutHeader.map((h, i) => Math.max(h.length, ...fanoutRows.map((r) => r[i].length)));
const fline = (cells: string[]) => "| " + cells.map((c, i) => c.padStart(fw[i])).join(" | ") + " |";
console.log(fline(fanoutHeader));
console.log("|" + fw.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const row of fanoutRows) console.log(fline(row));
console.log(
  "latency: Delta.server_time_ms (stamped when the hub sends the tick) to receipt in the client process; stalled clients complete the handshake on the everything-topic and never read.",
);
