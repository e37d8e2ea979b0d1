export { FenceLost, KvLog } from "./kv_log.ts";
export { RECORD_CHUNK_ROWS } from "./kv_log.ts";
export type { AppendRecords, FencedAppend, KvLogOptions, LogEntry } from "./kv_log.ts";
export { Chunker, estimateBytes, KV_VALUE_LIMIT } from "./chunker.ts";
export type { Chunk } from "./chunker.ts";
export { CheckpointStore } from "./checkpoint_store.ts";
export type { Checkpoint } from "./checkpoint_store.ts";
export { LogRetention } from "./retention.ts";
export type { RetentionOptions } from "./retention.ts";
