import type { Hub } from "../../actors/hub/mod.ts";
import type { ShardSet } from "../../actors/shards/mod.ts";
import type { Source } from "../sources/mod.ts";
import { LogRetention } from "../store/mod.ts";
import { heldWindowsReader } from "./held_windows.ts";
import { HistoryService } from "./history_service.ts";
import type { HistoryAnswer } from "./history_service.ts";
import type { HistoryRequest } from "./history_query.ts";
import { LogHousekeeper } from "./log_housekeeper.ts";
import { RollupStore } from "./rollup_store.ts";
import { RollupWriter } from "./rollup_writer.ts";

/** The name the rollups not yet written go under in a checkpoint. */
export const ROLLUPS_PART = "rollups";

/** The options (`server/config`) history is made from. */
export interface HistoryConfig {
  windowSizesMs: number[];
  /** Window size → how long its rollups are kept. */
  rollups: [sizeMs: number, retentionMs: number][];
  rollupFlushMs: number;
  /** How long raw log chunks are kept. */
  retentionMs: number;
}

/**
 * The history stage: the hub's final windows become rollups (written every
 * `--rollup-flush`, and before a checkpoint is made current; those not
 * written at a stop are saved with its checkpoint), the raw log is marked and compacted to
 * its retention, and queries are served from the rollups, the raw log, and
 * the windows the shards still hold.
 */
export class History {
  readonly #store: RollupStore;
  readonly #writer: RollupWriter;
  readonly #retention: LogRetention;
  readonly #service: HistoryService;
  readonly #housekeeper: LogHousekeeper | null;
  readonly #flusher: ReturnType<typeof setInterval>;

  constructor(
    kv: Deno.Kv,
    deps: {
      source: Source;
      shards: ShardSet;
      hub: Pick<Hub, "observeWindows" | "barrier">;
      config: HistoryConfig;
      /** The rollups the checkpoint the shards resumed from had not written yet. */
      resumed?: Uint8Array | null;
    },
  ) {
    const { source, shards, hub, config } = deps;
    const rollupSizes = new Map(config.rollups);
    this.#store = new RollupStore(kv, rollupSizes);
    this.#writer = new RollupWriter(this.#store, { sizesMs: config.windowSizesMs });
    if (deps.resumed) this.#writer.restore(deps.resumed);
    hub.observeWindows((windows, names) => this.#writer.add(windows, names));
    // Every window closed up to a checkpoint is durable by the time it is current: once the
    // hub has merged the shards' last flushes, a flush writes them while its pieces are
    // written (copying them into it as well was ~20-30 MB more to hold and to write at
    // 100,000 sensors); after a stop (the final checkpoint) they go with it.
    source.beforeCheckpoint(async () => {
      await hub.barrier();
      if (this.#writer.stopped) {
        return { durable: Promise.resolve(), parts: { [ROLLUPS_PART]: this.#writer.snapshot() } };
      }
      return { durable: this.#writer.written() };
    });
    this.#flusher = setInterval(() => this.#writer.flush().catch(() => {}), config.rollupFlushMs);
    this.#retention = new LogRetention(kv, { retentionMs: config.retentionMs });
    const log = source.log;
    this.#housekeeper = log
      ? new LogHousekeeper(log, { retention: this.#retention, position: source })
      : null; // no raw log to keep in mongo mode
    this.#housekeeper?.start();
    const retention = this.#retention;
    this.#service = new HistoryService(this.#store, {
      log: log ?? undefined,
      rollupSizes,
      cursorAt: (timeMs) => retention.cursorAt(timeMs),
      chunksAfter: log
        ? async (timeMs) => {
          const mark = await retention.markAt(timeMs);
          const head = await log.committedChunks();
          if (mark === null) return head;
          return mark.committedChunks === null ? null : head - mark.committedChunks;
        }
        : undefined,
      // Without a raw log (mongo mode) history comes from rollups only.
      rawRetentionMs: log ? config.retentionMs : 0,
      buffered: (sizeMs, sensorId, metric, fromMs, toMs) =>
        this.#writer.bufferedWindows(sizeMs, sensorId, metric, fromMs, toMs),
      // The newest grace period is in no rollup yet: the shards' open windows serve it.
      held: heldWindowsReader({
        shards,
        sizesMs: config.windowSizesMs,
        barrier: () => hub.barrier(2_000),
      }),
    });
  }

  query(request: HistoryRequest): Promise<HistoryAnswer> {
    return this.#service.query(request, Date.now());
  }

  /** For /healthz and /metrics. */
  stats() {
    return {
      rollupChunksWritten: this.#store.written,
      rollupChunksBuffered: this.#writer.buffered,
      rollupChunksFailed: this.#writer.failed,
      logChunksDeleted: this.#retention.deleted,
    };
  }

  /**
   * Stops the timers and waits for the housekeeping pass and the rollup
   * write running. What is not written is in the final checkpoint.
   */
  async stop(): Promise<void> {
    clearInterval(this.#flusher);
    await this.#housekeeper?.stop();
    // The final checkpoint (taken after) holds every row not written yet: a write running
    // now stops at its next commit, and the stop does not wait for it.
    await this.#writer.stop();
  }
}
