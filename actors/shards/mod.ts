// The shard stage: readings routed by sensor to shard actors (in this isolate
// or on worker threads), each owning its sensors' moving windows and
// event-time windows.
export {
  DEFAULT_WINDOW_SPEC,
  EventWindowStore,
  SLOT_LENGTH,
  slotsPerSize,
} from "./event_window_store.ts";
export type { HeldWindow, WindowSpec } from "./event_window_store.ts";
export { MovingWindows } from "./moving_windows.ts";
export { Router } from "./router.ts";
export type { RouterOptions } from "./router.ts";
export type { RoutedRows } from "./routed_rows.ts";
export { ShardBehavior } from "./shard.ts";
export { ShardState } from "./shard_state.ts";
export type { ShardNames } from "./shard_state.ts";
export { ShardSet } from "./shard_set.ts";
export type {
  FleetGroups,
  FleetNames,
  RebuildObserver,
  ShardHealth,
  ShardSetOptions,
  ShardSetState,
} from "./shard_set.ts";
export type { ShardOptions } from "./shard.ts";
export { IMAGE_FORMAT, SENSOR_PAGE } from "./shard_image.ts";
export type { ShardHeader, ShardImage } from "./shard_image.ts";
export { shardFor } from "./shard_for.ts";
export type {
  ShardChanges,
  ShardHeldWindows,
  ShardMessage,
  ShardReadings,
} from "./shard_messages.ts";
