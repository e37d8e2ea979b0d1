import type { ShardImage, ShardSet } from "../../../actors/shards/mod.ts";
import type { Checkpointer, CheckpointHook } from "../checkpointer.ts";
import type { Source, SourceHealth } from "../source.ts";
import type { KvLog, LogEntry } from "../../store/mod.ts";
import { logger } from "../../ops/logger.ts";

/** Chunks kept in memory for the source before it falls back to listing. */
const RECENT_LIMIT = 64;

export interface LogSourceOptions {
  /** Chunks listed per read. Default 32. */
  batch?: number;
  /** Longest sleep without a wake-up before listing again. Default 1000 ms. */
  idleMs?: number;
  /** Called on errors the source survives (e.g. a read that failed). */
  onError?: (error: Error) => void;
  /** Takes the checkpoints (and loads the last one for a replay). */
  checkpointer: Checkpointer;
  /** Cursor of the checkpoint the shards and router were restored from. */
  startCursor?: string | null;
  /**
   * That checkpoint's per-shard cursors (absent: all at `startCursor`): the
   * source reads from the least, and a chunk goes only to the shards before it.
   */
  startShardCursors?: readonly string[] | null;
}

/**
 * Tails the Deno KV log from its cursor and delivers each chunk to the
 * shards (the ShardSet routes it). Sending waits while a shard's mailbox is full,
 * so the source stops reading and the durable log is the buffer. `kv.watch`
 * on the head key only wakes it; it always lists from its cursor. Checkpoints
 * are rounds (`Checkpointer.step`): at its batch boundaries the source lets
 * the next shard be asked at its cursor, so shards may stand at different
 * cursors; a shard ahead of the source (restored from such a checkpoint)
 * gets only the chunks after its own.
 */
export class LogSource implements Source {
  readonly kind = "log";
  /** The event log: ingest appends to it, the source reads it back. */
  readonly log: KvLog;
  /** Never resolves: reading the embedded log cannot fail for good. */
  readonly fatal: Promise<Error> = new Promise(() => {});
  readonly #shards: ShardSet;
  readonly #batch: number;
  readonly #idleMs: number;
  readonly #onError: (error: Error) => void;
  #cursor: string | null;
  /**
   * Per shard, its cursor while it is ahead of `#cursor` (restored from a
   * checkpoint whose shards stood at different cursors); null once none is.
   */
  #ahead: (string | null)[] | null = null;
  readonly #checkpointer: Checkpointer;
  #replays: number[] = [];
  /**
   * While a restarted shard's replay runs, the cursor it reads the log after
   * (null: from the start); undefined when none runs. Its checkpoint may be
   * older than the one made current meanwhile, whose cursors compaction
   * would otherwise go up to.
   */
  #replayNeeds: string | null | undefined = undefined;
  #stopped = false;
  #wake: (() => void) | null = null;
  #woken = false;
  #watch: ReadableStreamDefaultReader<unknown> | null = null;
  #loop: Promise<void> | null = null;
  /** Set by stop(): the deadline for reading what is committed before stopping. */
  #draining = 0;
  #drained = Promise.withResolvers<void>();
  // Chunks this process committed, handed over in memory (see #next).
  #recent: LogEntry[] = [];
  #recentComplete = false;
  #recentResets = 0;
  #unsubscribe: (() => void) | null = null;

  /** Chunks and readings handed to the shards so far. */
  chunksRead = 0;
  readingsRead = 0;
  /** True when the last listing found nothing new. */
  caughtUp = false;
  /** Readings read before the source first caught up (the start-up replay). */
  replayedReadings = -1;
  /** Checkpoints saved, and when the last one was (ms since epoch, 0 for none). */
  get checkpointsSaved(): number {
    return this.#checkpointer.checkpointsSaved;
  }
  get lastCheckpointAt(): number {
    return this.#checkpointer.lastCheckpointAt;
  }
  /** How long the last checkpoint took (asking shards, hook, save). */
  get lastCheckpointDurationMs(): number {
    return this.#checkpointer.lastCheckpointDurationMs;
  }
  /** The cursor the source started after (a checkpoint's), or null for the log's start. */
  readonly startCursor: string | null;

  constructor(log: KvLog, shards: ShardSet, options: LogSourceOptions) {
    this.log = log;
    this.#shards = shards;
    this.#batch = options.batch ?? 32;
    this.#idleMs = options.idleMs ?? 1000;
    this.#onError = options.onError ?? ((error) => logger.error("log source error", { error }));
    const start = options.startCursor ?? null;
    const ahead = start !== null ? options.startShardCursors ?? null : null;
    // The replay starts at the least shard cursor; the others skip what they hold.
    this.#cursor = this.startCursor = ahead?.reduce((a, b) => (b < a ? b : a), start!) ?? start;
    if (ahead?.some((c) => c !== this.#cursor)) this.#ahead = [...ahead];
    this.#checkpointer = options.checkpointer;
    // A restarted shard starts empty: it gets the last checkpoint and the log after it.
    shards.onRestart((shard) => this.requestReplay(shard));
  }

  /** Ingest writes to the log this source reads. */
  get sink(): KvLog {
    return this.log;
  }

  beforeCheckpoint(hook: CheckpointHook): void {
    this.#checkpointer.before(hook);
  }

  health(): SourceHealth {
    return {
      caughtUp: this.caughtUp,
      chunksRead: this.chunksRead,
      readingsRead: this.readingsRead,
      replayedReadings: this.replayedReadings,
      startCursor: this.startCursor,
      ...this.#checkpointer.progress(this.cursor),
      pendingReadings: this.log.pendingReadings,
      readingsCommitted: this.log.readingsCommitted,
      connected: true,
      problem: null,
      writeError: this.log.writeError,
      details: null,
      changeStream: null,
    };
  }

  describe(): Record<string, unknown> {
    return {};
  }

  /** Nothing to close: the store belongs to the server. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  start(): void {
    this.#unsubscribe = this.log.onCommit((entry) => {
      if (this.#recent.length >= RECENT_LIMIT) {
        // Too far behind: drop them and list from the store instead.
        this.#recent = [];
        this.#recentComplete = false;
        this.#recentResets++;
      }
      this.#recent.push(entry);
      this.#signal();
    });
    this.#watch = this.log.watchHead().getReader();
    void this.#pumpWakeups(this.#watch);
    this.#loop = this.#run();
  }

  /** The last chunk handed to the shards; null before the first. */
  get cursor(): string | null {
    return this.#cursor;
  }

  /** The cursor of the last checkpoint saved (or started from). */
  get checkpointedCursor(): string | null {
    return this.#checkpointer.checkpointedCursor;
  }

  /**
   * The least shard cursor of that checkpoint (a restart replays from it), or
   * the cursor a restarted shard's replay still reads after when that is less:
   * retention keeps what follows.
   */
  get replayFrom(): string | null {
    const saved = this.#checkpointer.replayFrom;
    const needs = this.#replayNeeds;
    if (needs === undefined || saved === null) return saved;
    return needs === null || needs < saved ? needs : saved;
  }

  /** True when the state has moved past the last checkpoint. */
  get checkpointBehind(): boolean {
    return this.#cursor !== this.#checkpointer.checkpointedCursor;
  }

  /** Replays the log so far to one shard (after its restart), then goes on. */
  requestReplay(shard: number): void {
    this.#replays.push(shard);
    this.#signal();
  }

  /** Stops reading and saves a last checkpoint, so a restart replays nothing. */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    // First hand the shards what is already committed (within a bound), so the
    // final checkpoint covers it and a restart replays nothing.
    this.#draining = Date.now() + (options.drainMs ?? 10_000);
    this.#signal();
    if (!this.#loop) this.#drained.resolve();
    await Promise.race([
      this.#drained.promise,
      new Promise((r) => setTimeout(r, options.drainMs ?? 10_000)),
    ]);
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#signal();
    await this.#watch?.cancel().catch(() => {});
    await this.#loop;
    if (this.#replays.length > 0) {
      // A shard restored but not replayed to the source's cursor (cut short, or its replay
      // failed) would be saved as if it stood there: the last checkpoint stays, and a
      // restart replays the log after it.
      logger.warn("no checkpoint at stop: a shard's replay is unfinished", {
        shards: [...new Set(this.#replays)],
      });
    } else {
      // Shard by shard too; every shard is at the source's cursor now (or, if the drain
      // ended before the start-up replay passed it, at its own).
      await this.#checkpointer.final(this.#cursor, (s) => this.#shardCursor(s))
        .catch((error) => this.#onError(error));
    }
    await this.#checkpointer.settled();
  }

  async #pumpWakeups(reader: ReadableStreamDefaultReader<unknown>): Promise<void> {
    try {
      while (!(await reader.read()).done) this.#signal();
    } catch {
      // The watch ends when the store closes; listing on a timer still works.
    }
  }

  #signal(): void {
    this.#woken = true;
    this.#wake?.();
  }

  async #sleep(): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#idleMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = null;
    this.#woken = false;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#replays.length > 0) {
          // Every shard waiting for its replay (a dead worker's) in one pass over the log.
          const waiting = this.#replays.splice(0);
          try {
            await this.#replay(new Set(waiting));
          } catch (error) {
            // Tried again after the pause below (the checkpoint being read may have been
            // replaced by a save meanwhile): a shard left off the list never got its log back.
            this.#replays.unshift(...waiting);
            throw error;
          }
          continue;
        }
        const entries = await this.#next();
        if (entries.length === 0) {
          this.caughtUp = true;
          if (this.#draining) {
            this.#drained.resolve();
            await this.#sleep();
            continue;
          }
          if (this.replayedReadings < 0) this.replayedReadings = this.readingsRead;
          await this.#checkpoint();
          await this.#sleep();
          continue;
        }
        this.caughtUp = false;
        if (this.#ahead) await this.#deliverBehind(entries, (s) => this.#ahead![s]);
        else {
          // The batch in one message per shard host.
          await this.#shards.deliver(entries.map((entry) => entry.block));
        }
        this.#cursor = entries[entries.length - 1].cursor;
        if (this.#ahead?.every((c) => c === null || c <= this.#cursor!)) this.#ahead = null;
        this.chunksRead += entries.length;
        for (const entry of entries) this.readingsRead += entry.block.length;
        await this.#checkpoint();
      } catch (error) {
        if (this.#stopped) return;
        this.#onError(error instanceof Error ? error : new Error(String(error)));
        await this.#sleep();
      }
    }
  }

  /**
   * The next chunks after the cursor. Chunks committed by this process arrive
   * in memory in commit order, already decoded; once a listing has caught up
   * (and the in-memory queue has not overflowed since) they are complete, so
   * the store is listed only at start, after a backlog, or for a replay.
   */
  async #next(): Promise<LogEntry[]> {
    if (!this.#recentComplete) {
      const resets = this.#recentResets;
      const listed = await this.log.read(this.#cursor, this.#batch);
      if (listed.length < this.#batch && resets === this.#recentResets) this.#recentComplete = true;
      if (listed.length > 0) return listed;
    }
    const cursor = this.#cursor;
    // Drop what a listing already returned.
    while (cursor !== null && this.#recent.length > 0 && this.#recent[0].cursor <= cursor) {
      this.#recent.shift();
    }
    return this.#recent.splice(0, this.#batch);
  }

  /** A step of the checkpoint round (see Checkpointer.step): each shard at its own cursor. */
  #checkpoint(): Promise<void> {
    return this.#checkpointer.step(this.#cursor, (s) => this.#shardCursor(s), {
      wake: () => this.#signal(),
    });
  }

  /** Where shard `shard` has read the log up to: the source's cursor, or its own if ahead. */
  #shardCursor(shard: number): string | null {
    const ahead = this.#ahead?.[shard] ?? null;
    return ahead !== null && (this.#cursor === null || ahead > this.#cursor) ? ahead : this.#cursor;
  }

  /**
   * Delivers each chunk only to the shards (of `among`, default all) whose
   * cursor (`cursorOf`; null: none) is before it, in log order: a run of
   * chunks going to the same shards goes in one delivery.
   */
  async #deliverBehind(
    entries: LogEntry[],
    cursorOf: (shard: number) => string | null,
    among: Iterable<number> = Array.from({ length: this.#shards.count }, (_, s) => s),
  ): Promise<void> {
    const shards = [...among];
    const to = (entry: LogEntry) =>
      shards.filter((s) => {
        const c = cursorOf(s);
        return c === null || c < entry.cursor;
      });
    for (let i = 0; i < entries.length;) {
      const only = to(entries[i]);
      let j = i + 1;
      while (j < entries.length && String(to(entries[j])) === String(only)) j++;
      if (only.length === this.#shards.count) {
        await this.#shards.deliver(entries.slice(i, j).map((entry) => entry.block));
      } else if (only.length > 0) {
        await this.#shards.deliver(entries.slice(i, j).map((entry) => entry.block), {
          only: new Set(only),
        });
      }
      i = j;
    }
  }

  /**
   * Restores restarted shards from the last checkpoint and replays the log
   * after it to them, each from its own cursor there, up to the source's.
   * While it runs, `replayFrom` keeps compaction off what it has not read.
   */
  async #replay(shards: Set<number>): Promise<void> {
    // Held before the checkpoint is read: the one it reads is this or a later one.
    this.#replayNeeds = this.#checkpointer.replayFrom;
    try {
      await this.#replayFromCheckpoint(shards);
    } finally {
      this.#replayNeeds = undefined;
    }
  }

  /** The replay itself (see `#replay`), moving `#replayNeeds` on as it reads. */
  async #replayFromCheckpoint(shards: Set<number>): Promise<void> {
    const until = this.#cursor;
    const saved = await this.#checkpointer.saved<ShardImage>({ shards: [...shards] });
    // Per shard: where its restored state stands (null: restored empty, from the log's start).
    const from = new Map<number, string | null>();
    for (const shard of shards) {
      const used = await this.#shards.restore(shard, saved);
      from.set(shard, used && saved ? saved.shardCursors?.[shard] ?? saved.cursor : null);
    }
    let cursor: string | null = null;
    if (![...from.values()].includes(null)) {
      cursor = [...from.values()].reduce((a, b) => (b! < a! ? b : a))!;
    }
    this.#replayNeeds = cursor;
    let done = until === null;
    while (until !== null && !this.#stopped) {
      const listed = await this.log.read(cursor, this.#batch);
      const entries = listed.filter((entry) => entry.cursor <= until);
      if (entries.length > 0) {
        await this.#deliverBehind(entries, (s) => from.get(s)!, shards);
        cursor = this.#replayNeeds = entries[entries.length - 1].cursor;
      }
      if (entries.length < this.#batch) {
        done = true;
        break;
      }
    }
    if (!done) {
      // Cut short by a stop: they hold the log only part of the way to `until`, so they
      // stay listed and the stop saves no checkpoint (it would put them at its cursor).
      this.#replays.unshift(...shards);
      return;
    }
    // A shard whose saved cursor is past the source's (a start-up replay under way) stays ahead.
    for (const [shard, at] of from) {
      const ahead = at !== null && until !== null && at > until ? at : null;
      if (ahead === null && !this.#ahead) continue;
      this.#ahead ??= new Array(this.#shards.count).fill(null);
      this.#ahead[shard] = ahead;
    }
    this.#shards.replayed(shards);
  }
}
