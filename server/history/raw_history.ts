import type { LogEntry } from "../store/mod.ts";
import type { SeriesPoint } from "./history_query.ts";

/** The raw log, as history reads it (`KvLog.entries`). */
export interface RawLog {
  entries(after: string | null, options: { limit: number }): AsyncIterable<LogEntry>;
}

/**
 * Reads one sensor's raw readings of one metric from the log (the raw
 * history). The log is ordered by commit, not event time, so the scan
 * starts at a cursor known to precede the range and reads at most
 * `maxChunks` chunks; `complete` is false when it stopped before the head.
 */
export async function readRawHistory(
  log: RawLog,
  request: { after: string | null; sensorId: string; metric: string; fromMs: number; toMs: number },
  maxChunks: number,
): Promise<{ points: SeriesPoint[]; complete: boolean; chunks: number }> {
  const { after, sensorId, metric, fromMs, toMs } = request;
  const points: SeriesPoint[] = [];
  let chunks = 0;
  for await (const { block } of log.entries(after, { limit: maxChunks + 1 })) {
    if (++chunks > maxChunks) return { points, complete: false, chunks: maxChunks };
    const sensor = block.strings.indexOf(sensorId);
    const name = block.strings.indexOf(metric);
    if (sensor < 0 || name < 0) continue;
    for (let row = 0; row < block.length; row++) {
      if (block.sensor[row] !== sensor) continue;
      const t = block.timeMs[row];
      if (t < fromMs || t >= toMs) continue;
      for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) {
        if (block.metric[v] !== name) continue;
        const value = block.value[v];
        points.push({ t, count: 1, sum: value, min: value, max: value });
      }
    }
  }
  return { points, complete: true, chunks };
}
