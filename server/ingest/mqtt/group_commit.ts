import { setImmediate } from "node:timers";
import { ReadingBlockBuilder } from "../readings/mod.ts";
import type { ReadingBlock } from "../readings/mod.ts";
import type { AppendRecords } from "../../store/mod.ts";

/**
 * Where MQTT readings go: the log's append, which resolves once the block
 * and its records are durable (`KvLog`), and throws `Deno.errors.Busy` while
 * its writer is saturated.
 */
export interface RecordingSink {
  append(block: ReadingBlock, options?: { records?: AppendRecords }): Promise<void>;
}

interface Sealed {
  /** Rows of the batch up to this one are this publish's and the ones before. */
  end: number;
  record: Deno.KvMutation | null;
  done: (error: Error | null) => void;
}

export interface GroupCommitOptions {
  /** Readings one batch may gather before new publishes wait for the next one. Default 50,000. */
  maxBatchReadings?: number;
  /** Wait before trying again while the log is busy. Default 20 ms. */
  busyRetryMs?: number;
  /**
   * Longest a publish waits for others to join its batch (unless the batch
   * holds `fullBatch` readings, or no publish came for `quietMs`). Each
   * append has a cost of its own (a Deno KV commit, a chunk through the
   * router and the shards), so under load a few ms more before the PUBACK
   * buys several times the throughput. Default 25 ms.
   */
  lingerMs?: number;
  /** A batch goes once no publish joined it for this long: nothing more is coming. Default 2 ms. */
  quietMs?: number;
  /** A batch this large goes without lingering. Default 2,000. */
  fullBatch?: number;
}

/**
 * Gathers the readings of many publishes (of any connection) into one block
 * and appends it with one call, so they share the log's commits; at most one
 * append is in flight, and what arrives meanwhile forms the next batch. Each
 * publish's record (its retry record) rides with the chunk that holds its
 * last reading. A busy log is waited out, never refused: publishes are held,
 * and a held publish stops its connection from being read (backpressure).
 */
export class GroupCommit {
  readonly #sink: RecordingSink;
  readonly #maxBatch: number;
  readonly #busyRetryMs: number;
  readonly #lingerMs: number;
  readonly #quietMs: number;
  readonly #fullBatch: number;
  /** When the first and the latest publish of the batch being gathered were sealed. */
  #firstAt = 0;
  #lastAt = 0;
  #builder = new ReadingBlockBuilder({ capacity: 1024 });
  #sealed: Sealed[] = [];
  #marked = 0;
  #waiting: (() => void)[] = [];
  #writing = false;
  #scheduled = false;
  #idle: (() => void)[] = [];
  #inFlight = 0;

  /** Appends made, readings they held, and the largest one. */
  commits = 0;
  readingsCommitted = 0;
  largestBatch = 0;
  /** Times the log was busy and a batch waited. */
  busyWaits = 0;

  constructor(sink: RecordingSink, options: GroupCommitOptions = {}) {
    this.#sink = sink;
    this.#maxBatch = options.maxBatchReadings ?? 50_000;
    this.#busyRetryMs = options.busyRetryMs ?? 20;
    this.#lingerMs = options.lingerMs ?? 25;
    this.#quietMs = options.quietMs ?? 2;
    this.#fullBatch = options.fullBatch ?? 2_000;
  }

  /** Readings gathered or being appended, not yet durable. */
  get pendingReadings(): number {
    return this.#builder.length + this.#inFlight;
  }

  /**
   * Runs `add` once the batch being gathered has room: `add` appends one
   * publish's readings to the builder it is given and then calls `seal`,
   * without awaiting anything in between.
   */
  whenRoom(add: (builder: ReadingBlockBuilder) => void): void {
    if (this.#builder.length < this.#maxBatch && this.#waiting.length === 0) add(this.#builder);
    else this.#waiting.push(() => add(this.#builder));
  }

  /**
   * Closes the readings added since the last seal as one publish's: `record`
   * commits with its last reading, and `done` runs once they are durable (at
   * once when it added none).
   */
  seal(record: Deno.KvMutation | null, done: (error: Error | null) => void): void {
    const end = this.#builder.length;
    if (end === this.#marked) return done(null);
    this.#lastAt = performance.now();
    if (this.#sealed.length === 0) this.#firstAt = this.#lastAt;
    this.#sealed.push({ end, record, done });
    this.#marked = end;
    if (!this.#writing && !this.#scheduled) {
      this.#scheduled = true;
      // The rest of this socket read (and others read in the same turn) joins the batch.
      setImmediate(() => {
        this.#scheduled = false;
        if (!this.#writing) void this.#run();
      });
    }
  }

  /**
   * Waits while publishes keep joining the batch being gathered, until it is
   * full or has lingered `lingerMs`. Devices that wait for their PUBACKs
   * (a closed loop) stop sending once theirs are all in: the batch goes then.
   */
  async #linger(): Promise<void> {
    for (;;) {
      const now = performance.now();
      const quiet = this.#lastAt + this.#quietMs - now;
      const left = this.#firstAt + this.#lingerMs - now;
      if (quiet <= 0 || left <= 0 || this.#builder.length >= this.#fullBatch) return;
      if (this.#waiting.length > 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(quiet, left))));
    }
  }

  /** Resolves once everything sealed so far is durable (or failed). */
  idle(): Promise<void> {
    if (!this.#writing && !this.#scheduled && this.#sealed.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #run(): Promise<void> {
    this.#writing = true;
    while (this.#sealed.length > 0) {
      await this.#linger();
      const sealed = this.#sealed;
      const block = this.#builder.build();
      this.#builder.reset();
      this.#sealed = [];
      this.#marked = 0;
      this.#inFlight = block.length;
      // Publishes that waited for room go into the fresh batch, in arrival order.
      const waiting = this.#waiting.splice(0);
      for (const add of waiting) add();
      const error = await this.#append(block, sealed);
      this.#inFlight = 0;
      this.commits++;
      if (!error) this.readingsCommitted += block.length;
      this.largestBatch = Math.max(this.largestBatch, block.length);
      for (const s of sealed) s.done(error);
    }
    this.#writing = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #append(block: ReadingBlock, sealed: Sealed[]): Promise<Error | null> {
    const anyRecord = sealed.some((s) => s.record !== null);
    for (;;) {
      try {
        await this.#sink.append(block, anyRecord ? { records: recordsOf(sealed) } : undefined);
        return null;
      } catch (error) {
        if (!(error instanceof Deno.errors.Busy)) {
          return error instanceof Error ? error : new Error(String(error));
        }
        this.busyWaits++;
        await new Promise((resolve) => setTimeout(resolve, this.#busyRetryMs));
      }
    }
  }
}

/** Each chunk carries the records of the publishes whose last reading it holds. */
function recordsOf(sealed: Sealed[]): AppendRecords {
  let next = 0;
  return {
    commitWith(committed) {
      const mutations: Deno.KvMutation[] = [];
      while (next < sealed.length && sealed[next].end <= committed) {
        const record = sealed[next++].record;
        if (record) mutations.push(record);
      }
      return mutations;
    },
  };
}
