import { Fleet } from "./fleet.ts";
import { Pacer } from "./pacer.ts";
import { BatchEncoder } from "./batch_encoder.ts";
import { postBatch } from "./post.ts";
import type { Body } from "./batch_encoder.ts";

/** Inserts documents straight into MongoDB (`--mongo`); rejects when nothing may have been stored. */
export interface DocumentSink {
  insert(docs: Record<string, unknown>[]): Promise<void>;
}

export interface SimulatorOptions {
  /** Insert into MongoDB through this instead of posting to `url`. */
  mongo?: DocumentSink;
  /** Server base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  /** Sensors in the fleet. Default 5000. */
  sensors?: number;
  /** Readings per second over the whole fleet. Default 10,000. */
  rate?: number;
  /** Post JSON documents instead of FlatBuffers batches. Default false. */
  json?: boolean;
  /** Most readings per request. Default 1000 (10 requests/s at 10,000 readings/s). */
  batch?: number;
  /** Longest a due reading waits for its batch to fill, in ms. Default 100. */
  lingerMs?: number;
  /** Requests in flight at most. Default 2. */
  concurrency?: number;
  /** Fleet seed. Default 1. */
  seed?: number;
  /** Ingest API key, if the server requires one. */
  apiKey?: string;
  /** Readings due longer ago than this are skipped rather than sent in a burst. Default 1000 ms. */
  maxBacklogMs?: number;
  /** After the stop signal, how long requests in flight may take to finish. Default 5000 ms. */
  drainMs?: number;
  /** Longest wait for one answer. Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Called about once a second and once at the end. */
  onReport?: (report: SimulatorReport) => void;
}

export interface SimulatorReport {
  elapsedMs: number;
  /** The target rate, readings/s. */
  target: number;
  /** Readings sent in requests (retries not counted twice). */
  posted: number;
  /** Readings the server accepted, and refused one by one. */
  accepted: number;
  refused: number;
  /** Readings in requests that failed for good (HTTP error, timeout, gave up retrying). */
  failed: number;
  /** Readings never sent: due more than maxBacklogMs ago (server unreachable or too slow, or this process too slow). */
  skipped: number;
  requests: number;
  /** Readings accepted and posted per second since the previous report. */
  rate: number;
  postedRate: number;
  /** Failed attempts by cause, e.g. "503 Cannot ingest: ..." or "connection refused". */
  errors: Record<string, number>;
  /** The first few refusal reasons seen. */
  refusalSamples: string[];
}

/** Tries per request for 429/503; connection refused is retried until the stop. */
const MAX_BUSY_ATTEMPTS = 8;

/**
 * Posts a simulated fleet's readings to `POST {url}/api/ingest` at a steady
 * rate until `signal` aborts, then lets requests in flight finish (for at
 * most `drainMs`) and resolves with the final report. Never throws for
 * server or network trouble: it counts it.
 */
export async function runSimulator(
  options: SimulatorOptions,
  signal: AbortSignal,
): Promise<SimulatorReport> {
  const sensors = options.sensors ?? 5000;
  const rate = options.rate ?? 10_000;
  const batch = options.batch ?? 1000;
  const concurrency = options.concurrency ?? 2;
  const lingerMs = options.lingerMs ?? 100;
  const maxBacklogMs = options.maxBacklogMs ?? 1000;
  for (const [name, value] of Object.entries({ batch, concurrency })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`The simulator's ${name} must be a positive integer, got ${value}`);
    }
  }
  const fleet = new Fleet({ sensors, seed: options.seed ?? 1 });
  const encoder = new BatchEncoder(fleet, { json: options.json });
  const endpoint = new URL("/api/ingest", options.url);
  const started = performance.now();
  const pacer = new Pacer(rate, started);
  const report = emptyReport(rate);
  let previous = { at: started, accepted: 0, posted: 0 };
  const emit = () => {
    const now = performance.now();
    // Counted here too: while every worker waits on a retry, none reaches skipStale.
    report.skipped += pacer.skipStale(now, maxBacklogMs);
    const seconds = Math.max(0.001, (now - previous.at) / 1000);
    report.elapsedMs = now - started;
    report.rate = (report.accepted - previous.accepted) / seconds;
    report.postedRate = (report.posted - previous.posted) / seconds;
    previous = { at: now, accepted: report.accepted, posted: report.posted };
    options.onReport?.({
      ...report,
      errors: { ...report.errors },
      refusalSamples: [...report.refusalSamples],
    });
  };

  // The stop signal ends new batches; `hard` later cuts off requests still in flight.
  const hard = new AbortController();
  let drainTimer: ReturnType<typeof setTimeout> | undefined;
  const onStop = () => (drainTimer = setTimeout(() => hard.abort(), options.drainMs ?? 5000));
  if (signal.aborted) onStop();
  else signal.addEventListener("abort", onStop, { once: true });

  const deliver = async (body: Body, count: number) => {
    for (let attempt = 1;; attempt++) {
      report.requests++;
      const result = await postBatch(endpoint, body, {
        apiKey: options.apiKey,
        signal: hard.signal,
        timeoutMs: options.requestTimeoutMs ?? 30_000,
      });
      if (result.ok) {
        report.accepted += result.accepted;
        report.refused += result.refused.length;
        for (const r of result.refused.slice(0, 3 - report.refusalSamples.length)) {
          report.refusalSamples.push(`#${r.index}: ${r.reason}`);
        }
        return;
      }
      report.errors[result.cause] = (report.errors[result.cause] ?? 0) + 1;
      const again = result.retry && !signal.aborted &&
        (result.cause === "connection refused" || attempt < MAX_BUSY_ATTEMPTS);
      if (!again) {
        report.failed += count;
        return;
      }
      // Exponential backoff with jitter, or what Retry-After asks for.
      const backoff = result.retryAfterMs ??
        Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
      await sleep(backoff, signal);
    }
  };

  // Direct inserts: the driver retries a write once itself; a failed insertMany is retried
  // while the server is unreachable (like a refused connection), else counted as failed.
  const insert = async (docs: Record<string, unknown>[]) => {
    for (let attempt = 1;; attempt++) {
      report.requests++;
      try {
        await options.mongo!.insert(docs);
        report.accepted += docs.length;
        return;
      } catch (error) {
        const cause = (error as Error).name || "insert failed";
        report.errors[cause] = (report.errors[cause] ?? 0) + 1;
        const unreachable = /ServerSelection|Network/.test(cause);
        if (!unreachable || signal.aborted) {
          report.failed += docs.length;
          return;
        }
        await sleep(Math.min(2000, 100 * 2 ** (attempt - 1)), signal);
      }
    }
  };

  const worker = async () => {
    while (!signal.aborted) {
      const now = performance.now();
      report.skipped += pacer.skipStale(now, maxBacklogMs);
      if (!pacer.ready(now, batch, lingerMs)) {
        await sleep(Math.max(1, pacer.readyInMs(now, batch, lingerMs)), signal);
        continue;
      }
      const count = pacer.take(now, batch);
      report.posted += count;
      if (options.mongo) {
        await insert(encoder.documents(count, Date.now()));
        continue;
      }
      const body = encoder.next(count, Date.now());
      await deliver(body, count);
    }
  };

  const reporter = setInterval(emit, 1000);
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    clearInterval(reporter);
    clearTimeout(drainTimer);
    signal.removeEventListener("abort", onStop);
    emit();
  }
  return report;
}

/** Resolves after `ms`, or at once when `signal` aborts; leaves no timer behind. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

/** A report before the first post, for a target of `rate` readings/s. */
export function emptyReport(rate: number): SimulatorReport {
  return {
    elapsedMs: 0,
    target: rate,
    posted: 0,
    accepted: 0,
    refused: 0,
    failed: 0,
    skipped: 0,
    requests: 0,
    rate: 0,
    postedRate: 0,
    errors: {},
    refusalSamples: [],
  };
}
