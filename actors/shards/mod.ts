// The shard stage: readings routed by sensor to shard actors, each owning its
// sensors' moving windows and event-time windows.
export {
  DEFAULT_WINDOW_SPEC,
  EventWindowStore,
  SLOT_LENGTH,
  slotsPerSize,
  WindowRegion,
} from "./event_window_store.ts";
export type { HeldWindow, WindowSpec } from "./event_window_store.ts";
export { MovingWindow } from "./moving_window.ts";
export { Router } from "./router.ts";
export type { RouterOptions } from "./router.ts";
export { ShardBehavior } from "./shard.ts";
export { ShardSet } from "./shard_set.ts";
export type { RebuildObserver, ShardHealth, ShardSetOptions, ShardSetState } from "./shard_set.ts";
export type { ShardOptions } from "./shard.ts";
export { shardFor } from "./shard_for.ts";
export type {
  ShardChanges,
  ShardCheckpoint,
  ShardHeldWindows,
  ShardMessage,
  ShardReadings,
} from "./shard_messages.ts";
