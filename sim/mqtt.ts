// `deno task sim --mqtt mqtt://host:port`: the fleet published as devices
// would, over MQTT: one connection per gateway (clean session off, a fixed
// client id, so unacknowledged publishes are resent after a reconnect), each
// carrying many sensors, one JSON reading per publish on
// pulseboard/<group>/<sensorId>; or, with `batch`, one gateway per group
// publishing IngestBatch FlatBuffers on pulseboard/<group>/gw.
import mqtt from "mqtt";
import type { MqttClient } from "mqtt";
import { Fleet, METRICS } from "./fleet.ts";
import { Pacer } from "./pacer.ts";
import { IngestBatchWriter } from "../protocol/ingest_batch_writer.ts";

export interface MqttSimulatorOptions {
  /** mqtt:// or mqtts:// of the embedded listener or a broker. */
  url: string;
  sensors?: number;
  /** Readings (publishes) per second over the fleet. Default 10,000. */
  rate?: number;
  /** Connections, each one gateway's; sensors are spread over them. Default sensors / 100. */
  gateways?: number;
  /**
   * Readings per publish: above 1, each group's gateway publishes IngestBatch
   * payloads (after at most 100 ms), and `gateways` is the number of groups.
   * Default 1 (a JSON reading per publish).
   */
  batch?: number;
  /** QoS of the publishes. Default 1. */
  qos?: 0 | 1 | 2;
  /** Most unacknowledged publishes per gateway; past it its readings are skipped. Default 200. */
  inFlight?: number;
  seed?: number;
  /** API key, sent as the MQTT password. */
  apiKey?: string;
  /** Readings due longer ago than this are skipped rather than sent in a burst. Default 1000 ms. */
  maxBacklogMs?: number;
  /** After the stop signal, how long to wait for outstanding PUBACKs. Default 5000 ms. */
  drainMs?: number;
  onReport?: (report: MqttSimulatorReport) => void;
}

export interface MqttSimulatorReport {
  elapsedMs: number;
  target: number;
  /** Readings sent, and acknowledged (PUBACK/PUBCOMP; for QoS 0, sent). */
  published: number;
  acknowledged: number;
  /** Publishes sent (readings / batch). */
  publishes: number;
  /** Publishes that failed (their callback gave an error). */
  failed: number;
  /** Readings not sent: due too long ago, or their gateway had too many unacknowledged. */
  skipped: number;
  /** Acknowledged per second since the previous report. */
  rate: number;
  gateways: number;
  connected: number;
  /** Connection errors by message. */
  errors: Record<string, number>;
}

/** Publishes the fleet until `signal` aborts; resolves with the final report. */
export async function runMqttSimulator(
  options: MqttSimulatorOptions,
  signal: AbortSignal,
): Promise<MqttSimulatorReport> {
  const sensors = options.sensors ?? 5000;
  const rate = options.rate ?? 10_000;
  const batch = options.batch ?? 1;
  const fleet = new Fleet({ sensors, seed: options.seed ?? 1 });
  const groups = [...new Set(fleet.groups)];
  const gateways = batch > 1
    ? groups.length
    : Math.max(1, Math.min(sensors, options.gateways ?? Math.ceil(sensors / 100)));
  // A sensor's gateway: its group's, or spread by index.
  const gatewayOf = batch > 1
    ? Uint32Array.from(fleet.groups, (g) => groups.indexOf(g))
    : Uint32Array.from(fleet.ids, (_, s) => s % gateways);
  const qos = options.qos ?? 1;
  const inFlight = options.inFlight ?? (batch > 1 ? 8 : 200);
  const maxBacklogMs = options.maxBacklogMs ?? 1000;
  // Per sensor (or, batching, per gateway), its topic, made once.
  const topics = batch > 1
    ? groups.map((g) => `pulseboard/${g}/gw`)
    : fleet.ids.map((id, s) => `pulseboard/${fleet.groups[s]}/${id}`);
  const writers = batch > 1 ? groups.map(() => new IngestBatchWriter()) : [];
  const firstAt = new Float64Array(writers.length);
  const values = new Float64Array(METRICS.length);
  const report: MqttSimulatorReport = {
    elapsedMs: 0,
    target: rate,
    published: 0,
    acknowledged: 0,
    publishes: 0,
    failed: 0,
    skipped: 0,
    rate: 0,
    gateways,
    connected: 0,
    errors: {},
  };
  const outstanding = new Int32Array(gateways);
  const clients: MqttClient[] = Array.from({ length: gateways }, (_, g) => {
    const client = mqtt.connect(options.url, {
      clientId: `sim-gw-${options.seed ?? 1}-${batch > 1 ? "b" : ""}${g}`,
      clean: false,
      reconnectPeriod: 500,
      keepalive: 30,
      ...(options.apiKey ? { username: "sim", password: options.apiKey } : {}),
    });
    client.on("error", (error) => {
      report.errors[error.message] = (report.errors[error.message] ?? 0) + 1;
    });
    return client;
  });
  const started = performance.now();
  const pacer = new Pacer(rate, started);
  let previous = { at: started, acknowledged: 0 };
  const emit = () => {
    const now = performance.now();
    report.skipped += pacer.skipStale(now, maxBacklogMs);
    report.elapsedMs = now - started;
    report.rate = (report.acknowledged - previous.acknowledged) /
      Math.max(0.001, (now - previous.at) / 1000);
    report.connected = clients.filter((c) => c.connected).length;
    previous = { at: now, acknowledged: report.acknowledged };
    options.onReport?.({ ...report, errors: { ...report.errors } });
  };
  const send = (g: number, topic: string, payload: string | Uint8Array, readings: number) => {
    outstanding[g]++;
    report.published += readings;
    report.publishes++;
    clients[g].publish(topic, payload as string, { qos }, (error) => {
      outstanding[g]--;
      if (error) report.failed += readings;
      else report.acknowledged += readings;
    });
  };
  /** Publishes gateway `g`'s batch (full, or older than 100 ms). */
  const flush = (g: number) => {
    const readings = writers[g].length;
    send(g, topics[g], writers[g].finish(), readings);
  };
  const reporter = setInterval(emit, 1000);
  try {
    while (!signal.aborted) {
      const now = performance.now();
      report.skipped += pacer.skipStale(now, maxBacklogMs);
      const due = pacer.take(now, 10_000);
      for (let i = 0; i < due; i++) {
        const sensor = fleet.nextSensor();
        const g = gatewayOf[sensor];
        const client = clients[g];
        if (!client.connected || outstanding[g] >= inFlight) {
          report.skipped++;
          continue;
        }
        const timeMs = Date.now();
        const status = fleet.read(sensor, timeMs, values);
        if (batch > 1) {
          if (writers[g].length === 0) firstAt[g] = now;
          // No group: the readings take the topic's.
          writers[g].add(fleet.ids[sensor], "", timeMs, METRICS, values, status);
          if (writers[g].length >= batch) flush(g);
          continue;
        }
        const payload = `{"timestamp":${timeMs},"reading":{"${METRICS[0]}":${values[0]},"${
          METRICS[1]
        }":${values[1]},"${METRICS[2]}":${values[2]}},"status":"${status}"}`;
        send(g, topics[sensor], payload, 1);
      }
      for (let g = 0; g < writers.length; g++) {
        if (writers[g].length > 0 && now - firstAt[g] >= 100) flush(g);
      }
      await sleep(
        Math.max(1, Math.min(batch > 1 ? 10 : 20, pacer.readyInMs(performance.now(), 1, 0))),
        signal,
      );
    }
    // Stop: wait (bounded) for what is still unacknowledged.
    const until = performance.now() + (options.drainMs ?? 5000);
    while (outstanding.some((n) => n > 0) && performance.now() < until) await sleep(20);
  } finally {
    clearInterval(reporter);
    // A DISCONNECT (not a dropped connection): the server forgets the sessions' retry records.
    await Promise.all(
      clients.map((c) =>
        Promise.race([c.endAsync(false), sleep(2000)]).catch(() => {}).then(() =>
          c.endAsync(true).catch(() => {})
        )
      ),
    );
    emit();
  }
  return report;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** One line of progress (or the summary, with `final`). */
export function formatMqttReport(r: MqttSimulatorReport, final = false): string {
  const seconds = Math.max(r.elapsedMs / 1000, 0.001);
  const errors = Object.entries(r.errors).map(([cause, n]) => `${n}× ${cause}`);
  return final
    ? [
      `sim: stopped after ${
        seconds.toFixed(1)
      } s over MQTT (${r.gateways} gateways, ${r.publishes} publishes)`,
      `  published ${r.published}, accepted ${r.acknowledged} (${
        Math.round(r.acknowledged / seconds)
      }/s on average, target ${r.target}/s), refused 0, failed ${r.failed}, skipped ${r.skipped}`,
      ...(errors.length ? ["  errors:", ...errors.map((e) => `  ${e}`)] : []),
    ].join("\n")
    : `sim ${seconds.toFixed(1).padStart(5)}s: ${
      Math.round(r.rate)
    } readings/s acknowledged over MQTT (target ${r.target}); ${r.connected}/${r.gateways} gateways connected; ` +
      `total ${r.acknowledged}${r.skipped ? `, skipped ${r.skipped}` : ""}${
        r.failed ? `, failed ${r.failed}` : ""
      }${errors.length ? ` | errors: ${errors.join("; ")}` : ""}`;
}
