import type { KvLog, LogRetention } from "../store/mod.ts";
import { logger } from "../ops/logger.ts";

/** Where the source stands in the log, as the housekeeper reads it. */
export interface LogPosition {
  readonly cursor: string | null;
  /**
   * The least shard cursor of the current checkpoint, or less while a
   * restarted shard's replay reads after an older one: compaction never goes
   * past it, so every replay can read every shard's log from its own cursor.
   */
  readonly replayFrom: string | null;
}

/**
 * Keeps the raw log: every `markEveryMs` it marks the source's position at
 * the wall time (marks map time to log positions for raw history and
 * retention), and every `compactEvery`-th time it compacts the log to its
 * retention. One pass at a time; `stop` waits for the one running.
 */
export class LogHousekeeper {
  readonly #log: KvLog;
  readonly #retention: LogRetention;
  readonly #position: LogPosition;
  readonly #markEveryMs: number;
  readonly #compactEvery: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #sinceCompaction = 0;

  constructor(
    log: KvLog,
    options: {
      retention: LogRetention;
      position: LogPosition;
      /** Default 10 s. */
      markEveryMs?: number;
      /** Marks between compactions. Default 6 (a minute). */
      compactEvery?: number;
    },
  ) {
    this.#log = log;
    this.#retention = options.retention;
    this.#position = options.position;
    this.#markEveryMs = options.markEveryMs ?? 10_000;
    this.#compactEvery = options.compactEvery ?? 6;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => this.pass(Date.now()))
        .catch((error) => logger.error("log housekeeping failed", { error }));
    }, this.#markEveryMs);
  }

  /** One pass: a mark, and a compaction when it is due. */
  async pass(nowMs: number): Promise<void> {
    await this.#retention.mark(nowMs, this.#position.cursor, await this.#log.committedChunks());
    if (++this.#sinceCompaction < this.#compactEvery) return;
    this.#sinceCompaction = 0;
    const deleted = await this.#retention.compact(nowMs, this.#position.replayFrom);
    if (deleted > 0) logger.info("log compacted", { chunksDeleted: deleted });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
