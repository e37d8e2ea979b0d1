/** Windows per stored chunk: 30 × 32 metrics × 4 numbers × 8 B stays under Deno KV's 64 KiB. */
export const WINDOWS_PER_CHUNK = 30;
/** Numbers per window and metric: count, sum, min, max. */
const STATS = 4;

/**
 * The span rollups are keyed by: `WINDOWS_PER_CHUNK` consecutive windows of
 * one size. Stores of the older layout hold one sensor's span as one value
 * (`RollupChunk`: per metric, count/sum/min/max per window, count 0 for
 * none); newer ones hold fragments of it (`rollup_store.ts`).
 */
export interface RollupChunk {
  sizeMs: number;
  sensorId: string;
  /** Start of the chunk's first window (a multiple of sizeMs × WINDOWS_PER_CHUNK). */
  startMs: number;
  metrics: string[];
  /** `[metric][window][count, sum, min, max]`. */
  values: Float64Array;
}

export function chunkStart(startMs: number, sizeMs: number): number {
  const span = sizeMs * WINDOWS_PER_CHUNK;
  return startMs - (startMs % span);
}

/** The stats of window `slot` of metric `k`, or null when the chunk has none. */
export function chunkWindow(
  chunk: RollupChunk,
  k: number,
  slot: number,
): { count: number; sum: number; min: number; max: number } | null {
  const at = (k * WINDOWS_PER_CHUNK + slot) * STATS;
  const count = chunk.values[at];
  if (!(count > 0)) return null;
  return { count, sum: chunk.values[at + 1], min: chunk.values[at + 2], max: chunk.values[at + 3] };
}

/** Sets a window's stats, adding the metric to the chunk if it is new. */
export function setChunkWindow(
  chunk: RollupChunk,
  metric: string,
  slot: number,
  count: number,
  sum: number,
  min: number,
  max: number,
): void {
  let k = chunk.metrics.indexOf(metric);
  if (k < 0) {
    k = chunk.metrics.length;
    chunk.metrics.push(metric);
    const grown = new Float64Array((k + 1) * WINDOWS_PER_CHUNK * STATS);
    grown.set(chunk.values);
    chunk.values = grown;
  }
  const at = (k * WINDOWS_PER_CHUNK + slot) * STATS;
  chunk.values[at] = count;
  chunk.values[at + 1] = sum;
  chunk.values[at + 2] = min;
  chunk.values[at + 3] = max;
}
