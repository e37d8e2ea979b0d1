import { Fleet } from "./fleet.ts";
import { BatchEncoder } from "./batch_encoder.ts";
import { answerResult, postBatch } from "./post.ts";
import type { PostResult } from "./post.ts";
import { buildPost, ConnectTimedOut, RawHttpConnection } from "./raw_http.ts";
import type { Body } from "./batch_encoder.ts";
import { emptyReport } from "./simulator.ts";
import type { SimulatorReport } from "./simulator.ts";
import { decodeIngestBatch } from "../protocol/ingest_codec.ts";

/** The server stores a body of at most this many bytes as it arrived (one log chunk, no re-encoding). */
export const CHUNK_BYTES = 60_000;

export interface ReplayOptions {
  /** Server base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  /** Sensors in the fleet. Default 5000. */
  sensors?: number;
  /** Readings per second over the whole fleet. Default 10,000. */
  rate?: number;
  /** Most readings per request; fewer when a body would pass `CHUNK_BYTES`. Default 1000. */
  batch?: number;
  /** Requests in flight at most. Default 4. */
  concurrency?: number;
  seed?: number;
  apiKey?: string;
  /** Longest wait for one answer. Default 30,000 ms. */
  requestTimeoutMs?: number;
  onReport?: (report: SimulatorReport) => void;
}

/** A pre-encoded body and the view of its time column (patched in place before each post). */
interface Prepared {
  body: Body;
  timeMs: Float64Array;
  readings: number;
  busy: boolean;
}

/**
 * Encodes bodies covering the fleet once (each at most `CHUNK_BYTES`, so the
 * server stores it as it arrived), with the fleet's values.
 */
export function prepareBodies(
  options: { sensors: number; batch: number; seed?: number; copies?: number },
): Prepared[] {
  const encoder = new BatchEncoder(
    new Fleet({ sensors: options.sensors, seed: options.seed ?? 1 }),
  );
  const bodies: Prepared[] = [];
  let batch = Math.max(1, Math.min(options.batch, options.sensors));
  let covered = 0;
  while (covered < options.sensors * (options.copies ?? 1)) {
    let body = encoder.next(batch, 0);
    while ((body.bytes as Uint8Array).byteLength > CHUNK_BYTES && batch > 1) {
      // Too big to be stored as it came: fewer readings per body (the fleet moves on; no matter).
      batch = Math.max(
        1,
        Math.floor(batch * CHUNK_BYTES / (body.bytes as Uint8Array).byteLength) - 1,
      );
      body = encoder.next(batch, 0);
    }
    const bytes = body.bytes as Uint8Array;
    // The decoder's columns are views into the body: its time column can be rewritten in place.
    const { block } = decodeIngestBatch(bytes);
    if (block.timeMs.buffer !== bytes.buffer) {
      throw new Error("the time column is not a view of the body");
    }
    bodies.push({ body, timeMs: block.timeMs, readings: block.length, busy: false });
    covered += block.length;
  }
  return bodies;
}

/**
 * A load generator that costs less than the server: bodies are encoded once
 * (`prepareBodies`), and each post only stamps the current time into the
 * body's time column (no encoding) and sends it over a kept-alive
 * connection. Posts go out on a schedule for `rate`; when the server is
 * slower they go as fast as it answers (nothing is skipped), so the
 * accepted rate is the server's. Resolves when `signal` aborts.
 */
export async function runReplay(
  options: ReplayOptions,
  signal: AbortSignal,
): Promise<SimulatorReport> {
  const sensors = options.sensors ?? 5000;
  const rate = options.rate ?? 10_000;
  const concurrency = options.concurrency ?? 4;
  const bodies = prepareBodies({
    sensors,
    batch: options.batch ?? 1000,
    seed: options.seed,
    // At least two bodies per request in flight, so none is patched while it is sent.
    copies: Math.max(1, Math.ceil((2 * concurrency * (options.batch ?? 1000)) / sensors)),
  });
  const endpoint = new URL("/api/ingest", options.url);
  // Over plain HTTP each body becomes a whole request once, its time column a view into it.
  const raw = endpoint.protocol === "http:";
  const headers: Record<string, string> = { "content-type": "application/x-flatbuffers" };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  const requests = bodies.map((prepared) => {
    if (!raw) return null;
    const body = prepared.body.bytes as Uint8Array;
    const { bytes, bodyAt } = buildPost(endpoint, body, headers);
    const at = bodyAt + prepared.timeMs.byteOffset - body.byteOffset;
    prepared.timeMs = new Float64Array(bytes.buffer, at, prepared.timeMs.length);
    return bytes;
  });
  const report = emptyReport(rate);
  const started = performance.now();
  let scheduled = 0; // readings whose post time has been given out
  let next = 0;
  let last = { at: started, accepted: 0, posted: 0 };
  const tick = setInterval(() => {
    const now = performance.now();
    report.elapsedMs = now - started;
    const seconds = (now - last.at) / 1000;
    report.rate = (report.accepted - last.accepted) / seconds;
    report.postedRate = (report.posted - last.posted) / seconds;
    last = { at: now, accepted: report.accepted, posted: report.posted };
    options.onReport?.({ ...report, errors: { ...report.errors } });
  }, 1000);
  const worker = async () => {
    const connection = raw ? new RawHttpConnection(endpoint) : null;
    while (!signal.aborted) {
      let prepared = bodies[next];
      for (let k = 0; prepared.busy && k < bodies.length; k++) {
        prepared = bodies[next = (next + 1) % bodies.length];
      }
      const request = requests[next];
      next = (next + 1) % bodies.length;
      // The schedule: this body's readings are due once the ones before have had their time.
      const dueAt = started + (scheduled / rate) * 1000;
      scheduled += prepared.readings;
      const wait = dueAt - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      if (signal.aborted) return;
      prepared.busy = true;
      prepared.timeMs.fill(Date.now());
      report.posted += prepared.readings;
      report.requests++;
      const timeoutMs = options.requestTimeoutMs ?? 30_000;
      const result = connection && request
        ? await postRaw(connection, request, timeoutMs, signal)
        : await postBatch(endpoint, prepared.body, { apiKey: options.apiKey, signal, timeoutMs });
      prepared.busy = false;
      if (result.ok) {
        report.accepted += result.accepted;
        report.refused += result.refused.length;
        for (const r of result.refused.slice(0, 3 - report.refusalSamples.length)) {
          report.refusalSamples.push(r.reason);
        }
      } else {
        report.failed += prepared.readings;
        report.errors[result.cause] = (report.errors[result.cause] ?? 0) + 1;
        if (result.retry) await new Promise((r) => setTimeout(r, result.retryAfterMs ?? 100));
      }
    }
    connection?.close();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearInterval(tick);
  report.elapsedMs = performance.now() - started;
  report.rate = report.accepted / (report.elapsedMs / 1000);
  report.postedRate = report.posted / (report.elapsedMs / 1000);
  options.onReport?.(report);
  return report;
}

/** One post over a raw connection, its outcome classified as `postBatch` does. */
export async function postRaw(
  connection: RawHttpConnection,
  request: Uint8Array,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<PostResult> {
  try {
    const answer = await connection.post(request, timeoutMs, signal);
    const statusText = answer.status === 200 ? "OK" : "";
    return answerResult(
      answer.status,
      statusText,
      answer.headers.get("retry-after") ?? null,
      answer.text,
    );
  } catch (error) {
    if (signal.aborted) {
      return { ok: false, cause: "interrupted at stop (outcome unknown)", retry: false };
    }
    // Before the timed-out check: it is one, but nothing of the post was sent.
    if (error instanceof ConnectTimedOut) {
      return { ok: false, cause: "connect timed out (nothing sent)", retry: true };
    }
    if (error instanceof Deno.errors.TimedOut) {
      return { ok: false, cause: "timed out (outcome unknown)", retry: false };
    }
    if (error instanceof Deno.errors.ConnectionRefused) {
      return { ok: false, cause: "connection refused", retry: true };
    }
    const text = error instanceof Error ? error.message : String(error);
    return { ok: false, cause: `request failed: ${text.slice(0, 120)}`, retry: false };
  }
}
