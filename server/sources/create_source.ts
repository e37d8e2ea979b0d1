import type { ShardImage, ShardSet } from "../../actors/shards/mod.ts";
import { DEFAULT_READING_LIMITS } from "../ingest/readings/mod.ts";
import type { Store } from "../store/open_store.ts";
import { Checkpointer } from "./checkpointer.ts";
import { LogSource } from "./kv/log_source.ts";
import type { Source } from "./source.ts";

/** The options (`server/config`) a source is made from. */
export interface SourceConfig {
  source: "kv" | "mongo";
  checkpointEveryMs: number;
  mongoUri: string | null;
  mongoDb: string;
  mongoCollection: string;
  maxFutureMs: number;
}

/**
 * The source the config names (`--source`), reading into `shards`. It
 * resumes from the store's checkpoint only when the shards took its state
 * (same shape); otherwise it reads from the beginning: the whole log, or a
 * scan of the collection. Both kinds get their Checkpointer the same way.
 */
export async function createSource(
  config: SourceConfig,
  deps: { store: Store<ShardImage>; shards: ShardSet },
): Promise<Source> {
  const { store, shards } = deps;
  const resume = shards.restored ? store.checkpoint : null;
  const kind = config.source === "mongo" ? "mongo" : "log";
  const checkpointer = new Checkpointer(shards, {
    store: store.checkpoints,
    everyMs: config.checkpointEveryMs,
    source: kind,
    startCursor: resume?.cursor ?? null,
    startSeq: resume?.seq,
    startShardCursors: resume?.shardCursors,
  });
  if (config.source === "kv") {
    return new LogSource(store.log, shards, {
      checkpointer,
      startCursor: resume?.cursor ?? null,
      startShardCursors: resume?.shardCursors,
    });
  }
  // Loaded only for --source mongo: the driver and bson hold tens of MB a KV server need not pay.
  const { connectMongo, cursorToken, DocumentIds, MongoSource } = await import("./mongo/mod.ts");
  const { client, hosts } = await connectMongo(config.mongoUri!);
  return new MongoSource(shards, {
    client,
    hosts,
    db: config.mongoDb,
    collection: config.mongoCollection,
    checkpointer,
    kv: store.kv,
    startToken: resume ? cursorToken(resume.cursor) : null,
    documentIds: DocumentIds.restore(resume?.sourceState),
    limits: { ...DEFAULT_READING_LIMITS, maxFutureMs: config.maxFutureMs },
  });
}
