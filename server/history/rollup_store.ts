import { chunkStart, chunkWindow, WINDOWS_PER_CHUNK } from "./rollup_chunks.ts";
import type { RollupChunk } from "./rollup_chunks.ts";
import type { RollupPoint, RollupRows } from "./rollup_rows.ts";
import { KEYS } from "../store/keys.ts";

const ROLLUP = KEYS.rollup;
/**
 * One atomic commit holds fragments up to about this many bytes and
 * mutations (Deno KV caps a commit at 800 KiB and 1,000 mutations); commits
 * are awaited one by one, so the log's appends get their turn between them.
 */
const BYTES_PER_COMMIT = 600 * 1024;
const MUTATIONS_PER_COMMIT = 500;
/** A fragment's windows are split past this many bytes (Deno KV values are capped at 64 KiB). */
const FRAGMENT_BYTES = 56 * 1024;
/** Numbers per window in a fragment: metric, start, count, sum, min, max. */
const W = 6;
/** Fragments one flush may write for one sensor, size and chunk span (a part's sub-parts). */
const SUB_PARTS = 64;

/** A stored chunk of the older layout: 30 windows per metric, dense. */
interface StoredChunk {
  m: string[];
  v: Float64Array;
}

/** A stored fragment: some windows of one sensor and size within one chunk span. */
interface StoredFragment {
  m: string[];
  /** `[metric index, start, count, sum, min, max]` per window. */
  w: Float64Array;
}

/**
 * Rollups in Deno KV. Each flush writes, per sensor and size, the windows
 * it has as fragments under `["rollup", sizeMs, sensorId, chunkStartMs,
 * part]` (part: the flush's number, so a fragment never overwrites another),
 * each expiring after its size's retention (counted from the write). A read
 * lists the fragments of the chunk spans it covers and merges them; a window
 * written twice (a replay after a crash) is the same window. Chunks of the
 * older layout (`["rollup", sizeMs, sensorId, chunkStartMs]`, 30 windows
 * each) are read as well.
 */
export class RollupStore {
  readonly #kv: Deno.Kv;
  readonly #retentionMs: ReadonlyMap<number, number>;
  /** Fragments written since start. */
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

  /**
   * Writes `rows` as fragments numbered `part`, in short commits; once
   * `signal` aborts, stops before the next commit (rejecting with its reason).
   */
  async write(rows: RollupRows, options: { part: number; signal?: AbortSignal }): Promise<void> {
    let op = this.#kv.atomic();
    let bytes = 0, mutations = 0;
    const commit = async () => {
      if (mutations === 0) return;
      options.signal?.throwIfAborted();
      if (!(await op.commit()).ok) throw new Error("Cannot write rollups: a commit was refused");
      this.written += mutations;
      op = this.#kv.atomic();
      bytes = mutations = 0;
    };
    for (const { sizeMs, sensorId, rows: windows } of rows.bySensor()) {
      const expireIn = this.#retentionMs.get(sizeMs);
      if (expireIn === undefined) continue;
      // The sensor's windows by chunk span: metric names, then six numbers a window.
      const spans = new Map<number, { m: string[]; w: number[] }>();
      windows.forEach((metric, f, at) => {
        const span = chunkStart(f[at], sizeMs);
        let fragment = spans.get(span);
        if (!fragment) spans.set(span, fragment = { m: [], w: [] });
        let k = fragment.m.indexOf(metric);
        if (k < 0) k = fragment.m.push(metric) - 1;
        fragment.w.push(k, f[at], f[at + 1], f[at + 2], f[at + 3], f[at + 4]);
      });
      for (const [span, { m, w }] of spans) {
        const per = Math.floor(FRAGMENT_BYTES / (W * 8)) * W;
        for (let from = 0, sub = 0; from < w.length; from += per, sub++) {
          const value: StoredFragment = { m, w: Float64Array.from(w.slice(from, from + per)) };
          const size = value.w.byteLength + 256 * m.length + 600;
          if (
            mutations > 0 && (bytes + size > BYTES_PER_COMMIT || mutations >= MUTATIONS_PER_COMMIT)
          ) {
            await commit();
          }
          op.set([ROLLUP, sizeMs, sensorId, span, options.part * SUB_PARTS + sub], value, {
            expireIn,
          });
          bytes += size;
          mutations++;
        }
      }
    }
    await commit();
  }

  /**
   * One metric's windows of one size with starts in [fromMs, toMs), oldest
   * first, reading the fragments of at most `maxChunks` chunk spans
   * (`bounded` when more exist).
   */
  async read(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
    maxChunks: number,
  ): Promise<{ points: RollupPoint[]; bounded: boolean }> {
    const byStart = new Map<number, RollupPoint>();
    const spans = new Set<number>();
    const iter = this.#kv.list<StoredChunk | StoredFragment>(
      {
        start: [ROLLUP, sizeMs, sensorId, chunkStart(fromMs, sizeMs)],
        end: [ROLLUP, sizeMs, sensorId, toMs],
      },
      { batchSize: 200 },
    );
    let bounded = false;
    for await (const entry of iter) {
      const span = entry.key[3] as number;
      if (!spans.has(span)) {
        if (spans.size === maxChunks) {
          bounded = true;
          break;
        }
        spans.add(span);
      }
      const value = entry.value;
      const k = value.m.indexOf(metric);
      if (k < 0) continue;
      if ("w" in value) {
        const w = value.w;
        for (let at = 0; at < w.length; at += W) {
          const t = w[at + 1];
          if (w[at] !== k || t < fromMs || t >= toMs) continue;
          byStart.set(t, { t, count: w[at + 2], sum: w[at + 3], min: w[at + 4], max: w[at + 5] });
        }
        continue;
      }
      const chunk: RollupChunk = {
        sizeMs,
        sensorId,
        startMs: span,
        metrics: value.m,
        values: value.v,
      };
      for (let slot = 0; slot < WINDOWS_PER_CHUNK; slot++) {
        const t = span + slot * sizeMs;
        if (t < fromMs || t >= toMs) continue;
        const w = chunkWindow(chunk, k, slot);
        if (w && !byStart.has(t)) byStart.set(t, { t, ...w });
      }
    }
    return { points: [...byStart.values()].sort((a, b) => a.t - b.t), bounded };
  }
}
