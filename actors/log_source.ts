import type { Actor } from "./runtime/mod.ts";
import type { Router } from "./router.ts";
import type { ShardMessage } from "./shard_messages.ts";
import type { KvLog } from "../log/mod.ts";

export interface LogSourceOptions {
  /** Chunks listed per read. Default 32. */
  batch?: number;
  /** Longest sleep without a wake-up before listing again. Default 1000 ms. */
  idleMs?: number;
  /** Called on errors the source survives (e.g. a read that failed). */
  onError?: (error: Error) => void;
}

/**
 * Tails the Deno KV log from its cursor and hands each chunk, split by the
 * router, to the shard actors. Sending waits while a shard's mailbox is full,
 * so the source stops reading and the durable log is the buffer. `kv.watch`
 * on the head key only wakes it; it always lists from its cursor.
 */
export class LogSource {
  readonly #log: KvLog;
  readonly #router: Router;
  readonly #shards: readonly Actor<ShardMessage>[];
  readonly #batch: number;
  readonly #idleMs: number;
  readonly #onError: (error: Error) => void;
  #cursor: string | null = null;
  #replays: number[] = [];
  #stopped = false;
  #wake: (() => void) | null = null;
  #woken = false;
  #watch: ReadableStreamDefaultReader<unknown> | null = null;
  #loop: Promise<void> | null = null;

  /** Chunks and readings handed to the shards so far. */
  chunksRead = 0;
  readingsRead = 0;
  /** True when the last listing found nothing new. */
  caughtUp = false;

  constructor(
    log: KvLog,
    router: Router,
    shards: readonly Actor<ShardMessage>[],
    options: LogSourceOptions = {},
  ) {
    this.#log = log;
    this.#router = router;
    this.#shards = shards;
    this.#batch = options.batch ?? 32;
    this.#idleMs = options.idleMs ?? 1000;
    this.#onError = options.onError ?? ((error) => console.error(error));
  }

  start(): void {
    this.#watch = this.#log.watchHead().getReader();
    void this.#pumpWakeups(this.#watch);
    this.#loop = this.#run();
  }

  /** Replays the log so far to one shard (after its restart), then goes on. */
  requestReplay(shard: number): void {
    this.#replays.push(shard);
    this.#signal();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#signal();
    await this.#watch?.cancel().catch(() => {});
    await this.#loop;
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
        const shard = this.#replays.shift();
        if (shard !== undefined) {
          await this.#replay(shard);
          continue;
        }
        const entries = await this.#log.read(this.#cursor, this.#batch);
        if (entries.length === 0) {
          this.caughtUp = true;
          await this.#sleep();
          continue;
        }
        this.caughtUp = false;
        for (const entry of entries) {
          await this.#deliver(this.#router.split(entry.block));
          this.#cursor = entry.cursor;
          this.chunksRead++;
          this.readingsRead += entry.block.length;
        }
      } catch (error) {
        if (this.#stopped) return;
        this.#onError(error instanceof Error ? error : new Error(String(error)));
        await this.#sleep();
      }
    }
  }

  async #replay(shard: number): Promise<void> {
    const until = this.#cursor;
    await this.#send(shard, { type: "replay-start" });
    let cursor: string | null = null;
    while (until !== null && !this.#stopped) {
      const entries = await this.#log.read(cursor, this.#batch);
      for (const entry of entries) {
        if (entry.cursor > until) return;
        await this.#deliver(this.#router.split(entry.block, shard));
        cursor = entry.cursor;
      }
      if (entries.length < this.#batch) return;
    }
  }

  async #deliver(parts: readonly (ShardMessage | null)[]): Promise<void> {
    for (let shard = 0; shard < parts.length; shard++) {
      const part = parts[shard];
      if (part) await this.#send(shard, part);
    }
  }

  async #send(shard: number, message: ShardMessage): Promise<void> {
    try {
      await this.#shards[shard].send(message);
    } catch (error) {
      // A shard that failed for good loses its readings; its failure is already reported.
      if (this.#shards[shard].failure === null) throw error;
    }
  }
}
