import type { FeedView, TickChanges } from "./feed_view.ts";
import type { HubStats } from "./hub_stats.ts";
import { placeKey, PlaceStream } from "./place_stream.ts";
import { hiddenMetrics } from "./hidden_metrics.ts";
import type { HiddenMetrics } from "./hidden_metrics.ts";
import { cursorAt } from "./session.ts";
import type { Session, StreamCursor } from "./session.ts";
import type { RingBudget, RingLimits } from "./stream_ring.ts";
import { checkScope, checkSubscription, topicFor } from "./topic.ts";
import type { Owners } from "./topic_table.ts";
import { SparkPoints, UpdateOrder, ViewTable } from "./views/mod.ts";
import type { Slice, SortKey, ViewTableOptions, ViewWindow, WindowRequest } from "./views/mod.ts";
import { WindowFrames } from "./window_frames.ts";
import type { ValueMode } from "./window_frames.ts";
import { encodeError, encodeSubscribed } from "../../protocol/server_frames.ts";
import { encodeViewFrame } from "../../protocol/view_frames.ts";
import type { ViewFrameKind } from "../../protocol/view_frames.ts";
import { compressFrame } from "../../protocol/compression.ts";
import { deflateRawSync } from "node:zlib";
import type { SubscriptionRequest, ViewRequest } from "../../protocol/client_messages.ts";
import { ATTENTION_NAMES } from "../../protocol/attention.ts";

export interface HubViewsOptions {
  /** Each place's ring (its recent frames, for reconnects) and the budget all rings share. */
  limits: RingLimits;
  budget: RingBudget;
  /** The hub's tick, ms: a full-rate frame's interval. */
  tickMs: number;
  /** Readings each value's avg, min and max cover (`--window`), told with a window's first rows. */
  countWindow?: number;
  /** Views, windows and their limits (`--max-views`, `--views-per-client`, `--max-windows`). */
  table?: Partial<ViewTableOptions>;
  /** Subscriptions one view may range over, and the bytes of their set (as for topics). */
  maxSubscriptions: number;
  maxSubscriptionBytes: number;
  stats: HubStats;
  /** Sensors in the order they were listed before a restart (see `CollationOrder.expect`). */
  expectedIds?: Uint32Array | null;
}

/** A session's window and where its client stands. */
interface WindowSession {
  session: Session;
  window: ViewWindow;
  place: PlaceStream;
  /** The rows the client has, and the counts it was told (its attention counts: their version). */
  told: Slice | null;
  total: number;
  matching: number;
  countsVersion: number;
  cursor: StreamCursor;
  /** The last request, to open the window again in a new epoch. */
  request: ViewRequest;
  scope: readonly string[] | null;
  owners: Owners;
}

const EVERYTHING: SubscriptionRequest = { id: 0, all: true, group: null, sensors: [] };

/** Idle places one client address or token may leave before its oldest go (see `#dropIdlePlaces`). */
export const IDLE_PLACES_PER_OWNER = 16;

/**
 * View frames this long or longer are compressed (when that saves 10%):
 * those with rows entering whole. A tick's changes of 50 rows are a few
 * hundred bytes, where deflate costs more CPU than the bytes it saves are
 * worth (bench/viewport.ts --view-ticks).
 */
const VIEW_COMPRESS_BYTES = 2048;

/**
 * Deflated by the runtime's zlib at level 1: on 40 captured frames of ~6 KB
 * (rows entering whole, with sparkline points) 50 µs and 2,914 B each,
 * against 157 µs and 2,207 B at level 3 and 305 µs at fflate's level 1.
 * About four such frames a tick at 100 orderings: the tick's time counts
 * more than 700 B on a frame that only comes when rows enter.
 */
const VIEW_DEFLATE_LEVEL = 1;
/** Most bytes of whole frames kept for opens within one tick (`#openedWhole`). */
const OPENED_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The hub's viewport windows: each session may hold one window on a view
 * (a topic the viewer may see, a sort, a filter), which the `ViewTable`
 * orders and shares. Per tick every place (view, offset, limit) encodes one
 * frame (its stream, kept in a small ring for reconnects); windows that had
 * the place's previous state and take every tick get that frame, others one
 * made for their transition — shared by every window with the same one
 * (rows they have, rows they show, values since when). Nothing is encoded
 * per client. Owned by the hub; only its messages reach it.
 */
export class HubViews {
  readonly table: ViewTable;
  readonly sparks = new SparkPoints();
  readonly #feed: FeedView;
  readonly #frames: WindowFrames;
  readonly #options: HubViewsOptions;
  readonly #places = new Map<string, PlaceStream>();
  /** Whole frames made for ViewSubscribes in one tick (`#openedWhole`), let go at the next. */
  #opened: { tickNo: number; bytes: number; frames: Map<PlaceStream, Map<string, Uint8Array>> } = {
    tickNo: -1,
    bytes: 0,
    frames: new Map(),
  };
  readonly #windows = new Map<Session, WindowSession>();
  readonly #updateOrder = new UpdateOrder();

  constructor(feed: FeedView, options: HubViewsOptions) {
    this.#feed = feed;
    this.#options = options;
    this.table = new ViewTable(feed, options.table);
    if (options.expectedIds) this.table.keys.idOrder.expect(options.expectedIds);
    this.#frames = new WindowFrames(feed, this.sparks);
    // The status sort key is the attention code (critical > warn > offline > stale > ok; 0 last).
    for (const sensor of feed.sensors()) {
      const code = feed.attention.code(sensor.index);
      // 0 (none) is every key's start: 100,000 of them after a restart need no entry.
      if (code !== 0) this.table.keys.setStatus(sensor.index, code);
    }
  }

  /** Stops the table's off-tick sort worker (the hub stopping, or these views replaced). */
  stop(): void {
    this.table.stop();
  }

  get windowCount(): number {
    return this.#windows.size;
  }

  get placeCount(): number {
    return this.#places.size;
  }

  /** The sessions with windows, and their last requests (to open them again in a new epoch). */
  requests(): [Session, ViewRequest, { scope: readonly string[] | null; owners: Owners }][] {
    return [...this.#windows.values()].map((w) => [w.session, w.request, {
      scope: w.scope,
      owners: w.owners,
    }]);
  }

  /**
   * A ViewSubscribe from `session`: opens its window, or moves it (scroll,
   * another sort or filter, hold, release, resort). Answered at once: a
   * Subscribed (on the first) and a frame with the rows new to the window;
   * or an Error, the window left as it was. `limit` 0 closes it.
   */
  request(
    session: Session,
    request: ViewRequest,
    o: { scope: readonly string[] | null; owners: Owners; now: number; tickNo: number },
  ): void {
    const stats = this.#options.stats;
    if (request.limit === 0) return this.close(session, o.now);
    const refuse = (reason: string) => {
      stats.viewsRefused++;
      session.send(
        encodeError(0, reason.startsWith("Cannot") ? reason : `Cannot open view: ${reason}`),
      );
    };
    const subscriptions = request.subscriptions.length > 0 ? request.subscriptions : [EVERYTHING];
    if (subscriptions.length > this.#options.maxSubscriptions) {
      return refuse(
        `a view may range over at most ${this.#options.maxSubscriptions} subscriptions`,
      );
    }
    for (const s of subscriptions) {
      const reason = checkSubscription(s) ?? checkScope(s, o.scope);
      if (reason) return refuse(reason);
    }
    const topic = topicFor(subscriptions, o.scope);
    if (topic.selectionBytes > this.#options.maxSubscriptionBytes) {
      return refuse(
        `its subscriptions take ${topic.selectionBytes} bytes, over the limit of ${this.#options.maxSubscriptionBytes}`,
      );
    }
    let key: SortKey;
    if (request.sort.key === "metric") {
      const metric = this.#feed.metrics().find((m) => m.name === request.sort.metric);
      if (!metric) return refuse(`unknown metric ${JSON.stringify(request.sort.metric)}`);
      key = { kind: "metric", metric: metric.index, field: request.sort.field };
    } else key = { kind: request.sort.key };
    const wanted: WindowRequest = {
      topic: { key: topic.key, spec: topic.spec },
      sort: { key, direction: request.sort.direction },
      filter: request.filter,
      offset: request.offset,
      limit: request.limit,
    };
    let ws = this.#windows.get(session);
    let opened;
    try {
      opened = ws
        ? this.table.change(ws.window, wanted, { owners: o.owners, now: o.now })
        : this.table.open(wanted, { owners: o.owners, now: o.now });
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) return refuse(error.message);
      throw error;
    }
    if ("refused" in opened) return refuse(opened.refused);
    for (const evicted of opened.evicted) this.#evicted(evicted, o.now);
    const window = opened.window;
    if (request.order === "hold") window.hold();
    else if (request.order === "release") window.release();
    else if (request.order === "resort") window.resort();
    this.table.serve(window, o.now);
    const hidden = hiddenMetrics(request.hiddenMetrics, this.#feed.metrics());
    // Metrics shown again have no values on the client: the whole window comes again.
    const reshown = ws !== undefined && ws.place.hidden.key !== hidden.key;
    const place = this.#place(window, hidden, o.now);
    const first = ws === undefined;
    if (ws === undefined) {
      ws = {
        session,
        window,
        place,
        told: null,
        total: -1,
        matching: -1,
        countsVersion: -1,
        cursor: cursorAt(o.tickNo),
        request,
        scope: o.scope,
        owners: o.owners,
      };
      this.#windows.set(session, ws);
      place.windows++;
    } else if (ws.place !== place) {
      this.#leavePlace(ws.place, o.now, ws.owners);
      ws.place = place;
      place.windows++;
    }
    // Kept for a new epoch, with the server's names for what it hides (not the client's strings).
    ws.request = { ...request, hiddenMetrics: hidden.names as string[] };
    if (first) {
      const resume = request.resume;
      const missed = resume && resume.epoch === place.epoch
        ? place.ring.replay(resume.seq, place.seq)
        : null;
      session.send(encodeSubscribed({
        topic: window.view.key.length > 200 ? window.view.key.slice(0, 200) + "…" : window.view.key,
        ids: request.subscriptions.map((s) => s.id),
        epoch: place.epoch,
        seq: missed ? resume!.seq : place.seq,
        recovered: missed !== null,
        view: true,
      }));
      if (missed) {
        stats.recovered++;
        for (const frame of missed) session.send(frame);
        ws.told = place.told;
        ws.total = place.total;
        ws.matching = place.matching;
        ws.countsVersion = place.countsVersion;
        ws.cursor = cursorAt(o.tickNo);
        if (ws.told === window.shown) return;
      } else if (resume) stats.resynced++;
    }
    // The rows new to the window, whole; what it keeps, brought up to now.
    const whole = ws.told === null || ws.cursor.missed || reshown;
    const intervalMs = session.rate.intervalMs;
    const encode = () =>
      this.#encode(
        {
          told: whole ? null : ws.told,
          target: window.shown!,
          since: whole ? -1 : ws.cursor.sentAt,
          mode: "absolute",
          kind: whole ? "whole" : "join",
          force: true,
        },
        { place, now: o.now, intervalMs },
      )!;
    const frame = whole
      ? this.#openedWhole(place, window.shown!, intervalMs, o.tickNo, encode)
      : encode();
    if (session.send(frame)) stats.viewFramesSent++;
    ws.told = window.shown;
    ws.total = window.view.total;
    ws.matching = window.view.matching;
    ws.countsVersion = window.view.topicCountsVersion;
    ws.cursor = cursorAt(o.tickNo);
  }

  /**
   * A whole window's frame for a ViewSubscribe, made once per tick for every
   * session opening the same rows at the same place and rate: dashboards
   * reconnecting together (a restart, a deploy) mostly open the same few
   * windows, and a 1,000-row one costs tens of ms to encode. Nothing a frame
   * holds changes between ticks, and equal slice keys are equal rows.
   */
  #openedWhole(
    place: PlaceStream,
    target: Slice,
    intervalMs: number,
    tickNo: number,
    encode: () => Uint8Array,
  ): Uint8Array {
    // Ticks stop while a source rebuilds, and opens go on: the frames kept are bounded too.
    if (this.#opened.tickNo !== tickNo || this.#opened.bytes > OPENED_MAX_BYTES) {
      this.#opened = { tickNo, bytes: 0, frames: new Map() };
    }
    const key = `${target.key}|${place.hidden.key}|${intervalMs}|${place.seq}|${
      target === place.told
    }`;
    let byPlace = this.#opened.frames.get(place);
    if (!byPlace) this.#opened.frames.set(place, byPlace = new Map());
    let frame = byPlace.get(key);
    if (!frame) {
      byPlace.set(key, frame = encode());
      this.#opened.bytes += frame.byteLength;
    }
    return frame;
  }

  /** Closes the session's window (it asked, or it is gone). */
  close(session: Session, now: number): void {
    const ws = this.#windows.get(session);
    if (!ws) return;
    this.#windows.delete(session);
    this.table.close(ws.window, now);
    this.#leavePlace(ws.place, now, ws.owners);
  }

  #place(window: ViewWindow, hidden: HiddenMetrics, now: number): PlaceStream {
    const at = { offset: window.offset, limit: window.limit, hidden };
    const key = placeKey(window.view, at);
    let place = this.#places.get(key);
    if (!place) {
      place = new PlaceStream(window.view, at, this.#options);
      // Its state starts as what its first window was just served.
      place.told = window.view.slice(window.offset, window.limit);
      place.total = window.view.total;
      place.matching = window.view.matching;
      place.countsVersion = window.view.topicCountsVersion;
      this.#places.set(key, place);
    }
    place.watchedAt = now;
    return place;
  }

  #leavePlace(place: PlaceStream, now: number, owners: Owners): void {
    place.windows--;
    place.watchedAt = now;
    if (place.windows === 0) place.leftBy = owners;
  }

  /**
   * Idle places (no window, kept `ringMs` for a resume) are encoded every
   * tick: past `IDLE_PLACES_PER_OWNER` left by one client address or token
   * (scrolling, re-sorting or changing hidden metrics over and over), its
   * oldest go now; a resume to one of them gets the whole window.
   */
  #dropIdlePlaces(idle: PlaceStream[]): void {
    const byOwner = new Map<string, PlaceStream[]>();
    for (const place of idle) {
      for (const owner of place.leftBy) {
        const list = byOwner.get(owner);
        if (list) list.push(place);
        else byOwner.set(owner, [place]);
      }
    }
    for (const list of byOwner.values()) {
      if (list.length <= IDLE_PLACES_PER_OWNER) continue;
      list.sort((a, b) => b.watchedAt - a.watchedAt);
      for (const place of list.slice(IDLE_PLACES_PER_OWNER)) {
        if (!this.#places.has(place.key)) continue;
        place.ring.release();
        this.#places.delete(place.key);
        this.#options.stats.idlePlacesDropped++;
      }
    }
  }

  /** A window whose view was evicted to make room: its session is told, and has none. */
  #evicted(window: ViewWindow, now: number): void {
    for (const ws of this.#windows.values()) {
      if (ws.window !== window) continue;
      this.#windows.delete(ws.session);
      this.#leavePlace(ws.place, now, ws.owners);
      ws.session.send(encodeError(
        0,
        "View evicted: the server is at --max-views and this view's client held the most; " +
          "send ViewSubscribe again",
      ));
      return;
    }
  }

  /**
   * One tick, after the mirror's merge: the views take the changes (and
   * order what is due), each place encodes its frame, and each due window
   * is offered its own. Returns the sessions found closed.
   */
  tick(merged: TickChanges | null, o: { now: number; tickNo: number }): Session[] {
    const { now, tickNo } = o;
    const parts = this.#options.stats.tickParts;
    const started = performance.now();
    if (this.#opened.frames.size > 0) this.#opened = { tickNo: -1, bytes: 0, frames: new Map() };
    // The tick's updates by sensor, once for every per-sensor array they go into.
    const order = merged
      ? this.#updateOrder.of(merged.updates.sensor, merged.updates.length)
      : undefined;
    this.#frames.takeTick(merged, tickNo, order);
    this.sparks.apply(merged, order);
    const attention = merged?.attention ?? [];
    for (let j = 0; j < attention.length; j++) {
      this.table.keys.setStatus(attention[j][0], attention[j][1]);
    }
    this.table.advance(merged, now, order);
    const ordered = performance.now();
    parts.order = ordered - started;
    const ringMs = this.#options.limits.ringMs;
    const idle: PlaceStream[] = [];
    for (const [key, place] of this.#places) {
      if (place.windows === 0 && now - place.watchedAt > ringMs) {
        place.ring.release();
        this.#places.delete(key);
        continue;
      }
      if (place.windows === 0) idle.push(place);
      const target = place.target();
      const before = place.tick;
      before.before = place.told;
      before.total = place.total;
      before.matching = place.matching;
      before.countsVersion = place.countsVersion;
      before.target = target;
      before.frame = null;
      const view = place.view;
      const countsChanged = view.topicCountsVersion !== place.countsVersion;
      const frame = this.#encode({
        told: place.told,
        target,
        since: tickNo - 1,
        mode: "delta",
        kind: "tick",
        force: view.total !== place.total || view.matching !== place.matching || countsChanged,
        seq: place.seq + 1,
        onStream: true,
        counts: countsChanged,
      }, { place, now, intervalMs: this.#options.tickMs });
      if (frame) {
        place.seq++;
        place.ring.push(place.seq, frame, now);
        before.frame = frame;
      } else place.ring.expire(now);
      place.told = target;
      place.total = view.total;
      place.matching = view.matching;
      place.countsVersion = view.topicCountsVersion;
    }
    const framed = performance.now();
    parts.frames = framed - ordered;
    if (idle.length > IDLE_PLACES_PER_OWNER) this.#dropIdlePlaces(idle);
    // Frames made for windows off their place's stream, once per transition (made on first need).
    let made: Map<string, Uint8Array | null> | null = null;
    const closed: Session[] = [];
    const stats = this.#options.stats;
    // One offer for every window of the tick, pointed at the window being offered: an
    // object and a closure per window per tick were most of this loop's garbage.
    const current = {
      target: null as Slice | null,
      place: null as PlaceStream | null,
      intervalMs: 0,
    };
    const offer = {
      tickNo,
      snapshot: () =>
        this.#whole(current.target!, {
          place: current.place!,
          now,
          intervalMs: current.intervalMs,
          made: made ??= new Map(),
        }),
    };
    // Nothing below adds or drops windows (closed sessions are forgotten by the hub after).
    for (const ws of this.#windows.values()) {
      const { session, cursor, place } = ws;
      if (!session.due(tickNo)) continue;
      const at = place.tick;
      const target = ws.window.shown!;
      let frame: Uint8Array | null = session.lagging ? at.frame : null;
      if (!session.lagging && !cursor.missed) {
        const full = session.rate.period === 1 && cursor.sentAt === tickNo - 1;
        if (
          full && ws.told === at.before && target === at.target && ws.total === at.total &&
          ws.matching === at.matching && ws.countsVersion === at.countsVersion
        ) frame = at.frame;
        else {
          const mode: ValueMode = full ? "delta" : "absolute";
          const countsMoved = ws.countsVersion !== place.view.topicCountsVersion;
          const key =
            `${ws.told?.key}|${target.key}|${place.hidden.key}|${mode}|${cursor.sentAt}|${session.rate.period}|${ws.total}|${ws.matching}|${countsMoved}`;
          made ??= new Map();
          if (made.has(key)) frame = made.get(key)!;
          else {
            const view = place.view;
            frame = this.#encode({
              told: ws.told,
              target,
              since: cursor.sentAt,
              mode,
              kind: "tick",
              force: view.total !== ws.total || view.matching !== ws.matching || countsMoved,
              // Off its place's stream: it may have missed a change of them.
              counts: true,
            }, { place, now, intervalMs: session.rate.intervalMs });
            made.set(key, frame);
          }
        }
      }
      const skipped = session.skipped;
      const resyncs = session.resyncs;
      current.target = target;
      current.place = place;
      current.intervalMs = session.rate.intervalMs;
      const delivered = session.offer(cursor, frame, offer);
      if (!delivered) {
        closed.push(session);
        continue;
      }
      if (session.skipped !== skipped) stats.skippedFrames++;
      else if (session.resyncs !== resyncs) stats.snapshotsSent++;
      else if (frame) {
        stats.viewFramesSent++;
        stats.framesSent++;
        stats.bytesSent += frame.byteLength;
      }
      if (!session.lagging) {
        ws.told = target;
        ws.total = place.view.total;
        ws.matching = place.view.matching;
        ws.countsVersion = place.view.topicCountsVersion;
      }
    }
    stats.views = this.table.viewCount;
    stats.windows = this.#windows.size;
    stats.places = this.#places.size;
    parts.sends = performance.now() - framed;
    return closed;
  }

  /** The whole window at `target` (a catch-up after skipped frames), made once per tick. */
  #whole(
    target: Slice,
    o: {
      place: PlaceStream;
      now: number;
      intervalMs: number;
      made: Map<string, Uint8Array | null>;
    },
  ): Uint8Array {
    const key = `whole|${target.key}|${o.place.hidden.key}|${o.intervalMs}`;
    let frame = o.made.get(key);
    if (!frame) {
      frame = this.#encode(
        { told: null, target, since: -1, mode: "absolute", kind: "whole", force: true },
        o,
      )!;
      o.made.set(key, frame);
    }
    return frame;
  }

  /** Encodes one transition of a window at `place` (compressed when that pays); null without news. */
  #encode(
    t: {
      told: Slice | null;
      target: Slice;
      since: number;
      mode: ValueMode;
      kind: ViewFrameKind;
      force: boolean;
      seq?: number;
      /** Default: whether the client then shows what the place's stream shows now. */
      onStream?: boolean;
      /** Whether the view's attention counts go with it; default: in all but a tick's frames. */
      counts?: boolean;
    },
    o: { place: PlaceStream; now: number; intervalMs: number },
  ): Uint8Array | null {
    const { place } = o;
    const view = place.view;
    const input = this.#frames.build({
      ...t,
      hidden: place.hidden.mask,
      attentionCounts: (t.counts ?? t.kind !== "tick")
        ? view.topicCounts.subarray(0, ATTENTION_NAMES.length)
        : null,
      epoch: place.epoch,
      seq: t.seq ?? place.seq,
      onStream: t.onStream ?? t.target === place.told,
      total: view.total,
      matching: view.matching,
      offset: place.offset,
      intervalMs: o.intervalMs,
      now: o.now,
    });
    if (!input) return null;
    if (t.kind !== "tick") input.countWindow = this.#options.countWindow ?? 0;
    // Small frames (most ticks) do not pay for deflate's CPU; rows entering whole do.
    return compressFrame(encodeViewFrame(input), {
      minBytes: VIEW_COMPRESS_BYTES,
      deflate: deflateRawSync,
      level: VIEW_DEFLATE_LEVEL,
    });
  }
}
