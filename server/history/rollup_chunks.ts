import { WINDOW_FINAL } from "../../protocol/columns.ts";
import type { WindowStates } from "../../protocol/mod.ts";

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
 * written. A shard closes a sensor's windows in start order, so:
 * - once a sensor has a final window past a chunk, that chunk is complete
 *   (`takeDirty({ completeOnly: true })` writes it once, then it is dropped);
 * - a chunk that starts after the first window this buffer saw for the
 *   sensor holds only windows closed in this process, so it needs no merge
 *   with the store. Only the chunk of that first window (which a previous
 *   process may have written in part) is loaded and merged once.
 */
export class RollupBuffer {
  readonly #entries = new Map<string, BufferedChunk>();
  /**
   * "sizeMs|sensorId" → the first, the oldest and the newest final window start
   * seen. The oldest can precede the first: within one flush a shard hands over
   * a window it closed early (its slot was reused) before older ones.
   */
  readonly #sensors = new Map<string, { first: number; oldest: number; newest: number }>();

  get size(): number {
    return this.#entries.size;
  }

  /** Adds the final windows of the sizes in `keep`; `nowMs` dates new changes. */
  add(
    windows: WindowStates,
    sizesMs: readonly number[],
    keep: ReadonlySet<number>,
    sensorId: (index: number) => string | undefined,
    metricName: (index: number) => string | undefined,
    nowMs = 0,
  ): void {
    for (let i = 0; i < windows.length; i++) {
      if ((windows.flags[i] & WINDOW_FINAL) === 0) continue;
      const sizeMs = sizesMs[windows.size[i]];
      if (!keep.has(sizeMs)) continue;
      const id = sensorId(windows.sensor[i]);
      const metric = metricName(windows.metric[i]);
      if (id === undefined || metric === undefined) continue;
      const start = windows.startMs[i];
      // Window starts are multiples of their size; anything else is not a window.
      if (start % sizeMs !== 0) continue;
      const first = chunkStart(start, sizeMs);
      const sensorKey = `${sizeMs}|${id}`;
      let seen = this.#sensors.get(sensorKey);
      if (!seen) {
        this.#sensors.set(sensorKey, seen = { first: start, oldest: start, newest: start });
      } else if (start > seen.newest) seen.newest = start;
      else if (start < seen.oldest) seen.oldest = start;
      const key = `${sizeMs}|${first}|${id}`;
      let entry = this.#entries.get(key);
      if (!entry) {
        entry = {
          chunk: { sizeMs, sensorId: id, startMs: first, metrics: [], values: new Float64Array() },
          dirty: false,
          dirtySince: nowMs,
          loaded: first > chunkStart(seen.first, sizeMs),
          sensorKey,
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
      if (!entry.dirty) entry.dirtySince = nowMs;
      entry.dirty = true;
    }
  }

  /**
   * The chunks changed since the last call (as they are now), marked clean;
   * with `completeOnly`, only those no more windows can come to, or that
   * changed first at or before `staleBefore` (so a quiet sensor's last chunk
   * is written too).
   */
  takeDirty(options: { completeOnly?: boolean; staleBefore?: number } = {}): {
    chunk: RollupChunk;
    loaded: boolean;
    markLoaded: () => void;
    markDirty: () => void;
  }[] {
    const out = [];
    for (const entry of this.#entries.values()) {
      if (!entry.dirty) continue;
      if (
        options.completeOnly && !this.#complete(entry) &&
        !(entry.dirtySince <= (options.staleBefore ?? -Infinity))
      ) continue;
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
          if (!entry.dirty) entry.dirtySince = -Infinity;
          entry.dirty = true;
        },
      });
    }
    return out;
  }

  /**
   * One metric's buffered windows of one size with starts in [fromMs, toMs):
   * closed windows not written yet (or written and still held).
   */
  windows(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
  ): { t: number; count: number; sum: number; min: number; max: number }[] {
    const out = [];
    const seen = this.#sensors.get(`${sizeMs}|${sensorId}`);
    if (!seen) return [];
    const span = sizeMs * WINDOWS_PER_CHUNK;
    const firstChunk = Math.max(chunkStart(fromMs, sizeMs), chunkStart(seen.oldest, sizeMs));
    for (let start = firstChunk; start < toMs && start <= seen.newest; start += span) {
      const entry = this.#entries.get(`${sizeMs}|${start}|${sensorId}`);
      if (!entry) continue;
      const k = entry.chunk.metrics.indexOf(metric);
      if (k < 0) continue;
      for (let slot = 0; slot < WINDOWS_PER_CHUNK; slot++) {
        const t = start + slot * sizeMs;
        if (t < fromMs || t >= toMs) continue;
        const w = chunkWindow(entry.chunk, k, slot);
        if (w) out.push({ t, ...w });
      }
    }
    return out;
  }

  /** Merges what the store held into the buffered chunk (windows in memory win). */
  adopt(chunk: RollupChunk, stored: RollupChunk): void {
    const entry = this.#entries.get(`${chunk.sizeMs}|${chunk.startMs}|${chunk.sensorId}`);
    if (entry) mergeChunks(entry.chunk, stored);
  }

  /** Forgets complete chunks that are written. */
  evict(): number {
    let evicted = 0;
    for (const [key, entry] of this.#entries) {
      if (!entry.dirty && entry.loaded && this.#complete(entry)) {
        this.#entries.delete(key);
        evicted++;
      }
    }
    return evicted;
  }

  #complete(entry: BufferedChunk): boolean {
    const { sizeMs, startMs } = entry.chunk;
    const newest = this.#sensors.get(entry.sensorKey)?.newest ?? -Infinity;
    return newest >= startMs + sizeMs * WINDOWS_PER_CHUNK;
  }
}

interface BufferedChunk {
  chunk: RollupChunk;
  dirty: boolean;
  /** When it changed first since it was last written. */
  dirtySince: number;
  /** Holds what the store had (or the store cannot have it). */
  loaded: boolean;
  sensorKey: string;
}
