// The actor pipeline in flow order: the runtime, the shards, the hub.
export * from "./runtime/mod.ts";
export * from "./shards/mod.ts";
export * from "./hub/mod.ts";
export { LogSource } from "./log_source.ts";
export type { LogSourceOptions } from "./log_source.ts";
export { Checkpointer } from "./checkpointer.ts";
export type { CheckpointerOptions } from "./checkpointer.ts";
