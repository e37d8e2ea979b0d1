// The actor pipeline in flow order: the runtime, the shards, the hub.
export * from "./runtime/mod.ts";
export * from "./shards/mod.ts";
export * from "./hub/mod.ts";
