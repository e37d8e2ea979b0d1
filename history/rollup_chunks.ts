import { WINDOW_FINAL } from "../actors/event_windows.ts";
import type { WindowStates } from "../protocol/frames.ts";

/** Windows per stored chunk: 30 × 32 metrics × 4 numbers × 8 B stays under Deno KV's 64 KiB. */
export const WINDOWS_PER_CHUNK = 30;
/** Numbers per window and metric: count, sum, min, max. */
const STATS = 4;

/**
 * One sensor's rollups of one window size over `WINDOWS_PER_CHUNK`
 * consecutive windows: per metric, count/sum/min/max per window (count 0:
 * no window). Stored as one Deno KV value, so a sensor's second-by-second
 * rollups cost one write per 30 s rather than 30.
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

/** Copies every window `from` has into `into` (windows `into` has win). Returns `into`. */
export function mergeChunks(into: RollupChunk, from: RollupChunk): RollupChunk {
  from.metrics.forEach((metric, k) => {
    for (let slot = 0; slot < WINDOWS_PER_CHUNK; slot++) {
      const w = chunkWindow(from, k, slot);
      if (!w) continue;
      const mine = into.metrics.indexOf(metric);
      if (mine >= 0 && chunkWindow(into, mine, slot)) continue;
      setChunkWindow(into, metric, slot, w.count, w.sum, w.min, w.max);
    }
  });
  return into;
}

/**
 * Collects final windows of the rollup sizes into chunks until they are
 * written. Entries stay (clean) after a write while more windows of their
 * chunk may come, so a rewrite never loses the earlier ones; `loaded` says
 * whether the entry already holds what the store had.
 */
export class RollupBuffer {
  readonly #entries = new Map<string, { chunk: RollupChunk; dirty: boolean; loaded: boolean }>();
  /** Per size, the newest window start seen: chunks well behind it are complete. */
  readonly #newest = new Map<number, number>();
  readonly #graceMs: number;

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Adds the final windows of the sizes in `keep`. */
  add(
    windows: WindowStates,
    sizesMs: readonly number[],
    keep: ReadonlySet<number>,
    sensorId: (index: number) => string | undefined,
    metricName: (index: number) => string | undefined,
  ): void {
    for (let i = 0; i < windows.length; i++) {
      if ((windows.flags[i] & WINDOW_FINAL) === 0) continue;
      const sizeMs = sizesMs[windows.size[i]];
      if (!keep.has(sizeMs)) continue;
      const id = sensorId(windows.sensor[i]);
      const metric = metricName(windows.metric[i]);
      if (id === undefined || metric === undefined) continue;
      const start = windows.startMs[i];
      const first = chunkStart(start, sizeMs);
      // Window starts are multiples of their size; anything else is not a window.
      if (start % sizeMs !== 0) continue;
      const key = `${sizeMs}|${first}|${id}`;
      let entry = this.#entries.get(key);
      if (!entry) {
        entry = {
          chunk: { sizeMs, sensorId: id, startMs: first, metrics: [], values: new Float64Array() },
          dirty: false,
          loaded: false,
        };
        this.#entries.set(key, entry);
      }
      setChunkWindow(
        entry.chunk,
        metric,
        (start - first) / sizeMs,
        windows.count[i],
        windows.sum[i],
        windows.min[i],
        windows.max[i],
      );
      entry.dirty = true;
      if (start > (this.#newest.get(sizeMs) ?? -Infinity)) this.#newest.set(sizeMs, start);
    }
  }

  /** The chunks changed since the last call (as they are now), marked clean. */
  takeDirty(): {
    chunk: RollupChunk;
    loaded: boolean;
    markLoaded: () => void;
    markDirty: () => void;
  }[] {
    const out = [];
    for (const entry of this.#entries.values()) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      out.push({
        chunk: {
          ...entry.chunk,
          metrics: [...entry.chunk.metrics],
          values: entry.chunk.values.slice(),
        },
        loaded: entry.loaded,
        markLoaded: () => {
          entry.loaded = true;
        },
        // A failed write: try again at the next flush.
        markDirty: () => {
          entry.dirty = true;
        },
      });
    }
    return out;
  }

  /** Merges what the store held into the buffered chunk (windows in memory win). */
  adopt(chunk: RollupChunk, stored: RollupChunk): void {
    const entry = this.#entries.get(`${chunk.sizeMs}|${chunk.startMs}|${chunk.sensorId}`);
    if (entry) mergeChunks(entry.chunk, stored);
  }

  /** Forgets written chunks whose windows have all closed (by the newest start seen). */
  evict(): number {
    let evicted = 0;
    for (const [key, entry] of this.#entries) {
      const { sizeMs, startMs } = entry.chunk;
      const newest = this.#newest.get(sizeMs) ?? -Infinity;
      const end = startMs + sizeMs * WINDOWS_PER_CHUNK;
      if (!entry.dirty && end + this.#graceMs + sizeMs <= newest) {
        this.#entries.delete(key);
        evicted++;
      }
    }
    return evicted;
  }
}
