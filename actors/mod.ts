export * from "./runtime/mod.ts";
export { FeedView } from "./feed_view.ts";
export type { TickChanges } from "./feed_view.ts";
export { HubBehavior, HubStats } from "./hub.ts";
export type { HubObserver, HubOptions, WindowNames } from "./hub.ts";
export {
  SLOT_LENGTH,
  slotsPerSize,
  WINDOW_CHANGED,
  WINDOW_FINAL,
  WindowClock,
} from "./event_windows.ts";
export type { WindowSpec } from "./event_windows.ts";
export { groupAggregates } from "./group_aggregates.ts";
export { aggregatesByName, listSensors } from "./feed_queries.ts";
export type { SensorQuery, SensorSummary } from "./feed_queries.ts";
export type { HubMessage } from "./hub_messages.ts";
export { LogSource } from "./log_source.ts";
export type { LogSourceOptions } from "./log_source.ts";
export { MetricWindow } from "./metric_window.ts";
export { Router } from "./router.ts";
export type { RouterOptions } from "./router.ts";
export { DEFAULT_SESSION_POLICY, Session } from "./session.ts";
export type { FrameSink, SessionPolicy } from "./session.ts";
export { allocateStates, ShardBehavior } from "./shard.ts";
export type { ShardOptions } from "./shard.ts";
export { shardFor } from "./shard_for.ts";
export type { ShardChanges, ShardMessage } from "./shard_messages.ts";
export { Checkpointer } from "./checkpointer.ts";
export type { CheckpointerOptions } from "./checkpointer.ts";
