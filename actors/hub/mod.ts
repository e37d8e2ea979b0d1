// The hub stage: the view merged from the shards' flushes, topics with their
// streams and rings, and the sessions they are sent to.
export { Hub } from "./hub_actor.ts";
export type { HubStartOptions, SessionMessage } from "./hub_actor.ts";
export { FeedView } from "./feed_view.ts";
export type { TickChanges } from "./feed_view.ts";
export { HubBehavior } from "./hub.ts";
export type { HubObserver, HubOptions, ShardFeed, WindowNames } from "./hub.ts";
export { HubStats } from "./hub_stats.ts";
export { ID_ORDER_PART } from "./views/saved_order.ts";
export { DEFAULT_WINDOW_LIMITS, placeWindow } from "./views/mod.ts";
export type { HubMessage } from "./hub_messages.ts";
export { groupAggregates } from "./group_aggregates.ts";
export { aggregatesByName, listSensors } from "./feed_queries.ts";
export type { SensorQuery, SensorSummary } from "./feed_queries.ts";
export { DEFAULT_SESSION_POLICY, Session } from "./session.ts";
export type { FrameSink, SessionPolicy } from "./session.ts";
export { checkScope, checkSubscription, covers, matches, topicFor } from "./topic.ts";
export type { CanonicalTopic, TopicSpec } from "./topic.ts";
export { RingBudget, TopicStream } from "./topic_stream.ts";
export type { RingLimits } from "./topic_stream.ts";
export { TopicTable } from "./topic_table.ts";
export type { Owners, TopicTableOptions } from "./topic_table.ts";
