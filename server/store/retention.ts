import { KEYS } from "./keys.ts";

const LOG = KEYS.log;
const MARK = KEYS.logMark;
/** Deletes per atomic commit (commits are capped at 1,000 mutations). */
const DELETES_PER_COMMIT = 500;

/** A log position at a wall time. */
export interface LogMark {
  cursor: string;
  /** Chunks the log had committed when the mark was made; null if unknown. */
  committedChunks: number | null;
}

export interface RetentionOptions {
  /** How long raw log chunks are kept. Default 24 h. */
  retentionMs: number;
  /** Most chunks deleted by one `compact`, so a pass never stalls the store. Default 20,000. */
  maxDeletesPerPass?: number;
}

/**
 * Keeps the Deno KV log to its retention and maps wall time to log
 * positions. `mark` records, under `["log_mark", timeMs]`, a cursor already
 * read at `timeMs`: every chunk up to it was committed before `timeMs`, and
 * every chunk committed after `timeMs` lies after it. `compact` deletes the chunks up to the
 * newest mark older than the retention (never past `safeCursor`: the last
 * checkpoint's least cursor, or a replay's under way, so a replay always
 * finds its log) and the marks before it.
 */
export class LogRetention {
  readonly #kv: Deno.Kv;
  readonly #retentionMs: number;
  readonly #maxDeletes: number;
  /** Chunks deleted since start. */
  deleted = 0;

  constructor(kv: Deno.Kv, options: RetentionOptions) {
    if (!(options.retentionMs > 0)) {
      throw new RangeError(`The log retention must be > 0 ms, got ${options.retentionMs}`);
    }
    this.#kv = kv;
    this.#retentionMs = options.retentionMs;
    this.#maxDeletes = options.maxDeletesPerPass ?? 20_000;
  }

  /**
   * Records that every chunk up to `cursor` was committed by `timeMs`, and
   * how many chunks the log had committed then (`KvLog.committedChunks`), so
   * that a reader can tell how many chunks lie after a mark before listing them.
   */
  async mark(timeMs: number, cursor: string | null, committedChunks?: number): Promise<void> {
    if (cursor === null) return;
    const mark: LogMark = { cursor, committedChunks: committedChunks ?? null };
    await this.#kv.set([MARK, timeMs], mark);
  }

  /** The newest mark at or before `timeMs`; null when there is none (list from the start). */
  async markAt(timeMs: number): Promise<LogMark | null> {
    for await (
      const entry of this.#kv.list<LogMark | string>(
        { prefix: [MARK], end: [MARK, timeMs + 1] },
        { reverse: true, limit: 1 },
      )
    ) {
      // Marks written before chunk counts were kept hold the cursor alone.
      const value = entry.value;
      return typeof value === "string" ? { cursor: value, committedChunks: null } : value;
    }
    return null;
  }

  /** The cursor of the newest mark at or before `timeMs`: list after it; null to list from the start. */
  async cursorAt(timeMs: number): Promise<string | null> {
    return (await this.markAt(timeMs))?.cursor ?? null;
  }

  /** Deletes what is older than the retention; returns the chunks deleted. */
  async compact(nowMs: number, safeCursor: string | null): Promise<number> {
    if (safeCursor === null) return 0;
    const cutoff = nowMs - this.#retentionMs;
    const markCursor = await this.cursorAt(cutoff);
    if (markCursor === null) return 0;
    const until = markCursor < safeCursor ? markCursor : safeCursor;
    let deleted = 0;
    let op = this.#kv.atomic();
    let pending = 0;
    const iter = this.#kv.list(
      { prefix: [LOG], end: [LOG, until + "\0"] },
      { limit: this.#maxDeletes, batchSize: DELETES_PER_COMMIT },
    );
    for await (const entry of iter) {
      op.delete(entry.key);
      if (++pending === DELETES_PER_COMMIT) {
        await op.commit();
        deleted += pending;
        op = this.#kv.atomic();
        pending = 0;
      }
    }
    if (pending > 0) {
      await op.commit();
      deleted += pending;
    }
    // Marks before the one used stay useless once their chunks are gone.
    op = this.#kv.atomic();
    pending = 0;
    for await (const entry of this.#kv.list({ prefix: [MARK], end: [MARK, cutoff] })) {
      op.delete(entry.key);
      if (++pending === DELETES_PER_COMMIT) {
        await op.commit();
        op = this.#kv.atomic();
        pending = 0;
      }
    }
    if (pending > 0) await op.commit();
    this.deleted += deleted;
    return deleted;
  }
}
