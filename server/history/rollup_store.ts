import { chunkStart, chunkWindow, WINDOWS_PER_CHUNK } from "./rollup_chunks.ts";
import type { RollupChunk } from "./rollup_chunks.ts";

import { KEYS } from "../store/keys.ts";

const ROLLUP = KEYS.rollup;
/**
 * One atomic commit holds chunks up to about this many bytes (Deno KV caps a
 * commit at 800 KiB and 1,000 mutations): fewer, larger commits keep a
 * checkpoint's flush of every sensor's open chunk short.
 */
const BYTES_PER_COMMIT = 600 * 1024;
const CHUNKS_PER_COMMIT = 900;

/** Stored value of a rollup key. */
interface StoredChunk {
  m: string[];
  v: Float64Array;
}

/**
 * Rollup chunks in Deno KV under `["rollup", sizeMs, sensorId, chunkStartMs]`,
 * each expiring after its size's retention (counted from the write).
 */
export class RollupStore {
  readonly #kv: Deno.Kv;
  readonly #retentionMs: ReadonlyMap<number, number>;
  /** Chunk writes since start. */
  written = 0;

  /** `retentionMs`: window size → how long its rollups are kept. */
  constructor(kv: Deno.Kv, retentionMs: ReadonlyMap<number, number>) {
    this.#kv = kv;
    this.#retentionMs = retentionMs;
  }

  /** Sizes kept as rollups. */
  get sizes(): ReadonlySet<number> {
    return new Set(this.#retentionMs.keys());
  }

  /** The stored chunk with the same key, or null. */
  async load(chunk: RollupChunk): Promise<RollupChunk | null> {
    const { value } = await this.#kv.get<StoredChunk>(key(chunk));
    return value ? { ...chunk, metrics: value.m, values: value.v } : null;
  }

  async write(chunks: readonly RollupChunk[]): Promise<void> {
    let first = 0;
    while (first < chunks.length) {
      const op = this.#kv.atomic();
      let bytes = 0;
      let end = first;
      while (end < chunks.length && end - first < CHUNKS_PER_COMMIT) {
        const chunk = chunks[end];
        // The values dominate; names (≤ 64 characters) and the key (id ≤ 128) are bounded.
        const size = chunk.values.byteLength + 256 * chunk.metrics.length + 600;
        if (end > first && bytes + size > BYTES_PER_COMMIT) break;
        const value: StoredChunk = { m: chunk.metrics, v: chunk.values };
        op.set(key(chunk), value, { expireIn: this.#retentionMs.get(chunk.sizeMs) });
        bytes += size;
        end++;
      }
      if (!(await op.commit()).ok) throw new Error("Cannot write rollups: a commit was refused");
      this.written += end - first;
      first = end;
    }
  }

  /**
   * One metric's windows of one size with starts in [fromMs, toMs), oldest
   * first, reading at most `maxChunks` chunks (`bounded` when more exist).
   */
  async read(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
    maxChunks: number,
  ): Promise<{
    points: { t: number; count: number; sum: number; min: number; max: number }[];
    bounded: boolean;
  }> {
    const points = [];
    let seen = 0;
    const iter = this.#kv.list<StoredChunk>(
      {
        start: [ROLLUP, sizeMs, sensorId, chunkStart(fromMs, sizeMs)],
        end: [ROLLUP, sizeMs, sensorId, toMs],
      },
      { limit: maxChunks + 1, batchSize: Math.min(maxChunks + 1, 100) },
    );
    for await (const entry of iter) {
      if (++seen > maxChunks) return { points, bounded: true };
      const chunk: RollupChunk = {
        sizeMs,
        sensorId,
        startMs: entry.key[3] as number,
        metrics: entry.value.m,
        values: entry.value.v,
      };
      const k = chunk.metrics.indexOf(metric);
      if (k < 0) continue;
      for (let slot = 0; slot < WINDOWS_PER_CHUNK; slot++) {
        const t = chunk.startMs + slot * sizeMs;
        if (t < fromMs || t >= toMs) continue;
        const w = chunkWindow(chunk, k, slot);
        if (w) points.push({ t, ...w });
      }
    }
    return { points, bounded: false };
  }
}

function key(chunk: RollupChunk): Deno.KvKey {
  return [ROLLUP, chunk.sizeMs, chunk.sensorId, chunk.startMs];
}
