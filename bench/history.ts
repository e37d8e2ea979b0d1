// `deno task bench --history`: history query latency. Loads 24 h of one
// sensor at 10 readings/s (864,000 readings, three metrics each) through the
// ingest API into a real Deno KV file, lets the rollups be written, then
// times `GET /api/sensors/:id/history` over 24 h, 1 h and 5 min ranges.
import { IngestBatchWriter } from "../protocol/ingest_batch_writer.ts";
import { startServer, stopProcess, storageWriteBytes } from "./processes.ts";
import { renderTable } from "./table.ts";

const SENSOR = "history-bench-0";
const METRICS = ["temperature", "humidity", "pressure"] as const;
const PER_SECOND = 10;
const SPAN_MS = 24 * 3_600_000;
const BATCH = 10_000;
const QUERIES = 200;

interface HistoryAnswer {
  resolution: string;
  bucketMs: number;
  points: { count: number }[];
  bounded: boolean;
  note?: string;
}

export async function runHistoryBench(signal: AbortSignal): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-history-bench-" });
  const server = await startServer([
    "--port",
    "0",
    "--data",
    `${dir}/h.kv`,
    "--rollup-flush",
    "1s",
  ]);
  try {
    const end = Math.floor(Date.now() / 60_000) * 60_000;
    const start = end - SPAN_MS;
    const total = (SPAN_MS / 1000) * PER_SECOND;
    const writtenBefore = storageWriteBytes(server.pid);
    const loadStarted = performance.now();
    await load(server.url, start, total, signal);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    await settle(server.url, signal);
    const written = storageWriteBytes(server.pid) - writtenBefore;
    console.log(
      `history bench: loaded ${total} readings of ${SENSOR} (24 h at ${PER_SECOND}/s, ${METRICS.length} metrics) ` +
        `in ${loadSeconds.toFixed(1)} s (${Math.round(total / loadSeconds)} readings/s); ` +
        `server wrote ${
          (written / total).toFixed(0)
        } B/reading to storage (log, rollups, checkpoints)`,
    );
    const ranges: [string, number][] = [["24 h", SPAN_MS], ["1 h", 3_600_000], ["5 min", 300_000]];
    const rows: string[][] = [];
    for (const [label, span] of ranges) {
      if (signal.aborted) break;
      const latency: number[] = [];
      let answer: HistoryAnswer | null = null;
      for (let i = 0; i < QUERIES && !signal.aborted; i++) {
        const url = new URL(`api/sensors/${SENSOR}/history`, server.url);
        url.searchParams.set("metric", "temperature");
        url.searchParams.set("from", String(end - span));
        url.searchParams.set("to", String(end));
        url.searchParams.set("maxPoints", "1000");
        const t0 = performance.now();
        const response = await fetch(url, { signal });
        const body = await response.json();
        latency.push(performance.now() - t0);
        if (!response.ok) {
          throw new Error(`history ${label}: ${response.status} ${JSON.stringify(body)}`);
        }
        answer = body;
      }
      if (!answer) break;
      const readings = answer.points.reduce((n, p) => n + p.count, 0);
      rows.push([
        label,
        answer.resolution,
        String(answer.bucketMs),
        String(answer.points.length),
        `${readings} of ${(span / 1000) * PER_SECOND}`,
        `${percentile(latency, 50).toFixed(1)} / ${percentile(latency, 99).toFixed(1)}`,
        answer.note ?? "-",
      ]);
    }
    console.log(
      renderTable(
        [
          "range",
          "from",
          "bucket ms",
          "points",
          "readings covered",
          "latency p50/p99 ms",
          "notes",
        ],
        rows,
      ),
    );
    console.log(
      `${QUERIES} sequential queries per range, maxPoints 1000, metric temperature; latency is the whole ` +
        "HTTP round trip on loopback. Readings covered: the bucket counts summed (the newest windows, " +
        "still within the grace period, come from the shards' open windows).",
    );
    return signal.aborted ? 130 : 0;
  } finally {
    await stopProcess(server.child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Posts the readings in time order, one request at a time: two in flight
 * could commit out of order, and a batch 1,000 s behind the newest event time
 * would rightly be dropped as late.
 */
export async function load(url: string, start: number, total: number, signal: AbortSignal) {
  const stepMs = 1000 / PER_SECOND;
  const writer = new IngestBatchWriter();
  const values = new Float64Array(METRICS.length);
  let next = 0;
  const post = async () => {
    while (next < total && !signal.aborted) {
      const first = next;
      const last = Math.min(total, first + BATCH);
      next = last;
      for (let i = first; i < last; i++) {
        const t = start + i * stepMs;
        const phase = (t / 3_600_000) * 2 * Math.PI;
        values[0] = 21 + 4 * Math.sin(phase);
        values[1] = 45 + 10 * Math.cos(phase);
        values[2] = 1000 + (i % 50);
        writer.add(SENSOR, "bench/history", t, METRICS, values);
      }
      const body = writer.finish();
      const response = await fetch(new URL("api/ingest", url), {
        method: "POST",
        headers: { "content-type": "application/x-flatbuffers" },
        body,
        signal,
      });
      const answer = await response.json();
      if (!response.ok || answer.accepted !== last - first) {
        throw new Error(`ingest: ${response.status} ${JSON.stringify(answer).slice(0, 300)}`);
      }
    }
  };
  await post();
}

/** Waits until the log is read and the rollups have been flushed. */
export async function settle(url: string, signal: AbortSignal) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !signal.aborted) {
    const health = await (await fetch(new URL("healthz", url))).json();
    if (health.log.caughtUp && health.log.pendingReadings === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  // Incomplete rollup chunks are written after three flush intervals.
  await new Promise((r) => setTimeout(r, 4_000));
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}
