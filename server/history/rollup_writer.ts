import { mergeChunks, RollupBuffer } from "./rollup_chunks.ts";
import type { RollupStore } from "./rollup_store.ts";
import type { WindowStates } from "../../protocol/mod.ts";
import { logger } from "../ops/logger.ts";

/**
 * Buffers final windows into per-sensor chunks (`RollupBuffer`) and writes
 * them on `flush`: complete chunks every few seconds, and everything changed
 * before each checkpoint is saved, so every window closed before a
 * checkpoint is stored and every later one is closed again by the replay
 * after a crash. A chunk that a previous process may have written in part is
 * merged with what the store holds before it is written.
 */
export class RollupWriter {
  readonly #store: RollupStore;
  readonly #buffer: RollupBuffer;
  readonly #sizesMs: readonly number[];
  #flushing: Promise<void> = Promise.resolve();
  failed = 0;

  readonly #now: () => number;
  readonly #maxDelayMs: number;

  /** `maxDelayMs`: the longest a closed window waits to be written (default 30 s). */
  constructor(
    store: RollupStore,
    options: { sizesMs: readonly number[]; maxDelayMs?: number; now?: () => number },
  ) {
    this.#store = store;
    this.#sizesMs = options.sizesMs;
    this.#buffer = new RollupBuffer();
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** Chunks held in memory. */
  get buffered(): number {
    return this.#buffer.size;
  }

  add(
    windows: WindowStates,
    names: {
      sensorId: (index: number) => string | undefined;
      metricName: (index: number) => string | undefined;
    },
  ): void {
    this.#buffer.add(
      windows,
      this.#sizesMs,
      this.#store.sizes,
      names.sensorId,
      names.metricName,
      this.#now(),
    );
  }

  /** Closed windows still held in memory (see `RollupBuffer.windows`). */
  bufferedWindows(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
  ): { t: number; count: number; sum: number; min: number; max: number }[] {
    return this.#buffer.windows(sizeMs, sensorId, metric, fromMs, toMs);
  }

  /**
   * Writes the changed chunks (with `completeOnly`, only those no more
   * windows can come to, or that waited `maxDelayMs`); calls are serialized.
   * Rejects when a write failed (the chunks are tried again next time).
   */
  flush(options: { completeOnly?: boolean } = {}): Promise<void> {
    // What to write is taken now (the caller's moment); writing waits for earlier flushes.
    const dirty = this.#buffer.takeDirty({
      ...options,
      staleBefore: this.#now() - this.#maxDelayMs,
    });
    const run = this.#flushing.catch(() => {}).then(() => this.#write(dirty));
    this.#flushing = run;
    return run;
  }

  async #write(dirty: ReturnType<RollupBuffer["takeDirty"]>): Promise<void> {
    if (dirty.length === 0) return;
    try {
      const chunks = await Promise.all(dirty.map(async ({ chunk, loaded, markLoaded }) => {
        if (!loaded) {
          const stored = await this.#store.load(chunk);
          if (stored) {
            mergeChunks(chunk, stored);
            this.#buffer.adopt(chunk, stored);
          }
        }
        return { chunk, markLoaded };
      }));
      await this.#store.write(chunks.map((c) => c.chunk));
      for (const c of chunks) c.markLoaded();
      this.#buffer.evict();
    } catch (error) {
      for (const d of dirty) d.markDirty();
      this.failed += dirty.length;
      logger.error("cannot write rollups", { error, chunks: dirty.length });
      throw error;
    }
  }
}
