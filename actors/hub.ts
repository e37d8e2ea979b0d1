import { ask } from "./runtime/mod.ts";
import type { Actor, Behavior } from "./runtime/mod.ts";
import { FeedView } from "./feed_view.ts";
import type { TickChanges } from "./feed_view.ts";
import { WINDOW_CHANGED } from "./event_windows.ts";
import { groupAggregates } from "./group_aggregates.ts";
import { aggregatesByName, listSensors } from "./feed_queries.ts";
import type { HubMessage, HubSubscribe } from "./hub_messages.ts";
import type { Session } from "./session.ts";
import type { ShardChanges, ShardMessage } from "./shard_messages.ts";
import { checkScope, checkSubscription, covers, topicFor } from "./topic.ts";
import { RingBudget, TopicStream } from "./topic_stream.ts";
import type { RingLimits } from "./topic_stream.ts";
import type { GroupAggregateEntry, MetricStates, WindowStates } from "../protocol/frames.ts";
import { encodeError, encodePing, encodeSubscribed } from "../protocol/frames.ts";
import type { SubscriptionRequest } from "../protocol/client_messages.ts";
import { CloseCode } from "../protocol/close_codes.ts";

/** Told about every tick, e.g. to feed histograms. */
export interface HubObserver {
  tick(durationMs: number): void;
  /** A delta went out at `sentAtMs` with these updates (event times in `timeMs`). */
  sent(updates: MetricStates, sentAtMs: number): void;
}

export interface HubOptions {
  /** How often clients are pinged. Default 15 000 ms. */
  pingIntervalMs?: number;
  /** How long a tick waits for a shard's flush. Default 2000 ms. */
  flushTimeoutMs?: number;
  /** Recovery ring per topic. Defaults: 30 000 ms and 32 MiB. */
  ring?: Partial<RingLimits>;
  /** Bytes all rings may hold together. Default 256 MiB. */
  ringBudgetBytes?: number;
  /** Distinct subscription sets (topics) at once; more are refused. Default 256. */
  maxTopics?: number;
  /** Called each tick with the windows published in it, and names for their indexes. */
  onWindows?: (windows: WindowStates, names: WindowNames) => void;
  /** Event-time window sizes the shards keep (for snapshots). Default none. */
  windowSizesMs?: readonly number[];
  /** Readings the shards' avg, min and max cover (`--window`, for snapshots). Default 0: unsaid. */
  countWindow?: number;
  /** Clock. Default `Date.now`. */
  now?: () => number;
  observer?: HubObserver;
}

/** Resolves the indexes in published windows to names. */
export interface WindowNames {
  sensorId(index: number): string | undefined;
  metricName(index: number): string | undefined;
}

/** Counters the hub keeps up to date for /healthz and /metrics. */
export class HubStats {
  /** Sequence number of the everything-topic. */
  seq = 0;
  /** Epoch of the everything-topic. */
  epoch = 0;
  sessions = 0;
  ticks = 0;
  framesSent = 0;
  bytesSent = 0;
  snapshotsSent = 0;
  skippedFrames = 0;
  slowCloses = 0;
  /** Clients closed with 4001 for not answering pings. */
  silentCloses = 0;
  flushTimeouts = 0;
  /**
   * True once a tick sent after the source first caught up has taken in the
   * shards' flushes: the view then holds the restored state and the replayed log.
   */
  viewCaughtUp = false;
  sensors = 0;
  lastTickMs = 0;
  /** Resume requests answered with the missed frames, and with a fresh snapshot. */
  recovered = 0;
  resynced = 0;
  /** Subscriptions refused as malformed. */
  badSubscriptions = 0;
  /** Live topics: key, sessions and frames in the ring. */
  topics: { key: string; sessions: number; ring: number }[] = [];
  /** Readings dropped from event-time windows as late, over all sensors. */
  lateDropped = 0;
  /** Bytes held by all recovery rings. */
  ringBytes = 0;
  /** Most unsent bytes seen queued for any one client, and the largest frame sent. */
  peakBufferedBytes = 0;
  largestFrameBytes = 0;
}

interface SessionState {
  topic: TopicStream | null;
  /** Group prefixes the viewer's token allows; null without authentication. */
  scope: string[] | null;
  /** Whether the session asked for per-sensor event-time windows. */
  windows: boolean;
  /** Explicit subscriptions by id; null while subscribed to everything implicitly. */
  subscriptions: Map<number, SubscriptionRequest> | null;
}

const EVERYTHING: SubscriptionRequest = { id: 0, all: true, group: null, sensors: [] };

/**
 * Collects every shard's changes once per tick and merges them (the latest
 * value wins). Each topic (a canonical set of subscriptions) turns them into
 * ONE encoded delta with its own seq, kept in its recovery ring, and the very
 * same bytes go to every session of that topic. Joins and subscriptions are
 * handled between ticks, so a snapshot is exactly the state after delta
 * `seq` and the next delta the client sees is `seq + 1`.
 */
export class HubBehavior implements Behavior<HubMessage> {
  readonly #shards: readonly Actor<ShardMessage>[];
  readonly #pingIntervalMs: number;
  readonly #flushTimeoutMs: number;
  readonly #ring: RingLimits;
  readonly #budget: RingBudget;
  readonly #maxTopics: number;
  readonly #windowSizesMs: readonly number[];
  readonly #countWindow: number;
  readonly #onWindows?: HubOptions["onWindows"];
  readonly #now: () => number;
  readonly #observer?: HubObserver;
  #view = new FeedView();
  /** Set while a source rebuilds the shards (see HubHold). */
  #held = false;
  readonly #topics = new Map<string, TopicStream>();
  readonly #sessions = new Map<Session, SessionState>();
  #everything: TopicStream;
  readonly stats: HubStats;
  #lastPingAt: number;
  #nonce = 0;

  constructor(
    shards: readonly Actor<ShardMessage>[],
    options: HubOptions = {},
    stats = new HubStats(),
  ) {
    this.#shards = shards;
    this.#pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.#flushTimeoutMs = options.flushTimeoutMs ?? 2_000;
    this.#ring = { ringMs: 30_000, ringBytes: 32 << 20, ...options.ring };
    this.#budget = new RingBudget(options.ringBudgetBytes ?? 256 << 20);
    this.#maxTopics = options.maxTopics ?? 256;
    this.#windowSizesMs = options.windowSizesMs ?? [];
    this.#countWindow = options.countWindow ?? 0;
    this.#onWindows = options.onWindows;
    this.#now = options.now ?? Date.now;
    this.#observer = options.observer;
    this.#lastPingAt = this.#now();
    this.stats = stats;
    this.#everything = this.#topic([EVERYTHING])!;
    stats.epoch = this.#everything.epoch;
  }

  async receive(message: HubMessage): Promise<void> {
    switch (message.type) {
      case "tick":
        await this.#tick(message.sourceCaughtUp ?? false);
        message.reply?.(true);
        break;
      case "join": {
        const scope = message.scope ?? null;
        const windows = message.windows ?? false;
        this.#sessions.set(message.session, { topic: null, subscriptions: null, scope, windows });
        if (message.explicit) break;
        const topic = scope === null && !windows
          ? this.#everything
          : this.#topic([EVERYTHING], scope, windows);
        if (topic) this.#move(message.session, topic, null);
        else {message.session.send(
            encodeError(0, `Cannot subscribe: more than ${this.#maxTopics} topics`),
          );}
        break;
      }
      case "subscribe":
        this.#subscribe(message);
        break;
      case "unsubscribe": {
        const state = this.#sessions.get(message.session);
        if (!state) break;
        const subscriptions = new Map(state.subscriptions ?? []);
        for (const id of message.ids) subscriptions.delete(id);
        const topic = this.#topic(subscriptions.values(), state.scope, state.windows);
        if (!topic) {
          message.session.send(
            encodeError(0, `Cannot unsubscribe: more than ${this.#maxTopics} topics`),
          );
          break;
        }
        state.subscriptions = subscriptions;
        this.#move(message.session, topic, null);
        break;
      }
      case "groups": {
        const counts = new Map<string, number>();
        const scope = message.scope?.includes("*") ? null : message.scope ?? null;
        for (const sensor of this.#view.sensors()) {
          if (scope && !scope.some((prefix) => covers(prefix, sensor.group))) continue;
          counts.set(sensor.group, (counts.get(sensor.group) ?? 0) + 1);
        }
        message.reply(
          [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([group, sensors]) => ({
            group,
            sensors,
          })),
        );
        break;
      }
      case "sensors":
        message.reply(listSensors(this.#view, message.query));
        break;
      case "aggregates":
        message.reply(
          aggregatesByName(this.#view, message.group, message.size, message.metric, message.scope),
        );
        break;
      case "barrier":
        message.reply(true);
        break;
      case "hold":
        this.#held = true;
        message.reply(true);
        break;
      case "newEpoch":
        await this.#newEpoch();
        message.reply(true);
        break;
      case "leave":
        this.#forget(message.session);
        break;
      case "shutdown":
        for (const session of this.#sessions.keys()) {
          session.close(message.code, "server is shutting down");
        }
        for (const session of [...this.#sessions.keys()]) this.#forget(session);
        break;
      default: {
        const unknown: never = message;
        throw new TypeError(`Hub cannot handle ${JSON.stringify(unknown)}`);
      }
    }
    this.stats.sessions = this.#sessions.size;
  }

  #subscribe({ session, subscriptions, resume, replace, windows }: HubSubscribe): void {
    const state = this.#sessions.get(session);
    if (!state) return;
    state.windows = windows ?? false;
    const accepted = new Map(replace ? [] : state.subscriptions ?? []);
    for (const request of subscriptions) {
      const reason = checkSubscription(request) ?? checkScope(request, state.scope);
      if (reason) {
        this.stats.badSubscriptions++;
        session.send(encodeError(0, `Cannot subscribe: ${reason}`));
      } else accepted.set(request.id, request);
    }
    if (accepted.size === 0) return;
    const topic = this.#topic(accepted.values(), state.scope, state.windows);
    if (!topic) {
      this.stats.badSubscriptions++;
      session.send(
        encodeError(
          0,
          `Cannot subscribe: the server already serves ${this.#maxTopics} distinct subscription sets`,
        ),
      );
      return;
    }
    state.subscriptions = accepted;
    this.#move(session, topic, resume);
  }

  /** Gets or makes the stream for a set of subscriptions; null when no more topics may be made. */
  #topic(
    subscriptions: Iterable<SubscriptionRequest>,
    scope: string[] | null = null,
    windows = false,
  ): TopicStream | null {
    const { key, spec } = topicFor(subscriptions, scope, windows);
    let topic = this.#topics.get(key);
    if (!topic) {
      if (this.#topics.size >= this.#maxTopics) return null;
      topic = new TopicStream(key, spec, this.#view, {
        limits: this.#ring,
        budget: this.#budget,
        windowSizesMs: this.#windowSizesMs,
        countWindow: this.#countWindow,
      });
      this.#topics.set(key, topic);
    }
    return topic;
  }

  /**
   * Puts a session on a topic: it is told so, then gets either the frames it
   * missed (when it resumes from a point the ring still covers) or a snapshot.
   */
  #move(session: Session, topic: TopicStream, resume: { epoch: number; seq: number } | null): void {
    const state = this.#sessions.get(session)!;
    const ids = state.subscriptions ? [...state.subscriptions.keys()] : [];
    const topicName = topic.key.length > 200 ? topic.key.slice(0, 200) + "…" : topic.key;
    const missed = resume && resume.epoch === topic.epoch ? topic.replay(resume.seq) : null;
    const subscribed = (seq: number, recovered: boolean) =>
      session.send(encodeSubscribed({ topic: topicName, ids, epoch: topic.epoch, seq, recovered }));
    if (state.topic !== topic) {
      this.#leaveTopic(session, state);
      state.topic = topic;
      topic.sessions.add(session);
      topic.idleSince = 0;
    } else if (!resume) {
      // Same stream as before: nothing to resend.
      subscribed(topic.seq, true);
      return;
    }
    if (missed) {
      this.stats.recovered++;
      subscribed(resume!.seq, true);
      for (const frame of missed) session.send(frame);
      return;
    }
    if (resume) this.stats.resynced++;
    subscribed(topic.seq, false);
    if (session.send(topic.snapshot(this.#view, this.#now()))) this.stats.snapshotsSent++;
  }

  #leaveTopic(session: Session, state: SessionState): void {
    if (!state.topic) return;
    state.topic.sessions.delete(session);
    if (state.topic.sessions.size === 0) state.topic.idleSince = this.#now();
    state.topic = null;
  }

  #forget(session: Session): void {
    const state = this.#sessions.get(session);
    if (!state) return;
    this.#leaveTopic(session, state);
    this.#sessions.delete(session);
    if (session.closeCode === CloseCode.Slow) this.stats.slowCloses++;
    if (session.closeCode === CloseCode.PingTimeout) this.stats.silentCloses++;
  }

  async #newEpoch(): Promise<void> {
    const changes = await Promise.all(
      this.#shards.map((shard) =>
        ask<ShardMessage, ShardChanges>(shard, (reply) => ({ type: "flush", reply }), {
          timeoutMs: 10_000,
        }).catch(() => null)
      ),
    );
    this.#view = new FeedView();
    this.#view.apply(changes);
    for (const topic of this.#topics.values()) topic.release();
    this.#topics.clear();
    this.#everything = this.#topic([EVERYTHING])!;
    this.stats.epoch = this.#everything.epoch;
    for (const [session, state] of this.#sessions) {
      if (!state.topic) continue; // still waiting for its first Subscribe
      state.topic = null;
      const topic = state.subscriptions === null
        ? (state.scope === null && !state.windows
          ? this.#everything
          : this.#topic([EVERYTHING], state.scope, state.windows))
        : this.#topic(state.subscriptions.values(), state.scope, state.windows);
      if (topic) this.#move(session, topic, null);
    }
    this.#held = false;
    this.stats.seq = this.#everything.seq;
    this.stats.sensors = this.#view.sensorCount;
  }

  async #tick(sourceCaughtUp: boolean): Promise<void> {
    if (this.#held) return;
    const started = performance.now();
    const changes = await Promise.all(
      this.#shards.map((shard) =>
        ask<ShardMessage, ShardChanges>(shard, (reply) => ({ type: "flush", reply }), {
          timeoutMs: this.#flushTimeoutMs,
        }).catch(() => {
          this.stats.flushTimeouts++;
          return null;
        })
      ),
    );
    const now = this.#now();
    const merged = this.#view.apply(changes);
    if (sourceCaughtUp) this.stats.viewCaughtUp = true;
    const aggregates = this.#aggregatesFor(merged);
    if (merged && merged.windows.length > 0 && this.#onWindows) {
      const view = this.#view;
      this.#onWindows(merged.windows, {
        sensorId: (index) => view.sensor(index)?.id,
        metricName: (index) => view.metricName(index),
      });
    }
    this.stats.lateDropped = this.#view.lateTotal;
    for (const [key, topic] of this.#topics) {
      // An idle topic lives on as long as its ring could serve a reconnect.
      if (
        topic !== this.#everything && topic.idleSince > 0 &&
        now - topic.idleSince > this.#ring.ringMs
      ) {
        this.#topics.delete(key);
        continue;
      }
      const delta = merged ? topic.advance(merged, now, aggregates(topic)) : null;
      if (delta && delta.byteLength > this.stats.largestFrameBytes) {
        this.stats.largestFrameBytes = delta.byteLength;
      }
      this.#deliver(topic, delta, now);
      if (delta && merged && topic.sessions.size > 0) this.#observer?.sent(merged.updates, now);
    }
    if (now - this.#lastPingAt >= this.#pingIntervalMs) {
      this.#lastPingAt = now;
      const ping = encodePing(++this.#nonce >>> 0, now);
      for (const session of [...this.#sessions.keys()]) {
        if (!session.ping(ping, now)) this.#forget(session);
      }
    }
    this.stats.seq = this.#everything.seq;
    this.stats.ticks++;
    this.stats.sensors = this.#view.sensorCount;
    this.stats.sessions = this.#sessions.size;
    this.stats.topics = [...this.#topics.values()].map((t) => ({
      key: t.key,
      sessions: t.sessions.size,
      ring: t.ringLength,
    }));
    this.stats.ringBytes = this.#budget.used;
    this.stats.lastTickMs = performance.now() - started;
    this.#observer?.tick(this.stats.lastTickMs);
  }

  /**
   * Per topic, the aggregates of its groups for the window sizes that changed
   * this tick; each (group, scope, size) is computed once per tick.
   */
  #aggregatesFor(merged: TickChanges | null): (topic: TopicStream) => GroupAggregateEntry[] {
    const sizes = new Set<number>();
    if (merged) {
      const w = merged.windows;
      for (let i = 0; i < w.length; i++) if (w.flags[i] & WINDOW_CHANGED) sizes.add(w.size[i]);
    }
    if (sizes.size === 0) return () => [];
    const cache = new Map<string, GroupAggregateEntry[]>();
    return (topic) =>
      topic.aggregatePrefixes.flatMap((prefix) =>
        [...sizes].flatMap((size) => {
          const scope = topic.spec.scope;
          const key = `${size}|${prefix}|${scope?.join(",") ?? "*"}`;
          let entries = cache.get(key);
          if (!entries) {
            entries = groupAggregates(this.#view, prefix, size, { scope });
            cache.set(key, entries);
          }
          return entries;
        })
      );
  }

  #deliver(topic: TopicStream, delta: Uint8Array | null, now: number): void {
    let catchUp: Uint8Array | null = null;
    const snapshot = () => (catchUp ??= topic.snapshot(this.#view, now, true));
    for (const session of [...topic.sessions]) {
      const skipped = session.skipped;
      const resyncs = session.resyncs;
      const delivered = session.deliver(delta, now, snapshot);
      if (session.peakBuffered > this.stats.peakBufferedBytes) {
        this.stats.peakBufferedBytes = session.peakBuffered;
      }
      if (!delivered) {
        this.#forget(session);
        continue;
      }
      if (session.skipped !== skipped) this.stats.skippedFrames++;
      else if (session.resyncs !== resyncs) this.stats.snapshotsSent++;
      else if (delta) {
        this.stats.framesSent++;
        this.stats.bytesSent += delta.byteLength;
      }
    }
  }
}
