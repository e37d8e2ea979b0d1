// Owns the WebSocket: connects, decodes frames into the store, answers
// pings, reconnects with backoff, and tells listeners at most once per
// animation frame that something changed. No framework code here.
import { reconnectDelay } from "./backoff.ts";
import { decodeServerFrame, encodeAuth, encodePong, encodeSubscribe } from "@pulseboard/protocol";
import type { SubscriptionSpec } from "@pulseboard/protocol";
import { SensorStore } from "./sensor_store.ts";
import { AggregateBook } from "./aggregate_book.ts";

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
  /** What to receive. Default: everything. */
  subscriptions?: SubscriptionSpec[];
  /** Dashboard JWT, when the server requires one. */
  token?: string | null;
}

type FrameScheduler = (callback: () => void) => unknown;

/** requestAnimationFrame where there is one (browsers), else a 16 ms timer. */
function nextFrame(callback: () => void): void {
  const raf = (globalThis as { requestAnimationFrame?: FrameScheduler }).requestAnimationFrame;
  if (raf) raf(() => callback());
  else setTimeout(callback, 16);
}

export class FeedConnection {
  readonly store = new SensorStore();
  /** Group aggregates pushed on the feed. */
  readonly aggregates = new AggregateBook();
  state: ConnectionState = "connecting";
  /** Metric updates per second, over the last second. */
  updatesPerSecond = 0;
  framesReceived = 0;
  bytesReceived = 0;
  reconnects = 0;
  lastError = "";
  notice: FeedNotice = "";
  noticeAt = 0;
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

  /** Switches what the feed receives; the server answers with a fresh snapshot. */
  setSubscriptions(subscriptions: SubscriptionSpec[]): void {
    this.#subscriptions = subscriptions;
    this.#resumable = false;
    if (this.#socket?.readyState === 1) {
      this.#awaitingSubscribed++;
      this.#socket.send(encodeSubscribe(subscriptions, null, true));
    }
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
      this.updatesPerSecond = this.store.updatesApplied - this.#countedUpdates;
      this.#countedUpdates = this.store.updatesApplied;
      this.#changed();
    }, 1000);
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#rate);
    this.#socket?.close(1000, "client stopped");
    this.#socket = null;
  }

  #connect(): void {
    // The token travels as a subprotocol, never in the URL.
    const socket = this.#token
      ? new this.#WebSocket(this.#url + "?subscribe=explicit", [
        "pulseboard",
        `bearer.${this.#token}`,
      ])
      : new this.#WebSocket(this.#url + "?subscribe=explicit");
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    socket.onopen = () => {
      // Resume from the last applied frame if the store has one for these subscriptions.
      const resume = this.#resumable ? { epoch: this.store.epoch, seq: this.store.seq } : null;
      this.#resuming = resume !== null;
      this.#awaitingSubscribed = 1;
      socket.send(encodeSubscribe(this.#subscriptions, resume, true));
    };
    socket.onmessage = (event) => this.#onFrame(socket, event.data);
    socket.onclose = (event) => this.#onClose(socket, event);
    socket.onerror = () => {
      this.lastError = "connection failed";
    };
  }

  #onFrame(socket: WebSocket, data: unknown): void {
    if (socket !== this.#socket || !(data instanceof ArrayBuffer)) return;
    this.framesReceived++;
    this.bytesReceived += data.byteLength;
    let event;
    try {
      event = decodeServerFrame(new Uint8Array(data));
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
      case "subscribed":
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
    this.#retry = setTimeout(() => this.#connect(), delay);
    this.#changed();
  }

  #live(): void {
    this.state = "live";
    this.#attempt = 0;
    this.lastError = "";
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
    });
  }

  /** The clock that stamps `store.changedAt` (ms since epoch). */
  now(): number {
    return this.#now();
  }
}
