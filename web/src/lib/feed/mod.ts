export { reconnectDelay } from "./backoff.ts";
export { FeedConnection } from "./connection.ts";
export type { ConnectionState, FeedConnectionOptions, FeedNotice } from "./connection.ts";
export { decodeFrame, encodeAuth, encodePong, encodeSubscribe } from "./frames.ts";
export type { FeedEvent, MetricInfo, SensorInfo, SubscriptionSpec, Updates } from "./frames.ts";
export { SensorStore } from "./sensor_store.ts";
export type { ApplyResult, FollowSink, MetricColumns, SensorStoreOptions } from "./sensor_store.ts";
export { SparkRings } from "./spark_rings.ts";
export type { SparkRingsOptions } from "./spark_rings.ts";
