import type { ReadingSink } from "../ingest/mod.ts";
import type { CheckpointSource } from "../store/mod.ts";
import type { KvLog } from "../store/mod.ts";
import type { CheckpointHook } from "./checkpointer.ts";
import type { SourceHealth } from "../ops/health.ts";

export type { SourceHealth };

/** One batch handed to the shards, for the hand-off histogram. */
export interface HandOffTimes {
  events: number;
  /** performance.now() when the batch's first event arrived, and when the shards had it all. */
  receivedAt: number;
  handedAt: number;
}

/**
 * The source of truth as the server sees it: where ingest writes, and what
 * reads the readings back and delivers them to the shards, with checkpoints
 * of its cursor. The Deno KV log (`kv/`) and a MongoDB change stream
 * (`mongo/`) are the two; `createSource` picks one by the config.
 */
export interface Source {
  /** What checkpoints and logs call it. */
  readonly kind: CheckpointSource;
  /** Where ingest appends accepted readings; resolves once they are durable. */
  readonly sink: ReadingSink;
  /** The raw event log when this source keeps one (raw history, retention); null otherwise. */
  readonly log: KvLog | null;
  /** Starts reading. */
  start(): void;
  /** Stops reading and saves a last checkpoint, so a restart resumes exactly here. */
  stop(): Promise<void>;
  /** Closes what the source opened (a database client), after `stop`. */
  close(): Promise<void>;
  /** Where the shards' state is read up to. */
  readonly cursor: string | null;
  /** The cursor of the last checkpoint saved (or started from). */
  readonly checkpointedCursor: string | null;
  /**
   * The least shard cursor of that checkpoint (its shards may stand at
   * different cursors): a restart replays from there, so the log may be
   * compacted to it and no further. Less while a restarted shard's replay
   * still reads after an older checkpoint's cursor.
   */
  readonly replayFrom: string | null;
  readonly caughtUp: boolean;
  /** Adds a hook that runs before each checkpoint is stored (derived data made durable). */
  beforeCheckpoint(hook: CheckpointHook): void;
  health(): SourceHealth;
  /** Tells `listener` about each batch handed to the shards, where the source measures it. */
  observeHandOffs?(listener: (handOff: HandOffTimes) => void): void;
  /** Resolves if the source fails for good (e.g. MongoDB is a standalone server). */
  readonly fatal: Promise<Error>;
  /** A line for the start-up log: where the source reads from. */
  describe(): Record<string, unknown>;
}
