import * as flatbuffers from "flatbuffers";
// Messages a client sends (Subscribe, Unsubscribe, Auth, Pong): encoded here
// by every client, decoded (after verification) here by the server.
import {
  Auth,
  Body,
  ClientStats,
  Envelope,
  Pong,
  Subscribe,
  Subscription,
  Unsubscribe,
  ViewSubscribe,
} from "./schema_generated.ts";
import { FlatBufferVerifier } from "./verifier.ts";

/** One subscription as the client sent it (checked for structure, not meaning). */
export interface SubscriptionRequest {
  id: number;
  all: boolean;
  group: string | null;
  sensors: string[];
}

/** One subscription as a client asks for it: everything, a group prefix, or sensor ids. */
export interface SubscriptionSpec {
  id: number;
  all?: boolean;
  group?: string;
  sensors?: readonly string[];
}

/** A view's sort key as the wire names it. */
export type ViewSortKey = "id" | "group" | "seen" | "metric" | "status";
export type ViewSortField = "last" | "avg" | "min" | "max";
/** What a ViewSubscribe asks of the rows' order: keep, hold them, release them, order now. */
export type ViewOrder = "keep" | "hold" | "release" | "resort";

const SORT_KEYS: readonly ViewSortKey[] = ["id", "group", "seen", "metric", "status"];
const SORT_FIELDS: readonly ViewSortField[] = ["last", "avg", "min", "max"];
const ORDERS: readonly ViewOrder[] = ["keep", "hold", "release", "resort"];

/** A viewport window as a client asks for it (a ViewSubscribe), checked for structure only. */
export interface ViewRequest {
  /** What the view ranges over; empty: everything the viewer may see. */
  subscriptions: SubscriptionRequest[];
  sort: {
    key: ViewSortKey;
    /** With key "metric": the metric's name and field. */
    metric: string | null;
    field: ViewSortField;
    direction: "asc" | "desc";
  };
  filter: { idSubstring: string; groupPrefix: string | null; status: number[] | null };
  offset: number;
  /** Rows asked for; 0 closes the window. */
  limit: number;
  order: ViewOrder;
  resume: { epoch: number; seq: number } | null;
  /** Metric names whose values and sparkline points the client does not want. */
  hiddenMetrics: string[];
}

/** Most metric names a ViewSubscribe may hide (the server's metric names are at most as many). */
export const MAX_HIDDEN_METRICS = 1024;

/** A viewport window as a client describes it to `encodeViewSubscribe`. */
export interface ViewSpec {
  subscriptions?: readonly SubscriptionSpec[];
  sort?: {
    key: ViewSortKey;
    metric?: string;
    field?: ViewSortField;
    direction?: "asc" | "desc";
  };
  filter?: { idSubstring?: string; groupPrefix?: string | null; status?: readonly number[] | null };
  offset: number;
  limit: number;
  order?: ViewOrder;
  resume?: { epoch: number; seq: number } | null;
  hiddenMetrics?: readonly string[];
}

/** What a client may send, after verification. */
export type ClientMessage =
  | { type: "pong"; nonce: number }
  | { type: "view"; request: ViewRequest }
  | { type: "stats"; frameP95Ms: number; frames: number }
  | {
    type: "subscribe";
    subscriptions: SubscriptionRequest[];
    resume: { epoch: number; seq: number } | null;
    /** Replace the session's subscriptions instead of adding to them. */
    replace: boolean;
    /** Also send per-sensor event-time windows. */
    windows: boolean;
  }
  | { type: "unsubscribe"; ids: number[] }
  | { type: "auth"; token: string };

/** Bounds that keep one message's work small. */
const MAX_SUBSCRIPTIONS = 64;
const MAX_IDS = 4096;

/**
 * The largest message a client may send, in bytes, counted across a
 * message's fragments (1009 beyond). It holds the largest messages the
 * protocol has: an `Auth` with a token as long as the 16 KiB the
 * `bearer.<jwt>` header path allows, a `ViewSubscribe` with 64 group
 * subscriptions of the longest group path (about 10 KiB) hiding all 1,024
 * metrics of the longest names (about 72 KiB), or a list of about 2,800
 * sensor ids of 32 characters. Longer id lists are what group prefixes are for.
 */
export const MAX_CLIENT_MESSAGE_BYTES = 128 * 1024;

/**
 * Verifies an inbound Envelope and returns its message. Throws a TypeError
 * for anything malformed or for a body type a client may not send.
 */
export function decodeClientMessage(input: Uint8Array): ClientMessage {
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  // A client's encoder shares no strings: more string bytes than the message has are aliases.
  const v = new FlatBufferVerifier(bytes, {
    maxDepth: 4,
    maxTables: 2 * MAX_SUBSCRIPTIONS + 4,
    maxStringBytes: bytes.byteLength,
  });
  const root = v.root();
  const typeAt = v.field(root, 0, 1);
  const type = typeAt === 0 ? Body.NONE : bytes[typeAt];
  const envelope = () => Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes));
  switch (type) {
    case Body.Pong: {
      if (v.subTable(root, 1, (pos) => v.field(pos, 0, 4)) === 0) {
        throw new TypeError("Invalid message: Pong without a body");
      }
      return { type: "pong", nonce: (envelope().body(new Pong()) as Pong).nonce() };
    }
    case Body.Subscribe: {
      const found = v.subTable(root, 1, (pos) => {
        verifySubscriptions(v, pos, 0);
        v.field(pos, 1, 1);
        v.field(pos, 2, 4);
        v.field(pos, 3, 8);
        v.field(pos, 4, 1);
        v.field(pos, 5, 1);
      });
      if (found === 0) throw new TypeError("Invalid message: Subscribe without a body");
      const message = envelope().body(new Subscribe()) as Subscribe;
      return {
        type: "subscribe",
        subscriptions: readSubscriptions(message),
        resume: message.resume()
          ? { epoch: message.resumeEpoch(), seq: Number(message.resumeSeq()) }
          : null,
        replace: message.replace(),
        windows: message.windows(),
      };
    }
    case Body.Unsubscribe: {
      let count = 0;
      if (v.subTable(root, 1, (pos) => (count = v.vector(pos, 0, 4))) === 0) {
        throw new TypeError("Invalid message: Unsubscribe without a body");
      }
      if (count > MAX_SUBSCRIPTIONS) {
        throw new TypeError("Invalid message: too many ids to unsubscribe");
      }
      const message = envelope().body(new Unsubscribe()) as Unsubscribe;
      return { type: "unsubscribe", ids: Array.from(message.idsArray() ?? []) };
    }
    case Body.ViewSubscribe:
      return { type: "view", request: readViewSubscribe(v, root, envelope) };
    case Body.ClientStats: {
      const found = v.subTable(root, 1, (pos) => {
        v.field(pos, 0, 4);
        v.field(pos, 1, 4);
      });
      if (found === 0) throw new TypeError("Invalid message: ClientStats without a body");
      const stats = envelope().body(new ClientStats()) as ClientStats;
      const p95 = stats.frameP95Ms();
      if (!Number.isFinite(p95) || p95 < 0) {
        throw new TypeError("Invalid message: ClientStats frame_p95_ms is not a time ≥ 0");
      }
      return { type: "stats", frameP95Ms: p95, frames: stats.frames() };
    }
    case Body.Auth: {
      let length = -1;
      if (v.subTable(root, 1, (pos) => (length = v.string(pos, 0))) === 0 || length <= 0) {
        throw new TypeError("Invalid message: Auth without a token");
      }
      return { type: "auth", token: (envelope().body(new Auth()) as Auth).token()! };
    }
    case Body.NONE:
      throw new TypeError("Invalid message: envelope has no body");
    default:
      throw new TypeError(
        `Invalid message: a client may not send ${Body[type] ?? `body type ${type}`}`,
      );
  }
}

/** Subscriptions of a verified Subscribe or ViewSubscribe. */
function readSubscriptions(message: Subscribe | ViewSubscribe): SubscriptionRequest[] {
  const subscriptions: SubscriptionRequest[] = [];
  const sub = new Subscription();
  for (let i = 0; i < message.subscriptionsLength(); i++) {
    message.subscriptions(i, sub);
    const sensors: string[] = [];
    for (let k = 0; k < sub.sensorsLength(); k++) sensors.push(sub.sensors(k));
    subscriptions.push({ id: sub.id(), all: sub.all(), group: sub.group(), sensors });
  }
  return subscriptions;
}

/** Checks a subscriptions vector (field `id` of the table at `pos`) within the bounds. */
function verifySubscriptions(v: FlatBufferVerifier, pos: number, id: number): void {
  const count = v.tableVector(pos, id, (sub) => {
    v.field(sub, 0, 4);
    v.field(sub, 1, 1);
    v.string(sub, 2);
    if (v.stringVector(sub, 3) > MAX_IDS) {
      throw new TypeError(`Invalid message: a subscription lists more than ${MAX_IDS} sensors`);
    }
  });
  if (count > MAX_SUBSCRIPTIONS) {
    throw new TypeError(`Invalid message: more than ${MAX_SUBSCRIPTIONS} subscriptions`);
  }
}

function enumOf<T>(values: readonly T[], index: number, what: string): T {
  const value = values[index];
  if (value === undefined) throw new TypeError(`Invalid message: ${what} ${index} is unknown`);
  return value;
}

function readViewSubscribe(
  v: FlatBufferVerifier,
  root: number,
  envelope: () => Envelope,
): ViewRequest {
  const found = v.subTable(root, 1, (pos) => {
    verifySubscriptions(v, pos, 0);
    for (const id of [1, 3, 4, 10, 11]) v.field(pos, id, 1);
    v.string(pos, 2);
    v.string(pos, 5);
    v.string(pos, 6);
    if (v.vector(pos, 7, 1) > 256) {
      throw new TypeError("Invalid message: more than 256 status codes");
    }
    for (const id of [8, 9, 12]) v.field(pos, id, 4);
    v.field(pos, 13, 8);
    if (v.stringVector(pos, 14) > MAX_HIDDEN_METRICS) {
      throw new TypeError(`Invalid message: more than ${MAX_HIDDEN_METRICS} hidden metrics`);
    }
  });
  if (found === 0) throw new TypeError("Invalid message: ViewSubscribe without a body");
  const m = envelope().body(new ViewSubscribe()) as ViewSubscribe;
  const status = m.filterStatusArray();
  return {
    subscriptions: readSubscriptions(m),
    sort: {
      key: enumOf(SORT_KEYS, m.sortKey(), "sort key"),
      metric: m.sortMetric(),
      field: enumOf(SORT_FIELDS, m.sortField(), "sort field"),
      direction: m.descending() ? "desc" : "asc",
    },
    filter: {
      idSubstring: m.filterId() ?? "",
      groupPrefix: m.filterGroup(),
      status: status ? Array.from(status) : null,
    },
    offset: m.offset(),
    limit: m.limit(),
    order: enumOf(ORDERS, m.order(), "order"),
    resume: m.resume() ? { epoch: m.resumeEpoch(), seq: Number(m.resumeSeq()) } : null,
    hiddenMetrics: Array.from({ length: m.hiddenMetricsLength() }, (_, i) => m.hiddenMetrics(i)),
  };
}

// Encoding. Small messages, one builder reused; each result is a copy.
const builder = new flatbuffers.Builder(1024);

function finish(type: Body, body: flatbuffers.Offset): Uint8Array<ArrayBuffer> {
  builder.finish(Envelope.createEnvelope(builder, type, body), "PLSB");
  return builder.asUint8Array().slice() as Uint8Array<ArrayBuffer>;
}

/**
 * Encodes a Subscribe: add `subscriptions` (or `replace` them all), resuming
 * from `resume` (the last epoch and seq applied) when given; `windows` also
 * asks for per-sensor event-time windows.
 */
function subscriptionVector(subscriptions: readonly SubscriptionSpec[]): flatbuffers.Offset {
  const offsets = subscriptions.map((s) => {
    const group = s.group === undefined ? 0 : builder.createString(s.group);
    const sensors = s.sensors === undefined
      ? 0
      : Subscription.createSensorsVector(builder, s.sensors.map((id) => builder.createString(id)));
    Subscription.startSubscription(builder);
    Subscription.addId(builder, s.id);
    Subscription.addAll(builder, s.all ?? false);
    if (group) Subscription.addGroup(builder, group);
    if (sensors) Subscription.addSensors(builder, sensors);
    return Subscription.endSubscription(builder);
  });
  return Subscribe.createSubscriptionsVector(builder, offsets);
}

export function encodeSubscribe(
  subscriptions: readonly SubscriptionSpec[],
  resume: { epoch: number; seq: number } | null = null,
  replace = false,
  windows = false,
): Uint8Array<ArrayBuffer> {
  builder.clear();
  const list = subscriptionVector(subscriptions);
  const body = Subscribe.createSubscribe(
    builder,
    list,
    resume !== null,
    resume?.epoch ?? 0,
    BigInt(resume?.seq ?? 0),
    replace,
    windows,
  );
  return finish(Body.Subscribe, body);
}

export function encodeAuth(token: string): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Auth, Auth.createAuth(builder, builder.createString(token)));
}

export function encodeUnsubscribe(ids: readonly number[]): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(
    Body.Unsubscribe,
    Unsubscribe.createUnsubscribe(builder, Unsubscribe.createIdsVector(builder, ids as number[])),
  );
}

export function encodePong(nonce: number): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Pong, Pong.createPong(builder, nonce));
}

/** Encodes a ViewSubscribe: open or change the session's viewport window (`limit` 0 closes it). */
export function encodeViewSubscribe(spec: ViewSpec): Uint8Array<ArrayBuffer> {
  builder.clear();
  const subscriptions = spec.subscriptions?.length ? subscriptionVector(spec.subscriptions) : 0;
  const sort = spec.sort ?? { key: "id" };
  const metric = sort.metric === undefined ? 0 : builder.createString(sort.metric);
  const filter = spec.filter ?? {};
  const id = filter.idSubstring ? builder.createString(filter.idSubstring) : 0;
  const group = filter.groupPrefix ? builder.createString(filter.groupPrefix) : 0;
  const status = filter.status
    ? ViewSubscribe.createFilterStatusVector(builder, filter.status as number[])
    : 0;
  const hidden = spec.hiddenMetrics?.length
    ? ViewSubscribe.createHiddenMetricsVector(
      builder,
      spec.hiddenMetrics.map((name) => builder.createString(name)),
    )
    : 0;
  ViewSubscribe.startViewSubscribe(builder);
  if (subscriptions) ViewSubscribe.addSubscriptions(builder, subscriptions);
  ViewSubscribe.addSortKey(builder, SORT_KEYS.indexOf(sort.key));
  if (metric) ViewSubscribe.addSortMetric(builder, metric);
  ViewSubscribe.addSortField(builder, SORT_FIELDS.indexOf(sort.field ?? "last"));
  ViewSubscribe.addDescending(builder, sort.direction === "desc");
  if (id) ViewSubscribe.addFilterId(builder, id);
  if (group) ViewSubscribe.addFilterGroup(builder, group);
  if (status) ViewSubscribe.addFilterStatus(builder, status);
  ViewSubscribe.addOffset(builder, spec.offset);
  ViewSubscribe.addLimit(builder, spec.limit);
  ViewSubscribe.addOrder(builder, ORDERS.indexOf(spec.order ?? "keep"));
  if (spec.resume) {
    ViewSubscribe.addResume(builder, true);
    ViewSubscribe.addResumeEpoch(builder, spec.resume.epoch);
    ViewSubscribe.addResumeSeq(builder, BigInt(spec.resume.seq));
  }
  if (hidden) ViewSubscribe.addHiddenMetrics(builder, hidden);
  return finish(Body.ViewSubscribe, ViewSubscribe.endViewSubscribe(builder));
}

/** Encodes a ClientStats report: the 95th percentile of frame times (ms) over `frames` frames. */
export function encodeClientStats(frameP95Ms: number, frames: number): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.ClientStats, ClientStats.createClientStats(builder, frameP95Ms, frames));
}
