// The store stage: Deno KV, the one place that knows its keys (keys.ts): the
// event log, checkpoints and the log's retention.
export { KEY_PREFIXES, KEYS } from "./keys.ts";
export { FenceLost, KvLog } from "./kv_log.ts";
export { RECORD_CHUNK_ROWS } from "./kv_log.ts";
export type { AppendRecords, FencedAppend, KvLogOptions, LogEntry } from "./kv_log.ts";
export { Chunker, estimateBytes, KV_VALUE_LIMIT } from "./chunker.ts";
export type { Chunk } from "./chunker.ts";
export { CheckpointStore } from "./checkpoint_store.ts";
export type { Checkpoint, CheckpointSource, StoredShard } from "./checkpoint_store.ts";
export { LogRetention } from "./retention.ts";
export type { LogMark, RetentionOptions } from "./retention.ts";
export { openStore, openStoreFor } from "./open_store.ts";
export type { Store } from "./open_store.ts";
