import type { ShardSet } from "../../actors/shards/mod.ts";
import type {
  Checkpoint,
  CheckpointSource,
  CheckpointStore,
  StoredShard,
} from "../store/checkpoint_store.ts";
import { logger } from "../ops/logger.ts";

/**
 * Runs after the shards answered, while the source still waits: it captures
 * what was derived from the state so far (rollups) and returns a promise
 * that it is durable; the checkpoint's pieces are written meanwhile, and it
 * is made current only after that. A rejection of either skips this
 * checkpoint (an `Interrupted` one quietly: a stop's final checkpoint follows).
 */
export type CheckpointHook = () => Promise<{
  durable: Promise<void>;
  /** Parts saved with the checkpoint, by name (given back by the store's `load` as `extras`). */
  parts?: Record<string, Uint8Array>;
}>;

export interface CheckpointerOptions {
  /** Where checkpoints go; none are taken without it. */
  store?: CheckpointStore;
  /** Least time between checkpoints while the source moves. Default 30 000 ms. */
  everyMs?: number;
  /** See `CheckpointHook`; more can be added with `before`. */
  beforeCheckpoint?: CheckpointHook;
  /** Which source's cursor the checkpoints hold. Default "log". */
  source?: CheckpointSource;
  /** Cursor and generation of the checkpoint the state was restored from. */
  startCursor?: string | null;
  startSeq?: number;
  onError?: (error: Error) => void;
}

/**
 * Takes checkpoints for a source (the KV log's or the Mongo change stream's):
 * the shard states, the router's indexes and the source's cursor (a
 * versionstamp, or a resume token) go into one record, made current by one
 * atomic write. The source calls `take` between batches and sends nothing
 * while it waits, so every shard's answer reflects exactly the input up to
 * the cursor. Storing happens in the background, one save at a time.
 */
export class Checkpointer {
  readonly #shards: ShardSet;
  readonly #store?: CheckpointStore;
  readonly #everyMs: number;
  readonly #hooks: CheckpointHook[] = [];
  readonly #source: CheckpointSource;
  readonly #onError: (error: Error) => void;
  #checkpointedCursor: string | null;
  #checkpointedAt = Date.now();
  /**
   * The stored checkpoint the shards' state builds on (its generation): a
   * save gives only the pages changed since; -1 (the shards did not start
   * from it) for a full one.
   */
  #base: number;
  /** The checkpoint being stored, if any. */
  #saving: Promise<void> | null = null;

  /** Checkpoints saved, and when the last one was (ms since epoch, 0 for none). */
  checkpointsSaved = 0;
  lastCheckpointAt = 0;
  /** How long the last checkpoint took (asking shards, hook, save), and the bytes it wrote. */
  lastCheckpointDurationMs = 0;
  lastSaveBytes = 0;

  constructor(shards: ShardSet, options: CheckpointerOptions = {}) {
    this.#shards = shards;
    this.#store = options.store;
    this.#everyMs = options.everyMs ?? 30_000;
    if (options.beforeCheckpoint) this.#hooks.push(options.beforeCheckpoint);
    this.#source = options.source ?? "log";
    this.#checkpointedCursor = options.startCursor ?? null;
    this.#base = options.startCursor != null ? options.startSeq ?? -1 : -1;
    this.#onError = options.onError ??
      ((error) => logger.error("checkpoint failed", { error }));
  }

  /**
   * The last checkpoint stored for this source (a restarted shard's starting
   * point), or null; with `shards`, only their pages are read.
   */
  async saved<S extends StoredShard>(
    options: { shards?: readonly number[] } = {},
  ): Promise<Checkpoint<S> | null> {
    return await this.#store?.load<S>({ source: this.#source, shards: options.shards }) ?? null;
  }

  /** Adds a hook that runs before each checkpoint is stored (see `CheckpointHook`). */
  before(hook: CheckpointHook): void {
    this.#hooks.push(hook);
  }

  /** The cursor of the last checkpoint saved (or started from). */
  get checkpointedCursor(): string | null {
    return this.#checkpointedCursor;
  }

  /** What health reports of the checkpoints, for a source whose state is at `cursor`. */
  progress(cursor: string | null) {
    return {
      checkpointsSaved: this.checkpointsSaved,
      lastCheckpointAt: this.lastCheckpointAt,
      checkpointBehind: cursor !== this.#checkpointedCursor,
    };
  }

  /** True when the least time between checkpoints has passed. */
  get due(): boolean {
    return Date.now() - this.#checkpointedAt >= this.#everyMs;
  }

  /**
   * Takes the state as of `cursor` (with the source's own state, e.g. the
   * Mongo source's document ids) and stores it in the background. Skipped
   * when nothing moved, a save is running, or a shard has no state to give.
   */
  async take(
    cursor: string | null,
    sourceState?: () => unknown,
    options: { final?: boolean } = {},
  ): Promise<void> {
    const started = performance.now();
    this.#checkpointedAt = Date.now();
    if (!this.#store || cursor === null || cursor === this.#checkpointedCursor) return;
    if (this.#saving) return;
    const seq = this.#store.nextSeq();
    const base = this.#base;
    const state = await this.#shards.checkpointAll({ seq, since: base });
    // A shard that is failed or waiting for its replay has no state to save.
    if (state === null) return;
    const asked = performance.now();
    const durable: Promise<void>[] = [];
    const extras: Record<string, Uint8Array> = {};
    try {
      for (const hook of this.#hooks) {
        const { durable: promise, parts } = await hook();
        promise.catch(() => {}); // handled where all are awaited; not unhandled meanwhile
        durable.push(promise);
        Object.assign(extras, parts);
      }
    } catch (error) {
      this.#onError(error as Error);
      return;
    }
    const prepared = performance.now();
    const store = this.#store;
    const extra = sourceState?.();
    this.#saving = (async () => {
      try {
        let written = NaN;
        const derived = Promise.all(durable).then(() => void (written = performance.now()));
        derived.catch(() => {}); // observed by the save, which waits for it before the pointer moves
        // A stop's save leaves deleting the superseded pieces to the next process's first save.
        await store.save({ cursor, source: this.#source, sourceState: extra, extras, ...state }, {
          seq,
          collect: !options.final,
          after: derived,
        });
        this.#base = seq;
        this.lastSaveBytes = store.lastSaveBytes;
        this.#checkpointedCursor = cursor;
        this.checkpointsSaved++;
        this.lastCheckpointAt = Date.now();
        this.lastCheckpointDurationMs = performance.now() - started;
        logger.debug("checkpoint saved", {
          source: this.#source,
          cursor,
          pausedMs: Math.round(prepared - started),
          shardsMs: Math.round(asked - started),
          derivedMs: Math.round(written - prepared),
          saveMs: Math.round(performance.now() - prepared),
          bytes: store.lastSaveBytes,
          full: base < 0,
        });
      } catch (error) {
        if (error instanceof Deno.errors.Interrupted) {
          logger.debug("checkpoint skipped", { source: this.#source, reason: error.message });
        } else this.#onError(error as Error);
      } finally {
        this.#saving = null;
      }
    })();
  }

  /** Resolves when no save is running. */
  async settled(): Promise<void> {
    await this.#saving;
  }
}
