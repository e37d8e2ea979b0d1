export { reconnectDelay } from "./backoff.ts";
export { FeedConnection } from "./connection.ts";
export type {
  ConnectionState,
  FeedConnectionOptions,
  FeedNotice,
  WindowSpec,
} from "./connection.ts";
export { WindowStore } from "./window_store.ts";
export type { WindowApplyResult } from "./window_store.ts";
export { FrameTimes } from "./frame_times.ts";
export type { SubscriptionSpec } from "@pulseboard/protocol";
export { SensorStore } from "./sensor_store.ts";
export type { ApplyResult, FollowSink, MetricColumns, SensorStoreOptions } from "./sensor_store.ts";
export { SparkRings } from "./spark_rings.ts";
export type { SparkRingsOptions } from "./spark_rings.ts";
export { AggregateBook } from "./aggregate_book.ts";
export type { BookAggregate } from "./aggregate_book.ts";
export { closeReason, RESYNC_EXPLAINED } from "./close_reason.ts";
