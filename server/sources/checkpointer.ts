import type { ShardSet } from "../../actors/shards/mod.ts";
import type {
  Checkpoint,
  CheckpointSave,
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
  /** That checkpoint's per-shard cursors, when they differ (see `Checkpoint.shardCursors`). */
  startShardCursors?: readonly string[] | null;
  onError?: (error: Error) => void;
}

/** A round under way: the shards asked so far, each at its own cursor. */
interface Round {
  seq: number;
  /** The checkpoint the shards' pages are given against (-1: all of them). */
  base: number;
  save: CheckpointSave;
  cursors: string[];
  /** The last shard's pages being written (committed and released when it resolves). */
  writing: Promise<void> | null;
  failed: Error | null;
  startedAt: number;
  /** Time the source waited: the shards' answers and the hooks. */
  pausedMs: number;
}

/** The least of a checkpoint's cursors (per shard when it has them). */
function least(cursor: string | null, shardCursors: readonly string[] | null): string | null {
  if (cursor === null || !shardCursors) return cursor;
  return shardCursors.reduce((a, b) => (b < a ? b : a), cursor);
}

/**
 * Takes checkpoints for a source (the KV log's or the Mongo change stream's):
 * the shard states, the router's indexes and the source's cursor (a
 * versionstamp, or a resume token) go into one record, made current by one
 * atomic write. The Mongo source calls `take` between batches and sends
 * nothing while it waits, so every shard's answer reflects exactly the input
 * up to the cursor. The KV log source takes a checkpoint as a round (`step`):
 * one shard at a time, each at the cursor the source stands at when it is
 * asked, its pages written and released before the next is asked, so only
 * one shard's pages are held at once (a whole fleet's were ~100 MB at
 * 100,000 sensors). Storing happens in the background, one save at a time.
 */
export class Checkpointer {
  readonly #shards: ShardSet;
  readonly #store?: CheckpointStore;
  readonly #everyMs: number;
  readonly #hooks: CheckpointHook[] = [];
  readonly #source: CheckpointSource;
  readonly #onError: (error: Error) => void;
  #checkpointedCursor: string | null;
  /** The least shard cursor of the current checkpoint: a restart replays from it. */
  #replayFrom: string | null;
  /** Each shard's cursor in the current checkpoint (null: none, or all at its cursor). */
  #shardCursors: readonly string[] | null;
  #round: Round | null = null;
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
    this.#shardCursors = options.startCursor != null ? options.startShardCursors ?? null : null;
    this.#replayFrom = least(this.#checkpointedCursor, this.#shardCursors);
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

  /**
   * The least shard cursor of the last checkpoint saved (or started from):
   * a restart replays the log from there, so retention keeps what follows.
   */
  get replayFrom(): string | null {
    return this.#replayFrom;
  }

  /** Whether a round is under way (the source then steps it at every chance, idle or not). */
  get rounding(): boolean {
    return this.#round !== null;
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
    const ran = await this.#runHooks();
    if (!ran) return;
    const { durable, extras } = ran;
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
          fresh: base < 0,
        });
        this.#base = seq;
        this.lastSaveBytes = store.lastSaveBytes;
        this.#checkpointedCursor = cursor;
        this.#shardCursors = null;
        this.#replayFrom = cursor;
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

  /**
   * One step of a round, at a batch boundary of the source (or while it is
   * idle): opens a round when one is due, and asks the next shard for its
   * image at `cursorOf(shard)` once the previous shard's pages are written.
   * The source sends nothing while this runs, so that image is exactly the
   * log up to there. After the last shard, whose cursor is the round's, the
   * hooks run and the rest is saved in the background. `wake` is called when
   * the next step can go (a shard's pages written, or the round given up):
   * an idle source need not wait for its sleep.
   */
  async step(
    cursor: string | null,
    cursorOf: (shard: number) => string | null,
    options: { wake?: () => void } = {},
  ): Promise<void> {
    const round = this.#round ?? (this.due ? this.#open(cursor, cursorOf) : null);
    if (round) await this.#advance(round, cursorOf, { wake: options.wake });
  }

  /**
   * The checkpoint at a stop (the source has stopped at `cursor`; a shard
   * still ahead of it at `cursorOf`), shard by shard as any other, for the
   * same memory. A round under way is run to its end first (its shards not
   * asked yet are asked at `cursor`); then a round at `cursor` gives the
   * pages changed since for the shards it asked before, so every shard ends
   * at its `cursorOf` (`cursor` once the source read past every shard's
   * start) and a clean stop's restart replays nothing. Resolves once
   * they are stored (or skipped).
   */
  async final(
    cursor: string | null,
    cursorOf: (shard: number) => string | null = () => cursor,
  ): Promise<void> {
    await this.settled();
    if (this.#round) await this.#toEnd(this.#round, cursorOf);
    const round = this.#open(cursor, cursorOf);
    if (round) await this.#toEnd(round, cursorOf);
  }

  /** Asks the round's shards left, one after another's pages are written, and waits for its save. */
  async #toEnd(round: Round, cursorOf: (shard: number) => string | null): Promise<void> {
    while (this.#round === round) {
      await round.writing;
      await this.#advance(round, cursorOf, { final: true });
    }
    await this.settled();
  }

  /** A new round, unless nothing moved since the last checkpoint or a save is running. */
  #open(cursor: string | null, cursorOf: (shard: number) => string | null): Round | null {
    this.#checkpointedAt = Date.now();
    if (!this.#store || cursor === null || this.#saving) return null;
    let moved = false;
    for (let shard = 0; shard < this.#shards.count && !moved; shard++) {
      moved = cursorOf(shard) !== (this.#shardCursors?.[shard] ?? this.#checkpointedCursor);
    }
    if (!moved) return null;
    const seq = this.#store.nextSeq();
    this.#round = {
      seq,
      base: this.#base,
      // Not built on the stored checkpoint (-1): its router ids are written anew too.
      save: this.#store.begin({ seq, fresh: this.#base < 0 }),
      cursors: [],
      writing: null,
      failed: null,
      startedAt: performance.now(),
      pausedMs: 0,
    };
    return this.#round;
  }

  /** Asks the round's next shard (once the last one's pages are written); after the last, closes it. */
  async #advance(
    round: Round,
    cursorOf: (shard: number) => string | null,
    options: { wake?: () => void; final?: boolean },
  ): Promise<void> {
    if (round.writing) return;
    if (round.failed) return this.#drop(round, round.failed, options);
    const shard = round.cursors.length;
    const at = cursorOf(shard);
    const asked = performance.now();
    const image = await this.#shards.checkpointShard(shard, { seq: round.seq, since: round.base });
    round.pausedMs += performance.now() - asked;
    // A shard that is failed or waiting for its replay has no state to save.
    if (image === null || at === null) return this.#drop(round, null, options);
    round.cursors.push(at);
    round.writing = round.save.shard(shard, image).then(
      () => void (round.writing = null),
      (error) => void (round.failed = error, round.writing = null),
    ).finally(() => options.wake?.());
    if (round.cursors.length === this.#shards.count) {
      // The round's cursor: the last shard's (the source only moves on), or one still ahead.
      await this.#close(round, round.cursors.reduce((a, b) => (b > a ? b : a)), options);
    }
  }

  /**
   * Runs the hooks in turn: what each made durable (awaited by the save) and
   * the parts it adds; null (reported) when one threw, so this checkpoint is skipped.
   */
  async #runHooks(): Promise<
    { durable: Promise<void>[]; extras: Record<string, Uint8Array> } | null
  > {
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
      return null;
    }
    return { durable, extras };
  }

  /** The round's last shard fixed its cursor: the hooks run, then the rest is saved in the background. */
  async #close(round: Round, cursor: string, options: { final?: boolean }): Promise<void> {
    this.#round = null;
    const hooked = performance.now();
    const ran = await this.#runHooks();
    if (!ran) return this.#drop(round, null, options);
    const { durable, extras } = ran;
    round.pausedMs += performance.now() - hooked;
    const router = this.#shards.routerState();
    const store = this.#store!;
    const prepared = performance.now();
    this.#saving = (async () => {
      try {
        await round.writing;
        if (round.failed) throw round.failed;
        const derived = Promise.all(durable);
        derived.catch(() => {}); // observed by the save, which waits for it before the pointer moves
        // A stop's save leaves deleting the superseded pieces to the next process's first save.
        await round.save.finish(
          { cursor, shardCursors: round.cursors, source: this.#source, router, extras },
          { collect: !options.final, after: derived },
        );
        this.#base = round.seq;
        this.lastSaveBytes = store.lastSaveBytes;
        this.#checkpointedCursor = cursor;
        this.#shardCursors = round.cursors;
        this.#replayFrom = least(cursor, round.cursors);
        this.checkpointsSaved++;
        this.lastCheckpointAt = Date.now();
        this.lastCheckpointDurationMs = performance.now() - round.startedAt;
        logger.debug("checkpoint saved", {
          source: this.#source,
          cursor,
          replayFrom: this.#replayFrom,
          pausedMs: Math.round(round.pausedMs),
          roundMs: Math.round(prepared - round.startedAt),
          saveMs: Math.round(performance.now() - prepared),
          bytes: store.lastSaveBytes,
          full: round.base < 0,
        });
      } catch (error) {
        await round.save.abandon({ collect: !options.final }).catch(() => {});
        if (error instanceof Deno.errors.Interrupted) {
          logger.debug("checkpoint skipped", { source: this.#source, reason: error.message });
        } else this.#onError(error as Error);
      } finally {
        this.#saving = null;
      }
    })();
  }

  /** Gives a round up: its pieces are garbage (the previous checkpoint stays current). */
  #drop(round: Round, error: Error | null, options: { wake?: () => void; final?: boolean }): void {
    if (this.#round === round) this.#round = null;
    if (error) this.#onError(error);
    else logger.debug("checkpoint round given up", { shard: round.cursors.length });
    // Counted as a save: the next round waits for its pieces to be listed (one garbage list).
    this.#saving = (async () => {
      try {
        await round.writing;
        await round.save.abandon({ collect: !options.final });
      } catch (error) {
        this.#onError(error as Error);
      } finally {
        this.#saving = null;
        options.wake?.();
      }
    })();
  }

  /** Resolves when no save is running. */
  async settled(): Promise<void> {
    await this.#saving;
  }
}
