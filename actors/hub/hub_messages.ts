import type { GroupCount } from "./attention_counts.ts";
import type { FrameSink } from "./session.ts";
import type { Encoding } from "./topic_stream.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import type { SubscriptionRequest, ViewRequest } from "../../protocol/client_messages.ts";
import type { aggregatesByName, SensorQuery, SensorSummary } from "./feed_queries.ts";

/**
 * Time to flush the shards and push this tick's deltas. The flushes are
 * asked for and their answers come back as a `flushed` message: queries,
 * joins and subscriptions are answered meanwhile, from the view as of the
 * last merge. A tick that comes while one is in flight waits for it.
 */
export interface HubTick {
  type: "tick";
  /**
   * The source had handed every chunk it found to the shards when this tick
   * was sent, so the tick's flushes carry all of it (see HubStats.viewCaughtUp).
   */
  sourceCaughtUp?: boolean;
  /** Answered once the tick's flushes are in the view (at start, before listening). */
  reply?: (done: true) => void;
}

/** The shards' answers to the flushes a tick or a new epoch asked for (the hub's own message). */
export interface HubFlushed {
  type: "flushed";
  /** The request they answer: one of another hub behavior (before a restart) is ignored. */
  round: object;
  changes: (ShardChanges | null)[];
}

/**
 * A new client. Unless `explicit`, it is subscribed to everything and gets a
 * snapshot now; an explicit client waits for its first Subscribe.
 */
export interface HubJoin {
  type: "join";
  /** The connection: the hub keeps its session (the slow-client policy) by it. */
  sink: FrameSink;
  explicit?: boolean;
  /** Group prefixes an authenticated viewer may read; null without authentication. */
  scope?: string[] | null;
  /** Also send per-sensor event-time windows. */
  windows?: boolean;
  /** How its topic frames are encoded (`/ws?encoding=compact`). Default full. */
  encoding?: Encoding;
  /** The client's address, and the subject of its token: who its topics count against. */
  address?: string;
  subject?: string | null;
}

/** Adds subscriptions, optionally resuming from a frame seen on an earlier connection. */
export interface HubSubscribe {
  type: "subscribe";
  sink: FrameSink;
  subscriptions: SubscriptionRequest[];
  resume: { epoch: number; seq: number } | null;
  /** Replace the session's subscriptions instead of adding to them. */
  replace?: boolean;
  /** Also send per-sensor event-time windows. */
  windows?: boolean;
}

/** Asks for every group path with its number of sensors (for pickers). */
export interface HubGroups {
  type: "groups";
  /** Only groups under these prefixes; null for all. */
  scope?: string[] | null;
  reply: (groups: GroupCount[]) => void;
}

/** Asks for a page of sensors (GET /api/sensors) or one sensor. */
export interface HubSensors {
  type: "sensors";
  query: SensorQuery;
  reply: (page: { sensors: SensorSummary[]; more: boolean }) => void;
}

/** Asks for a group's aggregates for one window size (GET /api/aggregates). */
export interface HubAggregates {
  type: "aggregates";
  group: string;
  size: number;
  metric: string | null;
  scope: readonly string[] | null;
  reply: (metrics: ReturnType<typeof aggregatesByName>) => void;
}

/**
 * Answered once every flush asked for before it has been merged (a tick in
 * flight included): what the shards handed over by then has reached the view
 * and `onWindows`.
 */
export interface HubBarrier {
  type: "barrier";
  reply: (done: true) => void;
}

/**
 * The sensor ids in listing order, encoded for a checkpoint's parts
 * (`ID_ORDER_PART`): the next start checks them instead of sorting.
 */
export interface HubIdOrder {
  type: "idOrder";
  reply: (bytes: Uint8Array) => void;
}

/**
 * A source is about to rebuild the shards' state from scratch: stop taking
 * their flushes (ticks do nothing) until `newEpoch`. Answered once no tick runs.
 */
export interface HubHold {
  type: "hold";
  reply: (done: true) => void;
}

/**
 * The rebuilt state is in the shards: take it into a fresh mirror, give every
 * topic a new epoch and every client a Subscribed with recovered=false and a
 * snapshot ("continuity lost"), and tick again.
 */
export interface HubNewEpoch {
  type: "newEpoch";
  reply: (done: true) => void;
}

export interface HubUnsubscribe {
  type: "unsubscribe";
  sink: FrameSink;
  ids: number[];
}

/** Opens, moves or closes a session's viewport window (a ViewSubscribe). */
export interface HubView {
  type: "view";
  sink: FrameSink;
  request: ViewRequest;
}

/** A client's report of how long its frames take (ClientStats): it may be sent less often. */
export interface HubClientStats {
  type: "clientStats";
  sink: FrameSink;
  frameP95Ms: number;
}

export interface HubLeave {
  type: "leave";
  sink: FrameSink;
}

/** The server is stopping: close every session with `code`. */
export interface HubShutdown {
  type: "shutdown";
  code: number;
}

export type HubMessage =
  | HubTick
  | HubFlushed
  | HubJoin
  | HubSubscribe
  | HubUnsubscribe
  | HubView
  | HubClientStats
  | HubGroups
  | HubSensors
  | HubAggregates
  | HubBarrier
  | HubIdOrder
  | HubHold
  | HubNewEpoch
  | HubLeave
  | HubShutdown;
