import { Fleet, METRICS } from "./fleet.ts";
import { Pacer } from "./pacer.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";
import { ReadingBlockBuilder } from "../readings/block.ts";

/** Longest a due reading waits for its batch to fill. */
const MAX_HOLD_MS = 50;

export interface SimulatorOptions {
  /** Server base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  sensors: number;
  /** Readings per second over the whole fleet. */
  rate: number;
  /** Post JSON documents instead of FlatBuffers batches. Default false. */
  json?: boolean;
  /** Most readings per request. Default: rate / 20, within 1..1000. */
  batch?: number;
  /** Requests in flight. Default 2. */
  concurrency?: number;
  seed?: number;
  /** Called about once a second and at the end. */
  onReport?: (report: SimulatorReport) => void;
}

export interface SimulatorReport {
  elapsedMs: number;
  /** Readings sent, and those the server accepted or refused. */
  posted: number;
  accepted: number;
  refused: number;
  /** Accepted readings per second since the previous report. */
  rate: number;
  /** Failed requests by cause ("503 unavailable: ...", "connection refused"). */
  errors: Record<string, number>;
  /** The first few refusal reasons seen. */
  refusalSamples: string[];
}

/**
 * Posts readings of a simulated fleet to /api/ingest at a steady rate until
 * `signal` aborts. Each sensor reports in turn, so every sensor gets its share
 * of the rate. Resolves with the final report.
 */
export async function runSimulator(
  options: SimulatorOptions,
  signal: AbortSignal,
): Promise<SimulatorReport> {
  const { url, sensors, rate, json = false, concurrency = 2, seed = 1 } = options;
  const batch = options.batch ?? Math.min(1000, Math.max(1, Math.ceil(rate / 20)));
  const fleet = new Fleet({ sensors, seed });
  const endpoint = new URL("/api/ingest", url);
  const started = Date.now();
  const pacer = new Pacer(rate, started);
  const report: SimulatorReport = {
    elapsedMs: 0,
    posted: 0,
    accepted: 0,
    refused: 0,
    rate: 0,
    errors: {},
    refusalSamples: [],
  };
  let next = 0;
  let lastReport = { at: started, accepted: 0 };
  const emit = () => {
    const now = Date.now();
    report.elapsedMs = now - started;
    report.rate = ((report.accepted - lastReport.accepted) * 1000) /
      Math.max(1, now - lastReport.at);
    lastReport = { at: now, accepted: report.accepted };
    options.onReport?.({ ...report, errors: { ...report.errors } });
  };
  const reporter = setInterval(emit, 1000);

  const worker = async () => {
    const builder = new ReadingBlockBuilder({ capacity: batch });
    const values = new Float64Array(METRICS.length);
    let lastPost = Date.now();
    while (!signal.aborted) {
      // Fill a batch, but never hold readings back longer than MAX_HOLD_MS.
      const waited = Date.now() - lastPost;
      if (pacer.due(Date.now()) < batch && waited < MAX_HOLD_MS) {
        await sleep(
          Math.max(1, Math.min(MAX_HOLD_MS - waited, pacer.waitMs(Date.now(), batch))),
          signal,
        );
        continue;
      }
      const n = pacer.take(Date.now(), batch);
      lastPost = Date.now();
      if (n === 0) continue;
      const now = Date.now();
      let body: BodyInit;
      if (json) {
        const docs = new Array(n);
        for (let i = 0; i < n; i++) {
          const sensor = next++ % sensors;
          fleet.read(sensor, now, values);
          docs[i] = {
            sensorId: fleet.ids[sensor],
            group: fleet.groups[sensor],
            timestamp: new Date(now).toISOString(),
            reading: { temperature: values[0], humidity: values[1], pressure: values[2] },
            status: "ok",
          };
        }
        body = JSON.stringify(docs);
      } else {
        builder.reset();
        for (let i = 0; i < n; i++) {
          const sensor = next++ % sensors;
          fleet.read(sensor, now, values);
          builder.begin(fleet.ids[sensor], fleet.groups[sensor], now, "ok");
          for (let k = 0; k < METRICS.length; k++) builder.addValue(METRICS[k], values[k]);
        }
        body = encodeReadingBlock(builder.build());
      }
      report.posted += n;
      await post(endpoint, body, json, n, report, signal);
    }
  };

  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    clearInterval(reporter);
    emit();
  }
  return report;
}

async function post(
  endpoint: URL,
  body: BodyInit,
  json: boolean,
  count: number,
  report: SimulatorReport,
  signal: AbortSignal,
): Promise<void> {
  const headers = { "content-type": json ? "application/json" : "application/x-flatbuffers" };
  for (
    let attempt = 0, backoff = 100;
    !signal.aborted;
    attempt++, backoff = Math.min(backoff * 2, 2000)
  ) {
    try {
      const response = await fetch(endpoint, { method: "POST", body, headers });
      const text = await response.text();
      if (response.ok) {
        const result = JSON.parse(text) as {
          accepted: number;
          refused: { index: number; reason: string }[];
        };
        report.accepted += result.accepted;
        report.refused += result.refused.length;
        for (const r of result.refused.slice(0, 3 - report.refusalSamples.length)) {
          report.refusalSamples.push(`#${r.index}: ${r.reason}`);
        }
        return;
      }
      const detail = safeDetail(text);
      count_(report, `${response.status} ${detail}`);
      if (response.status !== 503 && response.status !== 429) return; // not worth retrying
    } catch (error) {
      if (signal.aborted) return;
      count_(report, error instanceof TypeError ? "connection failed" : String(error));
    }
    if (attempt >= 5) {
      count_(report, `gave up on ${count} readings`);
      return;
    }
    await sleep(backoff, signal);
  }
}

function count_(report: SimulatorReport, cause: string): void {
  report.errors[cause] = (report.errors[cause] ?? 0) + 1;
}

function safeDetail(text: string): string {
  try {
    const parsed = JSON.parse(text);
    return `${parsed.error}: ${parsed.detail}`.slice(0, 160);
  } catch {
    return text.slice(0, 160);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
