// Owns the WebSocket: connects, decodes frames into the stores (the viewport
// window's rows, and the sensors of any topic subscription), answers pings,
// reports how long frames take to reach the screen, reconnects with backoff
// and resumes, and tells listeners at most once per animation frame that
// something changed. No framework code here.
import { reconnectDelay } from "./backoff.ts";
import { closeReason } from "./close_reason.ts";
import {
  decodeServerFrame,
  encodeAuth,
  encodeClientStats,
  encodePong,
  encodeSubscribe,
  encodeUnsubscribe,
  encodeViewSubscribe,
} from "@pulseboard/protocol";
import type { SubscriptionSpec, ViewOrder, ViewSpec } from "@pulseboard/protocol";
import { SensorStore } from "./sensor_store.ts";
import { WindowStore } from "./window_store.ts";
import { AggregateBook } from "./aggregate_book.ts";
import { FrameTimes } from "./frame_times.ts";

export type ConnectionState = "connecting" | "live" | "reconnecting" | "offline";

/** Transient news about the stream, shown for a few seconds. */
export type FeedNotice = "" | "resumed" | "resynced" | "slow — catching up";

export interface FeedConnectionOptions {
  /** Failed attempts in a row after which the state reads "offline" (it keeps retrying). */
  offlineAfter?: number;
  /** Schedules a render; default requestAnimationFrame. */
  schedule?: (callback: () => void) => void;
  now?: () => number;
  WebSocket?: typeof WebSocket;
  /** Topic subscriptions (whole sensors, every update). Default: everything. */
  subscriptions?: SubscriptionSpec[];
  /** A viewport window to open (the table's rows); default none. */
  view?: WindowSpec | null;
  /** Topic frames as compact deltas (`/ws?encoding=compact`). Default false. */
  compact?: boolean;
  /** Dashboard JWT, when the server requires one. */
  token?: string | null;
  /** How often to report frame times to the server (ClientStats); 0: never. Default 2000 ms. */
  statsEveryMs?: number;
  /** Least time between two ViewSubscribes (the server allows 5 messages a second). Default 250 ms. */
  viewGapMs?: number;
  /** Clock for frame times. Default performance.now. */
  clock?: () => number;
}

/** A window as the table asks for it: a ViewSpec without the order and resume, which this owns. */
export type WindowSpec = Omit<ViewSpec, "order" | "resume">;

type FrameScheduler = (callback: () => void) => unknown;

/** How long after a connection's first frame its frames are not timed (see `#timedFrom`). */
export const WARM_UP_MS = 2_000;

/** requestAnimationFrame where there is one (browsers), else a 16 ms timer. */
function nextFrame(callback: () => void): void {
  const raf = (globalThis as { requestAnimationFrame?: FrameScheduler }).requestAnimationFrame;
  if (raf) raf(() => callback());
  else setTimeout(callback, 16);
}

export class FeedConnection {
  /** Sensors of the topic subscriptions (the dashboard: the sensor whose detail is open). */
  readonly store = new SensorStore();
  /** The viewport window: the table's rows. */
  readonly window = new WindowStore();
  /** Frame times, arrival to screen (what ClientStats reports). */
  readonly frameTimes = new FrameTimes();
  /** Group aggregates pushed on the feed. */
  readonly aggregates = new AggregateBook();
  state: ConnectionState = "connecting";
  /** Metric updates per second, over the last second. */
  updatesPerSecond = 0;
  framesReceived = 0;
  bytesReceived = 0;
  /** Bytes received over the last second; NaN until a second has been counted. */
  bytesPerSecond = NaN;
  #countedBytes = 0;
  reconnects = 0;
  lastError = "";
  notice: FeedNotice = "";
  noticeAt = 0;
  /** Local time the last data frame arrived (what "as of" says while disconnected); 0: none yet. */
  lastDataAt = 0;
  /** Why the feed is not live, in words (see close_reason.ts); "" while live. */
  reason = "";
  /** Local time of the next reconnect attempt; 0: none scheduled. */
  nextRetryAt = 0;
  /** Topic key the server reported for the current subscriptions. */
  topic = "";
  /** Set when the server refused or expired the token (close code 4003). */
  needsToken = false;
  readonly #url: string;
  readonly #offlineAfter: number;
  readonly #schedule: (callback: () => void) => void;
  readonly #now: () => number;
  readonly #WebSocket: typeof WebSocket;
  readonly #listeners = new Set<() => void>();
  #socket: WebSocket | null = null;
  #attempt = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #rate: ReturnType<typeof setInterval> | undefined;
  #scheduled = false;
  #stopped = true;
  #countedUpdates = 0;
  #subscriptions: SubscriptionSpec[];
  #token: string | null;
  readonly #compact: boolean;
  readonly #statsEveryMs: number;
  readonly #viewGapMs: number;
  readonly #clock: () => number;
  #stats: ReturnType<typeof setInterval> | undefined;
  /** The window asked for, whether its rows are held, and what the server was last told. */
  #view: WindowSpec | null;
  #held = false;
  #heldSent = false;
  #resortPending = false;
  #viewSentAt = -Infinity;
  #viewTimer: ReturnType<typeof setTimeout> | undefined;
  #viewResuming = false;
  /** Arrival times of frames applied since the last render. */
  #arrivals: number[] = [];
  /**
   * Frames that arrive before this (`#clock` time) are not timed: the first
   * `WARM_UP_MS` after a connection's first frame (the page starting,
   * the snapshot's rows laid out the first time) say nothing of the pace it
   * keeps, and timing them stepped every page load down to 5 Hz for seconds.
   */
  #timedFrom = Infinity;
  /** True while the store holds a stream position for the current subscriptions. */
  #resumable = false;
  #resuming = false;
  /** Subscribes sent and not yet answered: a Subscribed beyond them is the server's own. */
  #awaitingSubscribed = 0;

  constructor(url: string, options: FeedConnectionOptions = {}) {
    this.#url = url;
    this.#offlineAfter = options.offlineAfter ?? 4;
    this.#schedule = options.schedule ?? nextFrame;
    this.#now = options.now ?? Date.now;
    this.#WebSocket = options.WebSocket ?? WebSocket;
    this.#subscriptions = options.subscriptions ?? [{ id: 1, all: true }];
    this.#token = options.token ?? null;
    this.#view = options.view ?? null;
    this.#compact = options.compact ?? false;
    this.#statsEveryMs = options.statsEveryMs ?? 2_000;
    this.#viewGapMs = options.viewGapMs ?? 250;
    this.#clock = options.clock ?? (() => performance.now());
  }

  /** Frames a second the server sends this session now (its rate); 0 before it said. */
  get rateHz(): number {
    const ms = this.window.intervalMs || this.#topicIntervalMs;
    return ms > 0 ? 1000 / ms : 0;
  }

  #topicIntervalMs = 0;

  get view(): WindowSpec | null {
    return this.#view;
  }

  /**
   * Moves the window (scroll, sort, filter, group); `resort` asks for the
   * rows ordered now (the operator's own change). Sent at once, or when the
   * last ViewSubscribe is `viewGapMs` old: only the newest spec goes.
   */
  setView(spec: WindowSpec | null, o: { resort?: boolean } = {}): void {
    const closing = spec === null && this.#view !== null;
    // The counts are the old topic's: none until the new one's come (or if it is refused).
    if (
      JSON.stringify(spec?.subscriptions ?? []) !== JSON.stringify(this.#view?.subscriptions ?? [])
    ) {
      this.window.attentionCounts = null;
    }
    this.#view = spec;
    if (o.resort) this.#resortPending = true;
    if (closing && this.#socket?.readyState === 1) {
      this.#socket.send(encodeViewSubscribe({ offset: 0, limit: 0 }));
      this.window.reset();
      return;
    }
    this.#queueView();
  }

  /** Holds the rows where they are (the pointer is on them), or lets them follow the view's order. */
  holdRows(held: boolean): void {
    if (held === this.#held) return;
    this.#held = held;
    // A hold goes at once, not after the gap: until the server has it, a
    // reorder can still move the rows under the pointer. It carries the
    // newest spec, so a scroll waiting in the gap goes with it.
    if (held && this.#view !== null && this.#socket?.readyState === 1) {
      clearTimeout(this.#viewTimer);
      this.#viewTimer = undefined;
      this.#sendView(null);
      return;
    }
    this.#queueView();
  }

  #queueView(): void {
    if (this.#view === null || this.#socket?.readyState !== 1 || this.#viewTimer !== undefined) {
      return;
    }
    const wait = this.#viewSentAt + this.#viewGapMs - this.#now();
    if (wait <= 0) this.#sendView(null);
    else {
      this.#viewTimer = setTimeout(() => {
        this.#viewTimer = undefined;
        this.#sendView(null);
      }, wait);
    }
  }

  #sendView(resume: { epoch: number; seq: number } | null): void {
    const socket = this.#socket;
    if (this.#view === null || socket?.readyState !== 1) return;
    let order: ViewOrder = "keep";
    if (this.#resortPending) order = "resort"; // also releases a hold on the server
    else if (this.#held !== this.#heldSent) order = this.#held ? "hold" : "release";
    this.#resortPending = false;
    this.#heldSent = order === "resort" ? false : this.#held;
    this.#viewSentAt = this.#now();
    socket.send(encodeViewSubscribe({ ...this.#view, order, resume }));
    // A resort released the server's hold: the pointer still on the rows asks again.
    if (this.#held !== this.#heldSent) this.#queueView();
  }

  /** Uses a new token: sent at once on a live connection (a refresh), else on the next connect. */
  setToken(token: string | null): void {
    this.#token = token;
    this.needsToken = false;
    if (token && this.#socket?.readyState === 1) this.#socket.send(encodeAuth(token));
    else if (this.#socket === null && !this.#stopped) {
      clearTimeout(this.#retry);
      this.#connect();
    }
  }

  get subscriptions(): readonly SubscriptionSpec[] {
    return this.#subscriptions;
  }

  /** Switches what the topic subscriptions receive; the server answers with a fresh snapshot. None: stop. */
  setSubscriptions(subscriptions: SubscriptionSpec[]): void {
    const before = this.#subscriptions;
    this.#subscriptions = subscriptions;
    this.#resumable = false;
    if (this.#socket?.readyState !== 1) return;
    if (subscriptions.length === 0) {
      if (before.length > 0) {
        // The server answers an Unsubscribe too (a Subscribed to what is left, or an Error).
        this.#awaitingSubscribed++;
        this.#socket.send(encodeUnsubscribe(before.map((s) => s.id)));
      }
      this.store.apply({ ...EMPTY_SNAPSHOT }, this.#now());
      return;
    }
    this.#awaitingSubscribed++;
    this.#socket.send(encodeSubscribe(subscriptions, null, true));
  }

  /** Calls `listener` (at most once per animation frame) after changes. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#rate = setInterval(() => {
      const applied = this.store.updatesApplied + this.window.updatesApplied;
      this.updatesPerSecond = applied - this.#countedUpdates;
      this.#countedUpdates = applied;
      this.bytesPerSecond = this.bytesReceived - this.#countedBytes;
      this.#countedBytes = this.bytesReceived;
      this.#changed();
    }, 1000);
    if (this.#statsEveryMs > 0) this.#stats = setInterval(() => this.#report(), this.#statsEveryMs);
    this.#connect();
  }

  /** Tells the server how long frames take here, so it can send less often to a slow client. */
  #report(): void {
    const { p95, count } = this.frameTimes.take();
    if (count > 0 && this.#socket?.readyState === 1) {
      this.#socket.send(encodeClientStats(p95, count));
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearTimeout(this.#viewTimer);
    this.#viewTimer = undefined;
    clearInterval(this.#rate);
    clearInterval(this.#stats);
    this.#socket?.close(1000, "client stopped");
    this.#socket = null;
  }

  #connect(): void {
    this.#timedFrom = Infinity;
    // The token travels as a subprotocol, never in the URL.
    const url = this.#url + "?subscribe=explicit" + (this.#compact ? "&encoding=compact" : "");
    const socket = this.#token
      ? new this.#WebSocket(url, ["pulseboard", `bearer.${this.#token}`])
      : new this.#WebSocket(url);
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    socket.onopen = () => {
      if (this.#subscriptions.length > 0) {
        // Resume from the last applied frame if the store has one for these subscriptions.
        const resume = this.#resumable ? { epoch: this.store.epoch, seq: this.store.seq } : null;
        this.#resuming = resume !== null;
        this.#awaitingSubscribed = 1;
        socket.send(encodeSubscribe(this.#subscriptions, resume, true));
      }
      if (this.#view !== null) {
        // The window resumes from its last frame when that one left it on its stream.
        const w = this.window;
        const resume = w.onStream && w.epoch !== -1 ? { epoch: w.epoch, seq: w.seq } : null;
        this.#viewResuming = resume !== null;
        this.#heldSent = false;
        clearTimeout(this.#viewTimer);
        this.#viewTimer = undefined;
        this.#sendView(resume);
      }
    };
    socket.onmessage = (event) => this.#onFrame(socket, event.data);
    socket.onclose = (event) => this.#onClose(socket, event);
    socket.onerror = () => {
      this.lastError = "connection failed";
    };
  }

  #onFrame(socket: WebSocket, data: unknown): void {
    if (socket !== this.#socket || !(data instanceof ArrayBuffer)) return;
    const arrived = this.#clock();
    if (this.#timedFrom === Infinity) this.#timedFrom = arrived + WARM_UP_MS;
    this.framesReceived++;
    this.bytesReceived += data.byteLength;
    let event;
    try {
      event = decodeServerFrame(new Uint8Array(data), { base: this.store, viewBase: this.window });
    } catch (error) {
      this.lastError = `undecodable frame: ${(error as Error).message}`;
      socket.close(4000, "undecodable frame");
      return;
    }
    switch (event.type) {
      case "ping":
        socket.send(encodePong(event.nonce));
        return;
      case "error":
        this.lastError = event.message;
        // A refused Subscribe is answered with an error instead of Subscribed.
        this.#awaitingSubscribed = Math.max(0, this.#awaitingSubscribed - 1);
        this.#changed();
        return;
      case "view":
        if (this.window.apply(event, this.#now()) === "gap") {
          this.lastError = "window frames from another stream: resyncing";
          this.window.reset();
          socket.close(1000, "resync");
          return;
        }
        this.#arrivals.push(arrived);
        this.#live();
        this.#changed();
        return;
      case "subscribed":
        if (event.view) {
          // The answer to the window's ViewSubscribe: its frames follow.
          if (this.#viewResuming) this.#notify(event.recovered ? "resumed" : "resynced");
          this.#viewResuming = false;
          if (event.recovered) this.#live();
          this.#changed();
          return;
        }
        this.topic = event.topic;
        if (this.store.apply(event, this.#now()) === "gap") {
          this.lastError = "resume point not accepted: resyncing";
          this.#resumable = false;
          socket.close(1000, "resync");
          return;
        }
        if (this.#resuming) this.#notify(event.recovered ? "resumed" : "resynced");
        // Unasked: the server started a new epoch (its state was rebuilt), continuity lost.
        else if (this.#awaitingSubscribed === 0 && !event.recovered) this.#notify("resynced");
        this.#awaitingSubscribed = Math.max(0, this.#awaitingSubscribed - 1);
        this.#resuming = false;
        if (event.recovered) this.#live();
        this.#changed();
        return;
      case "snapshot":
      case "delta":
        if (this.store.apply(event, this.#now()) === "gap") {
          // Continuity lost: a fresh connection brings a fresh snapshot.
          this.lastError = "missed frames: resyncing";
          this.#resumable = false;
          this.#attempt = 0;
          socket.close(1000, "resync");
          return;
        }
        this.#resumable = true;
        this.#arrivals.push(arrived);
        if (event.type === "delta" && event.intervalMs) this.#topicIntervalMs = event.intervalMs;
        this.aggregates.apply(event);
        if (event.type === "snapshot") {
          if (event.catchUp) this.#notify("slow — catching up");
          this.#live();
        }
        this.#changed();
        return;
      default:
        return;
    }
  }

  #onClose(socket: WebSocket, event: CloseEvent): void {
    if (socket !== this.#socket) return;
    this.#socket = null;
    if (this.#stopped) return;
    this.reason = closeReason(event.code, event.reason);
    if (event.code !== 1000 && event.code !== 1005) {
      this.lastError = `closed with ${event.code}${event.reason ? `: ${event.reason}` : ""}`;
    }
    if (event.code === 4003) {
      // A token problem does not heal by retrying: wait for a new token.
      this.needsToken = true;
      this.state = "offline";
      this.#changed();
      return;
    }
    this.state = this.#attempt >= this.#offlineAfter ? "offline" : "reconnecting";
    this.reconnects++;
    const delay = reconnectDelay(this.#attempt++);
    this.nextRetryAt = this.#now() + delay;
    this.#retry = setTimeout(() => {
      this.nextRetryAt = 0;
      this.#connect();
    }, delay);
    this.#changed();
  }

  /** The operator's "retry now": a reconnect at once instead of at the scheduled time. */
  retryNow(): void {
    if (this.#stopped || this.#socket !== null) return;
    clearTimeout(this.#retry);
    this.nextRetryAt = 0;
    this.#connect();
    this.#changed();
  }

  #live(): void {
    this.state = "live";
    this.#attempt = 0;
    this.lastError = "";
    this.reason = "";
    this.lastDataAt = this.#now();
  }

  #notify(notice: FeedNotice): void {
    this.notice = notice;
    this.noticeAt = this.#now();
  }

  #changed(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#schedule(() => {
      this.#scheduled = false;
      for (const listener of this.#listeners) listener();
      // The frames applied are on screen once the render the listeners caused has run.
      const arrivals = this.#arrivals;
      this.#arrivals = [];
      if (arrivals.length > 0) {
        setTimeout(() => {
          const at = this.#clock();
          for (const t of arrivals) if (t >= this.#timedFrom) this.frameTimes.add(at - t);
        }, 0);
      }
    });
  }

  /** The clock that stamps `store.changedAt` (ms since epoch). */
  now(): number {
    return this.#now();
  }
}

const EMPTY_SNAPSHOT = {
  type: "snapshot" as const,
  epoch: -1,
  seq: -1,
  serverTimeMs: 0,
  sensors: [],
  metrics: [],
  values: {
    length: 0,
    sensor: new Uint32Array(0),
    metric: new Uint16Array(0),
    last: new Float64Array(0),
    avg: new Float64Array(0),
    min: new Float64Array(0),
    max: new Float64Array(0),
    timeMs: new Float64Array(0),
  },
  catchUp: false,
  windowSizesMs: [],
  countWindow: 0,
  windows: {
    length: 0,
    sensor: new Uint32Array(0),
    metric: new Uint16Array(0),
    size: new Uint8Array(0),
    flags: new Uint8Array(0),
    startMs: new Float64Array(0),
    count: new Float64Array(0),
    sum: new Float64Array(0),
    min: new Float64Array(0),
    max: new Float64Array(0),
    std: new Float64Array(0),
  },
  aggregates: [],
  late: [],
};
