import { Chunker } from "./chunker.ts";
import { storeFailure } from "./store_failure.ts";
import type { Chunk } from "./chunker.ts";
import { decodeIngestBatch } from "../../protocol/ingest_codec.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";

import { KEYS } from "./keys.ts";

const LOG = KEYS.log;
const HEAD = [KEYS.logHead];

/**
 * One stored chunk: its versionstamp (the cursor, 20 hex digits) and its
 * readings, with the time they were accepted (`ReadingBlock.acceptedMs`)
 * when the chunk records it.
 */
export interface LogEntry {
  cursor: string;
  block: ReadingBlock;
}

export interface KvLogOptions {
  /** Encoded chunk size limit. Default 60 000 bytes (KV values max 64 KiB). */
  maxChunkBytes?: number;
  /** Readings waiting for a commit before `append` refuses more. Default 500 000. */
  maxPendingReadings?: number;
  /** The clock each chunk's acceptance time is read from (ms since the epoch). Default Date.now. */
  now?: () => number;
}

/**
 * Records that commit with an append's readings: each chunk of the append
 * carries the mutations `commitWith` gives for it, in the same atomic
 * operation, so the records are durable exactly when those readings are.
 * Such an append gets chunks of its own of at most `RECORD_CHUNK_ROWS`
 * readings, and `commitWith` may give at most one mutation per reading of
 * the chunk plus a few (Deno KV takes 1000 per atomic operation). Appends
 * with records do not share commits with other requests.
 */
export interface AppendRecords {
  /** Mutations for the chunk that makes `committed` of the block's rows durable. */
  commitWith(committed: number, last: boolean): Deno.KvMutation[];
}

/** Most readings in a chunk that carries records (one mutation each, at most). */
export const RECORD_CHUNK_ROWS = 900;

/**
 * An append fenced by a claim record (an idempotent batch): every chunk of
 * it commits only while `key` still has `versionstamp`, and carries the
 * mutations `commitWith` gives for it, in the same atomic operation. So the
 * claim's progress (and, with the last chunk, its answer) is durable exactly
 * when the readings are: a crash can never leave one without the other.
 */
export interface FencedAppend extends AppendRecords {
  /** The claim record; each chunk's commit must rewrite it (its versionstamp moves on). */
  key: Deno.KvKey;
  /** The claim's versionstamp when the append starts. */
  versionstamp: string;
}

/** The claim a fenced append checks was changed by someone else: nothing more was committed. */
export class FenceLost extends Error {
  override name = "FenceLost";
}

interface PendingAppend {
  block: ReadingBlock;
  fence?: FencedAppend;
  records?: AppendRecords;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The append-only event log in Deno KV. Readings are packed into chunks
 * stored under versionstamped keys, so their order is the commit order.
 * Concurrent appends share commits (group commit); `append` resolves only
 * once every chunk holding its readings is durable. A head key changes with
 * each commit so readers can `watch` it as a wake-up. Each chunk records
 * when it was written (`accepted_ms`, this server's clock, after ingest
 * checked the readings): the shards' watermark does not move past it, so
 * readings stamped ahead of the clock cannot make others late.
 */
export class KvLog {
  readonly #kv: Deno.Kv;
  readonly #maxChunkBytes: number;
  readonly #maxPending: number;
  readonly #now: () => number;
  #queue: PendingAppend[] = [];
  #pendingReadings = 0;
  #writing = false;
  readonly #listeners = new Set<(entry: LogEntry) => void>();

  constructor(kv: Deno.Kv, options: KvLogOptions = {}) {
    this.#kv = kv;
    this.#maxChunkBytes = options.maxChunkBytes ?? 60_000;
    this.#maxPending = options.maxPendingReadings ?? 500_000;
    this.#now = options.now ?? Date.now;
  }

  /** Readings committed by this process since it started. */
  readingsCommitted = 0;
  /**
   * Why the last commit failed (a full disk, say), until one succeeds again;
   * null while commits go through. /healthz shows it.
   */
  writeError: string | null = null;

  /** Readings accepted but not yet committed. */
  get pendingReadings(): number {
    return this.#pendingReadings;
  }

  /**
   * Appends readings; resolves once they are durable (with the fence's or the
   * records' mutations). Throws Deno.errors.Busy when too many readings
   * already wait, so callers can answer 503 or hold.
   */
  append(
    block: ReadingBlock,
    options: { fence?: FencedAppend; records?: AppendRecords } = {},
  ): Promise<void> {
    const { fence, records } = options;
    if (fence && records) {
      return Promise.reject(new TypeError("Cannot append: give a fence or records, not both"));
    }
    if (block.length === 0 && !fence) return Promise.resolve();
    if (this.#pendingReadings + block.length > this.#maxPending && this.#pendingReadings > 0) {
      return Promise.reject(
        new Deno.errors.Busy("Cannot append: the log writer is saturated, retry shortly"),
      );
    }
    this.#pendingReadings += block.length;
    const done = new Promise<void>((resolve, reject) =>
      this.#queue.push({ block, fence, records, resolve, reject })
    );
    if (!this.#writing) void this.#writeAll();
    return done;
  }

  /** Lists up to `limit` chunks after `cursor` (from the start when null). */
  async read(cursor: string | null, limit = 64): Promise<LogEntry[]> {
    const entries: LogEntry[] = [];
    for await (const entry of this.entries(cursor, { limit, batchSize: limit })) {
      entries.push(entry);
    }
    return entries;
  }

  /**
   * The chunks after `cursor` (from the start when null), in log order, read
   * `batchSize` at a time and decoded one by one as the caller takes them.
   */
  async *entries(
    cursor: string | null,
    options: { limit?: number; batchSize?: number } = {},
  ): AsyncGenerator<LogEntry> {
    const selector: Deno.KvListSelector = cursor
      ? { prefix: [LOG], start: [LOG, cursor + "\0"] }
      : { prefix: [LOG] };
    const list = this.#kv.list<Uint8Array>(selector, {
      limit: options.limit,
      batchSize: options.batchSize ?? 64,
    });
    for await (const entry of list) {
      const { block, acceptedMs } = decodeIngestBatch(entry.value);
      yield {
        cursor: entry.key[1] as string,
        block: acceptedMs === null ? block : { ...block, acceptedMs },
      };
    }
  }

  /**
   * Calls `listener` with each chunk this log commits, in commit order, so a
   * reader in the same process can skip listing and decoding it. Returns a
   * function that unsubscribes.
   */
  onCommit(listener: (entry: LogEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Chunks committed since the log was created (compaction does not lower it). */
  async committedChunks(): Promise<number> {
    const head = await this.#kv.get<Deno.KvU64>(HEAD);
    return head.value === null ? 0 : Number(head.value.value);
  }

  /** A stream that yields whenever a commit moved the head. */
  watchHead(): ReadableStream<unknown> {
    return this.#kv.watch([HEAD]);
  }

  async #writeAll(): Promise<void> {
    this.#writing = true;
    // No await lies between the last empty-queue check and clearing the flag,
    // so an append never finds it set with no loop left to pick its readings up.
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        await this.#write(batch);
      }
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Commits one group of appends: plain ones share chunks, fenced ones and
   * ones with records get their own.
   */
  async #write(group: PendingAppend[]): Promise<void> {
    const plain = group.filter((request) => !request.fence && !request.records);
    if (plain.length > 0) await this.#writePlain(plain);
    for (const request of group) {
      if (request.fence || request.records) await this.#writeWithRecords(request);
    }
  }

  /**
   * Commits an append with records (fenced or not) in chunks of its own, so
   * a lost fence fails it alone. Each chunk carries its records; a fenced
   * one also checks the claim and rewrites it with the progress.
   */
  async #writeWithRecords(request: PendingAppend): Promise<void> {
    const fence = request.fence;
    const records = (fence ?? request.records)!;
    try {
      const chunker = new Chunker({
        maxBytes: this.#maxChunkBytes,
        acceptedMs: this.#now(),
        // A fence's records are one or a few per chunk; other records up to one per reading.
        maxRows: fence ? undefined : RECORD_CHUNK_ROWS,
      });
      chunker.add(request.block);
      const chunks = chunker.finishChunks();
      let versionstamp = fence?.versionstamp ?? null;
      let committed = 0;
      // A block with no readings still commits its claim (the answer) once.
      for (let k = 0; k < Math.max(1, chunks.length); k++) {
        const chunk = chunks[k] as Chunk | undefined;
        const last = k >= chunks.length - 1;
        const op = this.#kv.atomic();
        if (fence) op.check({ key: fence.key, versionstamp });
        if (chunk) op.set([LOG, this.#kv.commitVersionstamp()], chunk.bytes).sum(HEAD, 1n);
        const result = await op
          .mutate(...records.commitWith(committed + (chunk?.block.length ?? 0), last))
          .commit()
          .catch((error) => {
            throw this.#failed(error);
          });
        if (!result.ok) {
          throw new FenceLost(
            "Cannot append: another request took over this batch's claim meanwhile",
          );
        }
        versionstamp = result.versionstamp;
        this.writeError = null;
        if (!chunk) break;
        committed += chunk.block.length;
        this.readingsCommitted += chunk.block.length;
        const entry = { cursor: result.versionstamp, block: chunk.block };
        for (const listener of this.#listeners) listener(entry);
      }
      this.#settle(request);
    } catch (error) {
      this.#settle(request, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Commits plain appends together, settling each once its last chunk is
   * durable. The chunks' commits are all handed to Deno KV at once: its
   * writer applies them in that order (so their versionstamps, the log's
   * order, are too) without waiting for this thread between two of them.
   */
  async #writePlain(batch: PendingAppend[]): Promise<void> {
    const chunker = new Chunker({ maxBytes: this.#maxChunkBytes, acceptedMs: this.#now() });
    // The request whose last reading is in chunk k completes when chunk k commits.
    const firstAt: number[] = [];
    const doneAt: number[] = batch.map((request) => {
      firstAt.push(chunker.pendingChunks);
      chunker.add(request.block);
      return chunker.pendingChunks - 1;
    });
    const chunks = chunker.finishChunks();
    const commits = chunks.map((chunk) =>
      this.#kv.atomic()
        .set([LOG, this.#kv.commitVersionstamp()], chunk.bytes)
        .sum(HEAD, 1n)
        .commit()
        .then((result) => {
          if (!result.ok) throw new Error("Cannot append: the log commit was refused");
          return result;
        })
    );
    // Each chunk's outcome, in commit order: the committed ones go to the readers in that order,
    // and a request is settled once its last chunk is (failed if any of its chunks failed).
    const failed: (Error | null)[] = [];
    let next = 0;
    for (const [k, commit] of commits.entries()) {
      try {
        const result = await commit;
        this.writeError = null;
        this.readingsCommitted += chunks[k].block.length;
        // The key's versionstamp is the commit's, so it is the chunk's cursor.
        const entry = { cursor: result.versionstamp, block: chunks[k].block };
        for (const listener of this.#listeners) listener(entry);
        failed.push(null);
      } catch (error) {
        failed.push(this.#failed(error));
      }
      while (next < batch.length && doneAt[next] <= k) {
        let error: Error | undefined;
        for (let j = firstAt[next]; j <= doneAt[next]; j++) error ??= failed[j] ?? undefined;
        this.#settle(batch[next++], error);
      }
    }
    // Requests with no readings in a chunk.
    while (next < batch.length) this.#settle(batch[next++]);
  }

  /** A commit's error, as the appends are settled with it; noted for /healthz. */
  #failed(error: unknown): Error {
    const failure = storeFailure(error);
    this.writeError = error instanceof Error ? error.message : String(error);
    return failure;
  }

  #settle(request: PendingAppend, error?: Error): void {
    this.#pendingReadings -= request.block.length;
    if (error) request.reject(error);
    else request.resolve();
  }
}
