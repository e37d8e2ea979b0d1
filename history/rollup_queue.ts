import type { RollupRecord, RollupStore } from "./rollup_store.ts";
import { logger } from "../logging/mod.ts";

/**
 * Hands rollups to the store off the hub's path: `offer` never waits, one
 * loop writes whatever is pending. Bounded: above `maxPending` records new
 * ones are dropped and counted (rollups can be rebuilt from the raw log; the
 * hub must never stall on storage).
 */
export class RollupQueue {
  readonly #store: RollupStore;
  readonly #maxPending: number;
  #pending: RollupRecord[] = [];
  #writing: Promise<void> | null = null;
  dropped = 0;
  failed = 0;

  constructor(store: RollupStore, options: { maxPending?: number } = {}) {
    this.#store = store;
    this.#maxPending = options.maxPending ?? 200_000;
  }

  get pending(): number {
    return this.#pending.length;
  }

  offer(records: readonly RollupRecord[]): void {
    if (records.length === 0) return;
    const room = this.#maxPending - this.#pending.length;
    if (room < records.length) this.dropped += records.length - Math.max(0, room);
    for (let i = 0; i < Math.min(room, records.length); i++) this.#pending.push(records[i]);
    this.#writing ??= this.#writeAll();
  }

  /** Resolves once everything offered so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #writeAll(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        try {
          await this.#store.write(batch);
        } catch (error) {
          this.failed += batch.length;
          logger.error("cannot write rollups", { error, records: batch.length });
        }
      }
    } finally {
      this.#writing = null;
    }
  }
}
