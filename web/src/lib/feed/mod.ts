export { reconnectDelay } from "./backoff.ts";
export { FeedConnection } from "./connection.ts";
export type { ConnectionState, FeedConnectionOptions, FeedNotice } from "./connection.ts";
export { decodeFrame, encodeAuth, encodePong, encodeSubscribe } from "./frames.ts";
export type { FeedEvent, MetricInfo, SensorInfo, SubscriptionSpec, Updates } from "./frames.ts";
export { SensorStore } from "./sensor_store.ts";
export type { ApplyResult, MetricColumns } from "./sensor_store.ts";
