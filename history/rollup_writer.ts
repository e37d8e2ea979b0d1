import { mergeChunks, RollupBuffer } from "./rollup_chunks.ts";
import type { RollupStore } from "./rollup_store.ts";
import type { WindowStates } from "../protocol/frames.ts";
import { logger } from "../logging/mod.ts";

/**
 * Buffers final windows into per-sensor chunks (`RollupBuffer`) and writes
 * the changed chunks on `flush`: every few seconds, and before each
 * checkpoint is saved, so every window closed before a checkpoint is stored
 * and every later one is closed again by the replay after a crash. A chunk
 * written for the first time is merged with what the store holds, so a
 * chunk split across a restart keeps all its windows.
 */
export class RollupWriter {
  readonly #store: RollupStore;
  readonly #buffer: RollupBuffer;
  readonly #sizesMs: readonly number[];
  #flushing: Promise<void> = Promise.resolve();
  failed = 0;

  constructor(store: RollupStore, options: { sizesMs: readonly number[]; graceMs: number }) {
    this.#store = store;
    this.#sizesMs = options.sizesMs;
    this.#buffer = new RollupBuffer(options.graceMs);
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
    this.#buffer.add(windows, this.#sizesMs, this.#store.sizes, names.sensorId, names.metricName);
  }

  /** Writes every changed chunk; calls are serialized. Rejects when a write failed. */
  flush(): Promise<void> {
    const run = this.#flushing.catch(() => {}).then(() => this.#flushOnce());
    this.#flushing = run;
    return run;
  }

  async #flushOnce(): Promise<void> {
    const dirty = this.#buffer.takeDirty();
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
