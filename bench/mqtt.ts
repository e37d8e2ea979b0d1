// `deno task bench --mqtt`: MQTT ingest against HTTP ingest, measured in the
// same run on the same server process (a real Deno KV file), with one
// decoding WebSocket client for the publish→dashboard latency; and
// `--mqtt-storm <n>`: n devices connecting at once.
import { BenchFeedClient } from "./feed_client.ts";
import { measureRate } from "./rates.ts";
import type { Health, RateRow } from "./rates.ts";
import { cpuSeconds, memoryMb, startServer, stopProcess } from "./processes.ts";
import { renderTable } from "./table.ts";
import { connectStorm } from "../tests/testing/mqtt_storm_client.ts";

export interface MqttBenchOptions {
  rates: number[];
  seconds: number;
  warmupSeconds: number;
  sensors: number;
  maxP99Ms: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

/** How readings reach the server in one row of the table. */
interface Transport {
  name: string;
  simArgs: (serverUrl: string, mqttUrl: string) => string[];
  acceptedOf: (health: Health) => number;
  /** Only at rates up to this (a transport that cannot go faster). */
  maxRate?: number;
}

const http = (h: Health) => h.ingest.accepted;
const mqtt = (h: Health) => h.mqtt?.readingsAccepted ?? 0;

const TRANSPORTS: Transport[] = [
  {
    name: "HTTP, FlatBuffers batches of 1000",
    simArgs: (url) => ["--url", url, "--batch", "1000", "--concurrency", "4"],
    acceptedOf: http,
  },
  {
    name: "MQTT QoS 1, a JSON reading per publish, 50 gateways",
    simArgs: (_, url) => ["--mqtt", url, "--gateways", "50"],
    acceptedOf: mqtt,
  },
  {
    name: "MQTT QoS 1, IngestBatch of 1000 per publish, 24 gateways",
    simArgs: (_, url) => ["--mqtt", url, "--batch", "1000"],
    acceptedOf: mqtt,
  },
  {
    name: "HTTP, a JSON reading per request (8 in flight)",
    simArgs: (
      url,
    ) => ["--url", url, "--json", "--batch", "1", "--linger", "1", "--concurrency", "8"],
    acceptedOf: http,
    maxRate: 5_000,
  },
];

export interface MqttBenchRow extends RateRow {
  transport: string;
  /** Server CPU time per accepted reading. */
  cpuMicrosPerReading: number;
}

/** Each rate with each transport in turn, against one server. */
export async function runMqttBench(options: MqttBenchOptions): Promise<MqttBenchRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-bench-mqtt-" });
  const server = await startServer([
    "--port",
    "0",
    "--data",
    `${dir}/bench.kv`,
    "--mqtt-port",
    "0",
    // One loopback address and no keys: the per-address limits would be the bottleneck.
    "--mqtt-rate",
    "10000000",
    "--mqtt-max-connections-per-address",
    "100000",
    "--mqtt-connect-rate",
    "100000",
  ]);
  const client = new BenchFeedClient(server.url);
  const rows: MqttBenchRow[] = [];
  try {
    await client.opened;
    options.log(
      `bench: server ${server.url} (pid ${server.pid}), MQTT ${server.mqttUrl}, ${options.sensors} sensors, ` +
        `${options.warmupSeconds}+${options.seconds} s per row, ${navigator.hardwareConcurrency} cores`,
    );
    for (const target of options.rates) {
      for (const transport of TRANSPORTS) {
        if (options.signal.aborted) return rows;
        if (transport.maxRate !== undefined && target > transport.maxRate) continue;
        const row = await measureRate(target, {
          server,
          clients: [client],
          options: {
            ...options,
            clients: 1,
            simArgs: (url) => transport.simArgs(url, server.mqttUrl!),
            acceptedOf: transport.acceptedOf,
          },
        });
        if (options.signal.aborted) return rows;
        rows.push({
          ...row,
          transport: transport.name,
          // CPU seconds per second over readings per second.
          cpuMicrosPerReading: ((row.cpuPercent / 100) * 1e6) / Math.max(1, row.accepted),
        });
        options.log(
          `bench: ${transport.name} at ${target}/s → ${
            Math.round(row.accepted)
          }/s, p50/p99 ${row.p50}/${row.p99} ms`,
        );
        await drain(server.url, options.signal);
      }
    }
    return rows;
  } finally {
    await client.close();
    await stopProcess(server.child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Waits for the pipeline to take in what was accepted before the next row. */
async function drain(url: string, signal: AbortSignal): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until && !signal.aborted) {
    const h: Health = await (await fetch(new URL("healthz", url))).json();
    if (h.log.caughtUp && h.log.pendingReadings === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1_000));
}

export function renderMqttBench(rows: MqttBenchRow[]): string {
  return [
    renderTable(
      [
        "transport",
        "target/s",
        "accepted/s",
        "publish→dashboard p50/p99 ms",
        "server CPU %",
        "server CPU µs/reading",
        "client kept up",
      ],
      rows.map((r) => [
        r.transport,
        String(r.target),
        Math.round(r.accepted).toString(),
        `${r.p50} / ${r.p99}`,
        r.cpuPercent.toFixed(0),
        r.cpuMicrosPerReading.toFixed(1),
        r.keptUp ? "yes" : "no",
      ]),
    ),
    ...rows.filter((r) => r.notes.length).map((r) =>
      `  ${r.transport} at ${r.target}/s: ${r.notes.join("; ")}`
    ),
    "accepted/s: readings acknowledged durable (HTTP answers, MQTT PUBACKs), from the server's /healthz counters;",
    "publish→dashboard: a reading's event time (stamped by the simulator as it sends it) to its decode in a",
    "  WebSocket client: the publish, the durable commit, the log read, the shard and up to one 100 ms hub tick;",
    "server CPU: user + system time of the server process (Deno KV's thread included) over the measured seconds.",
  ].join("\n");
}

/** `--mqtt-storm <n>`: n devices connect at once, publish one QoS 1 reading each and stay. */
export async function runMqttStorm(devices: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-bench-storm-" });
  const server = await startServer([
    "--port",
    "0",
    "--data",
    `${dir}/storm.kv`,
    "--mqtt-port",
    "0",
    "--mqtt-max-connections",
    String(devices + 100),
    "--mqtt-max-connections-per-address",
    String(devices),
    "--mqtt-connect-rate",
    String(devices),
  ]);
  const port = Number(new URL(server.mqttUrl!).port);
  const rssBefore = memoryMb(server.pid).rss;
  const cpuBefore = cpuSeconds(server.pid);
  const storm = connectStorm(port, devices);
  try {
    const report = await storm.done;
    const cpu = cpuSeconds(server.pid) - cpuBefore;
    const rss = memoryMb(server.pid).rss;
    return [
      `MQTT connect storm: ${devices} devices at once, each CONNECT, one QoS 1 publish, stays connected`,
      renderTable(
        [
          "devices",
          "acknowledged",
          "failed",
          "all done s",
          "CONNACK p50/p99 ms",
          "PUBACK p50/p99 ms",
          "server CPU µs/device",
          "server RSS MB before/with all open",
        ],
        [[
          String(devices),
          String(report.acknowledged),
          String(report.failed),
          report.seconds.toFixed(1),
          `${report.connackP50Ms} / ${report.connackP99Ms}`,
          `${report.pubackP50Ms} / ${report.pubackP99Ms}`,
          ((cpu * 1e6) / devices).toFixed(0),
          `${rssBefore.toFixed(0)} / ${rss.toFixed(0)}`,
        ]],
      ),
      ...(report.failures.length ? [`failures: ${report.failures.join("; ")}`] : []),
    ].join("\n");
  } finally {
    await storm.close();
    await stopProcess(server.child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
