import { attentionCounts } from "./attention_counts.ts";
import type { AttentionOptions } from "./attention_board.ts";
import type { ActorRef, Behavior } from "../runtime/mod.ts";
import { FeedView } from "./feed_view.ts";
import type { TickChanges } from "./feed_view.ts";
import { groupAggregatesBySize } from "./group_aggregates_pass.ts";
import { aggregatesByName, SensorListing } from "./feed_queries.ts";
import { HubStats } from "./hub_stats.ts";
import type { TickParts } from "./hub_stats.ts";
import type { HubMessage, HubSubscribe } from "./hub_messages.ts";
import { cursorAt, Session } from "./session.ts";
import type { FrameSink, SessionPolicy } from "./session.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import type { ShardSet } from "../shards/shard_set.ts";
import { checkScope, checkSubscription, covers, topicFor } from "./topic.ts";
import { RingBudget, TopicStream } from "./topic_stream.ts";
import type { Encoding, RingLimits, TopicFrames } from "./topic_stream.ts";
import { TopicTable } from "./topic_table.ts";
import { TopicRows } from "./topic_rows.ts";
import { HubViews } from "./hub_views.ts";
import type { ViewTableOptions } from "./views/mod.ts";
import { decodeIdOrder, encodeIdOrder } from "./views/saved_order.ts";
import type { Owners } from "./topic_table.ts";
import { WINDOW_CHANGED } from "../../protocol/columns.ts";
import type { GroupAggregateEntry, MetricStates, WindowStates } from "../../protocol/columns.ts";
import { encodeError, encodePing, encodeSubscribed } from "../../protocol/mod.ts";
import type { SubscriptionRequest } from "../../protocol/client_messages.ts";
import { CloseCode } from "../../protocol/close_codes.ts";

export { HubStats };

/** Told about every tick, e.g. to feed histograms. */
export interface HubObserver {
  /** A tick ended: its whole duration, and its parts (see `HubStats.tickParts`). */
  tick(durationMs: number, parts: Readonly<TickParts>): void;
  /** A delta went out at `sentAtMs` with these updates (event times in `timeMs`). */
  sent(updates: MetricStates, sentAtMs: number): void;
}

/** What the hub asks of the shards: their flushes, and their whole state after a restart. */
export type ShardFeed = Pick<ShardSet, "flushAll" | "stateAll">;

export interface HubOptions {
  /** Where the hub sends itself the shards' answers; without it a tick cannot finish. */
  self?: ActorRef<HubMessage>;
  /** The counters to keep up to date (one object across restarts). Default a fresh one. */
  stats?: HubStats;
  /** Rebuild the view from the shards' whole state before the first message (a restart). */
  recover?: boolean;
  /** How often clients are pinged. Default 15 000 ms. */
  pingIntervalMs?: number;
  /** The tick (`--tick`): what a session's rate counts in. Default 100 ms. */
  tickMs?: number;
  /** How long a tick waits for a shard's flush. Default 2000 ms. */
  flushTimeoutMs?: number;
  /** Recovery ring per topic. Defaults: 30 000 ms and 32 MiB. */
  ring?: Partial<RingLimits>;
  /** Bytes all rings may hold together. Default 256 MiB. */
  ringBudgetBytes?: number;
  /** Distinct subscription sets (topics) at once, the everything-topic included. Default 256. */
  maxTopics?: number;
  /**
   * Topics one client address, or one token, may hold and still make another.
   * Default `max(4, floor(maxTopics / 16))`.
   */
  topicsPerClient?: number;
  /** Subscriptions one session may hold. Default 64. */
  maxSubscriptions?: number;
  /** Viewport views and windows: limits and the ordering schedule (see ViewTableOptions). */
  views?: Partial<ViewTableOptions>;
  /** When a quiet sensor is stale or offline (`--stale-intervals`, `--offline-after`). */
  attention?: AttentionOptions;
  /** UTF-8 bytes of one session's subscription set (its topic key, e.g. ids × length). Default 16 KiB. */
  maxSubscriptionBytes?: number;
  /** The slow-client and liveness policy of every session. */
  session?: Partial<SessionPolicy>;
  /** Called each tick with the windows published in it, and names for their indexes. */
  onWindows?: (windows: WindowStates, names: WindowNames) => void;
  /** Event-time window sizes the shards keep (for snapshots). Default none. */
  windowSizesMs?: readonly number[];
  /** Readings the shards' avg, min and max cover (`--window`, for snapshots). Default 0: unsaid. */
  countWindow?: number;
  /** Clock. Default `Date.now`. */
  now?: () => number;
  /** The hub thread's CPU time, ms (for `HubStats.lastMergeCpuMs`); none: not measured. */
  cpuNow?: () => number;
  /** The hub thread's run-queue wait, ms (for `HubStats.lastMergeWaitMs`); none: not measured. */
  waitNow?: () => number;
  observer?: HubObserver;
  /**
   * The id order a checkpoint saved (`ID_ORDER_PART`, from the `idOrder`
   * message), when the shards were restored from it: the first tick, which
   * takes every restored sensor, checks that order instead of sorting.
   */
  savedIdOrder?: Uint8Array | null;
}

/** Resolves the indexes in published windows to names. */
export interface WindowNames {
  sensorId(index: number): string | undefined;
  metricName(index: number): string | undefined;
}

interface SessionState {
  sink: FrameSink;
  /** The slow-client policy's state: the hub's own, changed only here. */
  session: Session;
  topic: TopicStream | null;
  /** What its topics count against: its address and, if authenticated, its token. */
  owners: Owners;
  /** Group prefixes the viewer's token allows; null without authentication. */
  scope: string[] | null;
  /** Whether the session asked for per-sensor event-time windows. */
  windows: boolean;
  /** How its topic frames are encoded. */
  encoding: Encoding;
  /** Explicit subscriptions by id; null while subscribed to everything implicitly. */
  subscriptions: Map<number, SubscriptionRequest> | null;
}

/** One round of flushes asked of the shards and not merged yet. */
interface Round {
  kind: "tick" | "epoch";
  /** The tick was sent after the source had caught up (see HubStats.viewCaughtUp). */
  sourceCaughtUp: boolean;
  replies: ((done: true) => void)[];
  startedAt: number;
}

const EVERYTHING: SubscriptionRequest = { id: 0, all: true, group: null, sensors: [] };

/** How many topics /healthz and /metrics list, and how much of each key. */
const LISTED_TOPICS = 10;
const LISTED_KEY_CHARS = 80;

/**
 * Collects every shard's changes once per tick and merges them (the latest
 * value wins). Each topic (a canonical set of subscriptions) turns them into
 * ONE encoded delta with its own seq, kept in its recovery ring, and the very
 * same bytes go to every session of that topic.
 *
 * A tick asks the shards for their flushes and returns; the answers come
 * back as a `flushed` message (pipe to self), so queries, joins and
 * subscriptions are answered between a tick's request and its merge. The
 * view changes only when that message is taken, so a snapshot is exactly
 * the state after delta `seq` and the next delta the client sees is
 * `seq + 1`. One round of flushes is in flight at a time.
 */
export class HubBehavior implements Behavior<HubMessage> {
  readonly #shards: ShardFeed;
  readonly #self?: ActorRef<HubMessage>;
  readonly #recover: boolean;
  readonly #pingIntervalMs: number;
  readonly #tickMs: number;
  /** Ticks merged so far: what sessions' rates and cursors count. */
  #tickNo = 0;
  readonly #flushTimeoutMs: number;
  readonly #ring: RingLimits;
  readonly #budget: RingBudget;
  readonly #maxSubscriptions: number;
  readonly #maxSubscriptionBytes: number;
  readonly #sessionPolicy: Partial<SessionPolicy>;
  readonly #windowSizesMs: readonly number[];
  readonly #countWindow: number;
  readonly #onWindows?: HubOptions["onWindows"];
  readonly #now: () => number;
  readonly #cpuNow: (() => number) | null;
  readonly #waitNow: (() => number) | null;
  readonly #observer?: HubObserver;
  #view: FeedView;
  /**
   * The view's names for the window listener, made once: closures made per tick
   * are new call targets each time, and the rollup writer's calls deoptimized on them.
   */
  readonly #windowNames: WindowNames = {
    sensorId: (index) => this.#view.sensor(index)?.id,
    metricName: (index) => this.#view.metricName(index),
  };
  readonly #attentionOptions: AttentionOptions;
  /** Set while a source rebuilds the shards (see HubHold). */
  #held = false;
  readonly #topics: TopicTable<TopicStream, Session>;
  /** Every topic's members, to split a tick's updates among the topics in one pass. */
  readonly #topicRows = new TopicRows();
  readonly #viewOptions: Partial<ViewTableOptions>;
  #views: HubViews;
  readonly #sessions = new Map<FrameSink, SessionState>();
  readonly #bySession = new Map<Session, SessionState>();
  #everything: TopicStream;
  readonly stats: HubStats;
  #lastPingAt: number;
  #nonce = 0;
  /** The flushes in flight, and what waits for them. */
  #round: Round | null = null;
  /** Ticks that came while a round was in flight: one round serves them all. */
  #nextTick: Omit<Round, "kind" | "startedAt"> | null = null;
  #nextEpoch: ((done: true) => void)[] | null = null;
  /** Barriers and holds answered once no round is in flight. */
  #whenIdle: (() => void)[] = [];
  /** The saved id order, for the first views only (taken by `#makeViews`). */
  #savedIdOrder: Uint8Array | null;
  /** GET /api/sensors's order (by id in code units), kept between requests. */
  readonly #listing = new SensorListing();
  /** The last `idOrder` answer, and the views and key set it was made from. */
  #idOrderSaved: { views: HubViews; setAt: number; bytes: Uint8Array } | null = null;

  constructor(shards: ShardFeed, options: HubOptions = {}) {
    this.#shards = shards;
    this.#self = options.self;
    this.#recover = options.recover ?? false;
    this.#pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.#tickMs = options.tickMs ?? 100;
    this.#flushTimeoutMs = options.flushTimeoutMs ?? 2_000;
    this.#ring = { ringMs: 30_000, ringBytes: 32 << 20, ...options.ring };
    this.#budget = new RingBudget(options.ringBudgetBytes ?? 256 << 20);
    const maxTopics = options.maxTopics ?? 256;
    this.#maxSubscriptions = options.maxSubscriptions ?? 64;
    this.#maxSubscriptionBytes = options.maxSubscriptionBytes ?? 16 << 10;
    this.#sessionPolicy = options.session ?? {};
    this.#topics = new TopicTable({
      maxTopics,
      share: options.topicsPerClient ?? Math.max(4, Math.floor(maxTopics / 16)),
    });
    this.#windowSizesMs = options.windowSizesMs ?? [];
    this.#countWindow = options.countWindow ?? 0;
    this.#onWindows = options.onWindows;
    this.#now = options.now ?? Date.now;
    this.#cpuNow = options.cpuNow ?? null;
    this.#waitNow = options.waitNow ?? null;
    this.#observer = options.observer;
    this.#lastPingAt = this.#now();
    this.stats = options.stats ?? new HubStats();
    this.#viewOptions = options.views ?? {};
    this.#attentionOptions = options.attention ?? {};
    // A restarted hub rebuilds from the shards' whole state (started): no hint for that.
    this.#savedIdOrder = this.#recover ? null : options.savedIdOrder ?? null;
    this.#view = new FeedView({
      attention: this.#attentionOptions,
      windowSizes: this.#windowSizesMs.length || undefined,
    });
    this.#views = this.#makeViews();
    this.#everything = this.#pinEverything();
    this.stats.epoch = this.#everything.epoch;
  }

  /**
   * After a restart the view is rebuilt from the shards' whole state (a
   * flush would give only what changed since the failed hub's last one),
   * in a new epoch: the sessions of the failed hub are gone with it (the
   * socket side closes them with 1012, and clients reconnect to a snapshot).
   */
  async started(): Promise<void> {
    if (!this.#recover) return;
    this.#view.apply(await this.#shards.stateAll({ timeoutMs: 10_000 }));
    this.#views = this.#makeViews();
    this.stats.seq = this.#everything.seq;
    this.stats.sensors = this.#view.sensorCount;
    this.stats.sessions = 0;
    this.#countTopics();
  }

  receive(message: HubMessage): void {
    switch (message.type) {
      case "tick":
        if (this.#held) message.reply?.(true); // a rebuild is under way: nothing to take
        else this.#requestTick(message.sourceCaughtUp ?? false, message.reply);
        break;
      case "flushed":
        this.#flushed(message.round, message.changes);
        break;
      case "join": {
        const owners = [`address:${message.address ?? "unknown"}`];
        if (message.subject) owners.push(`token:${message.subject}`);
        const state: SessionState = {
          sink: message.sink,
          session: new Session(message.sink, this.#sessionPolicy, {
            tickMs: this.#tickMs,
            now: this.#now(),
          }),
          topic: null,
          owners,
          subscriptions: null,
          scope: message.scope ?? null,
          windows: message.windows ?? false,
          encoding: message.encoding ?? "full",
        };
        this.#forget(this.#sessions.get(message.sink));
        this.#sessions.set(message.sink, state);
        this.#bySession.set(state.session, state);
        if (!message.explicit) this.#place(state, [EVERYTHING], { verb: "subscribe" });
        break;
      }
      case "subscribe":
        this.#subscribe(message);
        break;
      case "unsubscribe": {
        const state = this.#sessions.get(message.sink);
        if (!state) break;
        const before = state.subscriptions;
        const subscriptions = new Map(before ?? []);
        for (const id of message.ids) subscriptions.delete(id);
        state.subscriptions = subscriptions;
        if (!this.#place(state, subscriptions.values(), { verb: "unsubscribe" })) {
          state.subscriptions = before;
        }
        break;
      }
      case "view": {
        const state = this.#sessions.get(message.sink);
        if (!state) break;
        this.#views.request(state.session, message.request, {
          scope: state.scope,
          owners: state.owners,
          now: this.#now(),
          tickNo: this.#tickNo,
        });
        break;
      }
      case "clientStats":
        this.#sessions.get(message.sink)?.session.report(message.frameP95Ms, this.#now());
        break;
      case "groups": {
        // Per group: its sensors, and how many are in each state that needs attention.
        const counts = new Map<string, { sensors: number; codes: number[] }>();
        const scope = message.scope?.includes("*") ? null : message.scope ?? null;
        const board = this.#view.attention;
        for (const sensor of this.#view.sensors()) {
          if (scope && !scope.some((prefix) => covers(prefix, sensor.group))) continue;
          let entry = counts.get(sensor.group);
          if (!entry) counts.set(sensor.group, entry = { sensors: 0, codes: [0, 0, 0, 0, 0, 0] });
          entry.sensors++;
          entry.codes[board.code(sensor.index)]++;
        }
        message.reply(
          [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([group, { sensors, codes }]) => ({
            group,
            sensors,
            attention: attentionCounts(codes),
          })),
        );
        break;
      }
      case "sensors":
        message.reply(this.#listing.page(this.#view, message.query, {
          source: this.#views.table.keys,
          serial: this.#views.table.keys.setChangedAt,
        }));
        break;
      case "aggregates":
        message.reply(
          aggregatesByName(this.#view, message.group, message.size, message.metric, message.scope),
        );
        break;
      case "barrier":
        this.#onceIdle(() => message.reply(true));
        break;
      case "idOrder":
        message.reply(this.#idOrder());
        break;
      case "hold":
        // No new round starts; the one in flight (asked before the rebuild) is merged first.
        this.#held = true;
        this.#onceIdle(() => message.reply(true));
        break;
      case "newEpoch":
        if (this.#round) (this.#nextEpoch ??= []).push(message.reply);
        else this.#startRound({ kind: "epoch", sourceCaughtUp: false, replies: [message.reply] });
        break;
      case "leave":
        this.#forget(this.#sessions.get(message.sink));
        break;
      case "shutdown":
        this.#views.stop();
        for (const { session } of this.#sessions.values()) {
          session.close(message.code, "server is shutting down");
        }
        for (const state of [...this.#sessions.values()]) this.#forget(state);
        break;
      default: {
        const unknown: never = message;
        throw new TypeError(`Hub cannot handle ${JSON.stringify(unknown)}`);
      }
    }
    this.stats.sessions = this.#sessions.size;
    this.#countTopics();
  }

  #requestTick(sourceCaughtUp: boolean, reply?: (done: true) => void): void {
    if (this.#round) {
      // One round at a time: this tick is served by the next one.
      const next = this.#nextTick ??= { sourceCaughtUp: false, replies: [] };
      next.sourceCaughtUp ||= sourceCaughtUp;
      if (reply) next.replies.push(reply);
      return;
    }
    this.#startRound({ kind: "tick", sourceCaughtUp, replies: reply ? [reply] : [] });
  }

  #startRound(round: Omit<Round, "startedAt">): void {
    const started: Round = { ...round, startedAt: performance.now() };
    this.#round = started;
    const timeoutMs = round.kind === "tick" ? this.#flushTimeoutMs : 10_000;
    void this.#shards.flushAll({ timeoutMs }).then((changes) =>
      this.#self?.send({ type: "flushed", round: started, changes })
    ).catch(() => {}); // the hub stopped meanwhile
  }

  #flushed(token: object, changes: (ShardChanges | null)[]): void {
    const round = this.#round;
    if (round === null || token !== round) return; // asked by a hub before a restart
    this.#round = null;
    if (round.kind === "tick") this.#merge(changes, round);
    else this.#startEpoch(changes);
    for (const reply of round.replies) reply(true);
    for (const answer of this.#whenIdle.splice(0)) answer();
    if (this.#nextEpoch) {
      const replies = this.#nextEpoch;
      this.#nextEpoch = null;
      this.#startRound({ kind: "epoch", sourceCaughtUp: false, replies });
    } else if (this.#nextTick) {
      const { sourceCaughtUp, replies } = this.#nextTick;
      this.#nextTick = null;
      if (this.#held) { for (const reply of replies) reply(true); }
      else this.#startRound({ kind: "tick", sourceCaughtUp, replies });
    }
  }

  /** Runs `answer` now when no round is in flight, else once the one in flight is merged. */
  #onceIdle(answer: () => void): void {
    if (this.#round) this.#whenIdle.push(answer);
    else answer();
  }

  #subscribe({ sink, subscriptions, resume, replace, windows }: HubSubscribe): void {
    const state = this.#sessions.get(sink);
    if (!state) return;
    const { session } = state;
    const accepted = new Map(replace ? [] : state.subscriptions ?? []);
    for (const request of subscriptions) {
      const reason = checkSubscription(request) ?? checkScope(request, state.scope);
      if (reason) {
        this.stats.badSubscriptions++;
        session.send(encodeError(0, `Cannot subscribe: ${reason}`));
      } else accepted.set(request.id, request);
    }
    if (accepted.size === 0) return;
    // Caps per session: without them Subscribes that add without replacing
    // grow one set (and its topic key) without bound.
    if (accepted.size > this.#maxSubscriptions) {
      this.#refuse(
        session,
        `Cannot subscribe: a session may hold at most ${this.#maxSubscriptions} subscriptions ` +
          `(this would make ${accepted.size}): unsubscribe some, or send replace`,
      );
      return;
    }
    const before = { subscriptions: state.subscriptions, windows: state.windows };
    state.subscriptions = accepted;
    state.windows = windows ?? false;
    if (!this.#place(state, accepted.values(), { resume, verb: "subscribe" })) {
      Object.assign(state, before);
    }
  }

  #refuse(session: Session, reason: string): false {
    this.stats.subscriptionsRefused++;
    session.send(encodeError(0, reason));
    return false;
  }

  /** The id order, encoded; made again only when sensors came, went or moved since. */
  #idOrder(): Uint8Array {
    const views = this.#views;
    const keys = views.table.keys;
    const saved = this.#idOrderSaved;
    if (saved?.views === views && saved.setAt === keys.setChangedAt) return saved.bytes;
    const bytes = encodeIdOrder(keys.idOrder.order);
    this.#idOrderSaved = { views, setAt: keys.setChangedAt, bytes };
    return bytes;
  }

  #makeViews(): HubViews {
    const expectedIds = decodeIdOrder(this.#savedIdOrder);
    this.#savedIdOrder = null;
    this.#views?.stop(); // its sort worker
    return new HubViews(this.#view, {
      expectedIds,
      limits: this.#ring,
      budget: this.#budget,
      tickMs: this.#tickMs,
      countWindow: this.#countWindow,
      table: this.#viewOptions,
      maxSubscriptions: this.#maxSubscriptions,
      maxSubscriptionBytes: this.#maxSubscriptionBytes,
      stats: this.stats,
    });
  }

  /** The everything-topic: made once per epoch, never evicted nor expired. */
  #pinEverything(): TopicStream {
    const { key, spec, keyBytes } = topicFor([EVERYTHING]);
    const topic = this.#stream(key, spec);
    this.#topics.pin(key, topic, keyBytes);
    return topic;
  }

  #stream(key: string, spec: TopicStream["spec"]): TopicStream {
    return new TopicStream(key, spec, this.#view, {
      limits: this.#ring,
      budget: this.#budget,
      windowSizesMs: this.#windowSizesMs,
      countWindow: this.#countWindow,
      tickMs: this.#tickMs,
      rows: this.#topicRows,
    });
  }

  /**
   * Puts a session on the topic for `subscriptions` (made if the limits
   * allow): it is told so, then gets either the frames it missed (when it
   * resumes from a point the ring still covers) or a snapshot. When refused
   * it gets an Error and keeps the topic it had; returns whether it moved.
   */
  #place(
    state: SessionState,
    subscriptions: Iterable<SubscriptionRequest>,
    options: { resume?: { epoch: number; seq: number } | null; verb: string },
  ): boolean {
    const { session } = state;
    const resume = options.resume ?? null;
    const { key, spec, keyBytes, selectionBytes } = topicFor(
      subscriptions,
      state.scope,
      state.windows,
    );
    if (selectionBytes > this.#maxSubscriptionBytes) {
      return this.#refuse(
        session,
        `Cannot ${options.verb}: the subscription set would take ${selectionBytes} bytes, over ` +
          `the limit of ${this.#maxSubscriptionBytes} bytes per session: list fewer sensors, or send replace`,
      );
    }
    const previous = state.topic;
    if (previous?.key === key && !resume) {
      // Same stream as before: nothing to resend.
      this.#subscribed(state, previous, previous.seq, true);
      return true;
    }
    // Leave first: the topic it leaves, once idle, is this client's own to reuse.
    this.#leaveTopic(session, state);
    const now = this.#now();
    const got = this.#topics.acquire(key, session, {
      owners: state.owners,
      bytes: keyBytes,
      now,
      make: () => this.#stream(key, spec),
    });
    if ("refused" in got) {
      // Nothing was evicted, so the previous topic is still there to go back to.
      if (previous) this.#join(session, state, previous);
      return this.#refuse(session, `Cannot ${options.verb}: ${got.refused}`);
    }
    for (const evicted of got.evicted) this.#evict(evicted);
    const topic = got.value;
    // Either way the session has the topic's state as of the last tick.
    topic.join(session, state.encoding, cursorAt(this.#tickNo));
    state.topic = topic;
    const missed = resume && resume.epoch === topic.epoch
      ? topic.replay(resume.seq, state.encoding)
      : null;
    if (missed) {
      this.stats.recovered++;
      this.#subscribed(state, topic, resume!.seq, true);
      for (const frame of missed) session.send(frame);
      return true;
    }
    if (resume) this.stats.resynced++;
    this.#subscribed(state, topic, topic.seq, false);
    if (session.send(topic.snapshot(this.#view, now, { encoding: state.encoding }))) {
      this.stats.snapshotsSent++;
    }
    return true;
  }

  #subscribed(state: SessionState, topic: TopicStream, seq: number, recovered: boolean): void {
    const ids = [...(state.subscriptions?.keys() ?? [])];
    const topicName = topic.key.length > 200 ? topic.key.slice(0, 200) + "…" : topic.key;
    state.session.send(
      encodeSubscribed({ topic: topicName, ids, epoch: topic.epoch, seq, recovered }),
    );
  }

  /** Puts a session back on a topic that exists (after a refused move). */
  #join(session: Session, state: SessionState, topic: TopicStream): void {
    this.#topics.acquire(topic.key, session, {
      owners: state.owners,
      bytes: 0,
      now: this.#now(),
      make: () => topic,
    });
    topic.join(session, state.encoding, cursorAt(this.#tickNo));
    state.topic = topic;
  }

  /** A topic dropped to make room: its sessions are told and keep their subscriptions. */
  #evict(topic: TopicStream): void {
    topic.release();
    for (const session of topic.sessions.keys()) {
      const state = this.#bySession.get(session);
      if (state) state.topic = null;
      session.send(
        encodeError(
          0,
          "Subscription set evicted: the server is at --max-topics and this set's client " +
            "held the most; send Subscribe again",
        ),
      );
    }
    topic.sessions.clear();
  }

  #leaveTopic(session: Session, state: SessionState): void {
    if (!state.topic) return;
    state.topic.sessions.delete(session);
    this.#topics.leave(state.topic.key, session, this.#now());
    state.topic = null;
  }

  #forget(state: SessionState | undefined): void {
    if (!state || this.#sessions.get(state.sink) !== state) return;
    const { session } = state;
    this.#leaveTopic(session, state);
    this.#views.close(session, this.#now());
    this.#sessions.delete(state.sink);
    this.#bySession.delete(session);
    if (session.closeCode === CloseCode.Slow) this.stats.slowCloses++;
    if (session.closeCode === CloseCode.PingTimeout) this.stats.silentCloses++;
  }

  /** The rebuilt state (after a hold) goes into a fresh view, every topic into a new epoch. */
  #startEpoch(changes: (ShardChanges | null)[]): void {
    this.#view = new FeedView({
      attention: this.#attentionOptions,
      windowSizes: this.#windowSizesMs.length || undefined,
    });
    this.#view.apply(changes);
    for (const topic of this.#topics.clear()) topic.release();
    const windows = this.#views.requests();
    this.#views = this.#makeViews();
    const now = this.#now();
    for (const [session, request, o] of windows) {
      // A new epoch: the window is opened again, whole (recovered = false).
      this.#views.request(session, { ...request, resume: null }, {
        ...o,
        now,
        tickNo: this.#tickNo,
      });
    }
    this.#everything = this.#pinEverything();
    this.stats.epoch = this.#everything.epoch;
    for (const state of this.#sessions.values()) {
      if (!state.topic) continue; // still waiting for its first Subscribe
      state.topic = null;
      this.#place(state, state.subscriptions?.values() ?? [EVERYTHING], { verb: "subscribe" });
    }
    this.#held = false;
    this.stats.seq = this.#everything.seq;
    this.stats.sensors = this.#view.sensorCount;
  }

  #merge(changes: (ShardChanges | null)[], round: Round): void {
    const mergeStarted = performance.now();
    const cpuStarted = this.#cpuNow?.() ?? 0;
    const waitStarted = this.#waitNow?.() ?? 0;
    for (const change of changes) if (change === null) this.stats.flushTimeouts++;
    const now = this.#now();
    const tickNo = ++this.#tickNo;
    const parts = this.stats.tickParts;
    const applied = this.#view.apply(changes);
    const applyEnded = performance.now();
    parts.apply = applyEnded - mergeStarted;
    // Attention is judged every tick: silence changes it when nothing arrives.
    const merged = this.#view.judge(applied, now);
    parts.judge = performance.now() - applyEnded;
    if (round.sourceCaughtUp) this.stats.viewCaughtUp = true;
    const aggregates = this.#aggregatesFor(merged);
    if (merged && merged.windows.length > 0 && this.#onWindows) {
      this.#onWindows(merged.windows, this.#windowNames);
    }
    this.stats.lateDropped = this.#view.lateTotal;
    // Each session's rate and slow-client state, once per tick, before any stream offers it a frame.
    // No copy of the map each tick: deleting the entry being visited is safe in a Map's iteration.
    for (const state of this.#sessions.values()) {
      if (!state.session.tick(now)) this.#forget(state);
    }
    // An idle topic lives on as long as its ring could serve a reconnect
    // (unless evicted sooner to make room).
    for (const topic of this.#topics.expire(now, this.#ring.ringMs)) topic.release();
    const viewFrames = this.stats.viewFramesSent;
    const viewsStarted = performance.now();
    for (const session of this.#views.tick(merged, { now, tickNo })) {
      this.#forget(this.#bySession.get(session));
    }
    const topicsStarted = performance.now();
    this.stats.viewsMs = topicsStarted - viewsStarted;
    let delivered = this.stats.viewFramesSent !== viewFrames;
    if (merged) {
      // Every topic's membership first, then one pass over the updates finds each topic's rows.
      for (const topic of this.#topics.values()) topic.admit(merged);
      this.#topicRows.split(merged.updates);
    }
    for (const topic of this.#topics.values()) {
      const frames = merged
        ? topic.advance(merged, now, { tickNo, aggregates: () => aggregates(topic) })
        : null;
      for (const bytes of [frames?.full, frames?.compact]) {
        if (bytes && bytes.byteLength > this.stats.largestFrameBytes) {
          this.stats.largestFrameBytes = bytes.byteLength;
        }
      }
      this.#deliver(topic, frames, { now, tickNo });
      topic.offered(tickNo);
      delivered ||= frames !== null && topic.sessions.size > 0;
    }
    this.#topicRows.clear();
    parts.topics = performance.now() - topicsStarted;
    // Once per tick: a reading's freshness is the same whichever topics carried it.
    if (delivered && merged) this.#observer?.sent(merged.updates, now);
    if (now - this.#lastPingAt >= this.#pingIntervalMs) {
      this.#lastPingAt = now;
      const ping = encodePing(++this.#nonce >>> 0, now);
      for (const state of [...this.#sessions.values()]) {
        if (!state.session.ping(ping, now)) this.#forget(state);
      }
    }
    this.stats.seq = this.#everything.seq;
    this.stats.ticks++;
    this.stats.sensors = this.#view.sensorCount;
    const counts = this.#view.attention.counts;
    for (let code = 0; code < counts.length; code++) this.stats.attention[code] = counts[code];
    this.stats.sessions = this.#sessions.size;
    this.stats.topics = this.#busiestTopics();
    this.#countTopics();
    this.stats.ringBytes = this.#budget.used;
    this.stats.lastTickMs = performance.now() - round.startedAt;
    this.stats.lastMergeMs = performance.now() - mergeStarted;
    if (this.#cpuNow) this.stats.lastMergeCpuMs = this.#cpuNow() - cpuStarted;
    if (this.#waitNow) this.stats.lastMergeWaitMs = this.#waitNow() - waitStarted;
    this.#observer?.tick(this.stats.lastTickMs, this.stats.tickParts);
  }

  #countTopics(): void {
    this.stats.topicCount = this.#topics.size;
    this.stats.idleTopics = this.#topics.idleCount;
    this.stats.topicKeyBytes = this.#topics.keyBytes;
    this.stats.topicsEvicted = this.#topics.idleEvictions + this.#topics.activeEvictions;
    this.stats.activeTopicsEvicted = this.#topics.activeEvictions;
  }

  /** A short list for /healthz and /metrics: never every topic, never a whole key. */
  #busiestTopics(): HubStats["topics"] {
    const busiest: TopicStream[] = [];
    for (const topic of this.#topics.values()) {
      if (busiest.length === LISTED_TOPICS) {
        if (topic.sessions.size <= busiest[LISTED_TOPICS - 1].sessions.size) continue;
        busiest.pop();
      }
      let at = busiest.length;
      while (at > 0 && busiest[at - 1].sessions.size < topic.sessions.size) at--;
      busiest.splice(at, 0, topic);
    }
    return busiest.map((t) => ({
      key: t.key.length > LISTED_KEY_CHARS ? t.key.slice(0, LISTED_KEY_CHARS - 1) + "…" : t.key,
      sessions: t.sessions.size,
      ring: t.ringLength,
    }));
  }

  /**
   * Per topic, the aggregates of its groups for the window sizes that changed
   * this tick; each (group, scope, size) is computed once per tick.
   */
  #aggregatesFor(merged: TickChanges | null): (topic: TopicStream) => GroupAggregateEntry[] {
    const sizes = new Set<number>();
    if (merged) {
      // Marked in a byte per size, not added to the Set per window: a restart's first tick has 1.2M.
      const w = merged.windows;
      const changed = new Uint8Array(256);
      for (let i = 0; i < w.length; i++) if (w.flags[i] & WINDOW_CHANGED) changed[w.size[i]] = 1;
      // A sensor gone or started over took its windows out of its groups' aggregates (rare).
      if (merged.removed.length > 0 || merged.restarted.length > 0) {
        for (let size = 0; size < this.#windowSizesMs.length; size++) changed[size] = 1;
      }
      for (let size = 0; size < 256; size++) if (changed[size] === 1) sizes.add(size);
    }
    if (sizes.size === 0) return () => [];
    const sizeList = [...sizes];
    // Per "prefix|scope": its entries per size (in `sizeList`'s order).
    const cache = new Map<string, GroupAggregateEntry[][]>();
    const view = this.#view;
    const topics = this.#topics;
    return (topic) => {
      const scope = topic.spec.scope;
      const scopeKey = scope?.join(",") ?? "*";
      const fresh = topic.aggregatePrefixes.flatMap((prefix) => {
        const key = `${prefix}|${scopeKey}`;
        let bySize = cache.get(key);
        if (!bySize) {
          // Every topic's groups under this scope, every changed size, from one walk of the fleet.
          const prefixes = new Set([prefix]);
          for (const other of topics.values()) {
            if ((other.spec.scope?.join(",") ?? "*") !== scopeKey) continue;
            for (const p of other.aggregatePrefixes) {
              if (!cache.has(`${p}|${scopeKey}`)) prefixes.add(p);
            }
          }
          const list = [...prefixes];
          const of = groupAggregatesBySize(view, list, sizeList, { scope });
          list.forEach((p, i) => cache.set(`${p}|${scopeKey}`, of.map((forSize) => forSize[i])));
          bySize = cache.get(key)!;
        }
        return bySize.flat();
      });
      return topic.withGoneAggregates(sizes, fresh);
    };
  }

  /**
   * Offers each session of `topic` that is due this tick its frame: the
   * tick's own when it had the previous one (every tick, full rate), else
   * one covering every tick since its last frame.
   */
  #deliver(
    topic: TopicStream,
    frames: TopicFrames | null,
    o: { now: number; tickNo: number },
  ): void {
    const { now, tickNo } = o;
    // Per encoding, not per session: an offer's options and its catch-up
    // snapshot (made at most once) are shared by the topic's sessions.
    const offers = new Map<Encoding, { tickNo: number; snapshot: () => Uint8Array }>();
    const offerFor = (encoding: Encoding) => {
      let offer = offers.get(encoding);
      if (!offer) {
        let bytes: Uint8Array | null = null;
        offer = {
          tickNo,
          snapshot: () => bytes ??= topic.snapshot(this.#view, now, { catchUp: true, encoding }),
        };
        offers.set(encoding, offer);
      }
      return offer;
    };
    // Not copied first: #forget deletes only the entry being visited, which a Map's iteration allows.
    for (const session of topic.sessions.keys()) {
      const member = topic.sessions.get(session)!;
      if (!session.due(tickNo)) continue;
      const { cursor, encoding } = member;
      // Over the cap the session skips: the tick's frame stands for what it misses.
      let frame: Uint8Array | null = session.lagging ? frames?.[encoding] ?? null : null;
      if (!cursor.missed && !session.lagging) {
        if (session.rate.period === 1 && cursor.sentAt === tickNo - 1) {
          frame = frames?.[encoding] ?? null;
        } else {
          const covering = topic.coalesced(cursor.sentAt, {
            tickNo,
            encoding,
            view: this.#view,
            period: session.rate.period,
            now,
          });
          if (covering === "snapshot") cursor.missed = true;
          else frame = covering;
        }
      }
      const skipped = session.skipped;
      const resyncs = session.resyncs;
      const delivered = session.offer(cursor, frame, offerFor(encoding));
      if (session.peakBuffered > this.stats.peakBufferedBytes) {
        this.stats.peakBufferedBytes = session.peakBuffered;
      }
      if (!delivered) {
        this.#forget(this.#bySession.get(session));
        continue;
      }
      if (session.skipped !== skipped) this.stats.skippedFrames++;
      else if (session.resyncs !== resyncs) this.stats.snapshotsSent++;
      else if (frame) {
        this.stats.framesSent++;
        this.stats.bytesSent += frame.byteLength;
      }
    }
  }
}
