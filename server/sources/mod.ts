// The source stage: the source of truth read back into the shards, with its
// checkpoints. One interface (source.ts), two kinds: kv/ and mongo/.
export { createSource } from "./create_source.ts";
export type { SourceConfig } from "./create_source.ts";
export type { HandOffTimes, Source, SourceHealth } from "./source.ts";
export { Checkpointer } from "./checkpointer.ts";
export type { CheckpointerOptions, CheckpointHook } from "./checkpointer.ts";
export { LogSource } from "./kv/log_source.ts";
export type { LogSourceOptions } from "./kv/log_source.ts";
