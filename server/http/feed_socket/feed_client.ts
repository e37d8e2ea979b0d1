// @ts-types="@types/ws"
import type { WebSocket } from "ws";
import type { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import type { TransportStats } from "../transport_stats.ts";
import { TokenBucket } from "../token_bucket.ts";
import type { FrameSink, Hub } from "../../../actors/hub/mod.ts";
import type { Viewer } from "../../auth/mod.ts";
import { CloseCode } from "../../../protocol/close_codes.ts";
import type { ClientMessage, ViewRequest } from "../../../protocol/client_messages.ts";
import { encodeError } from "../../../protocol/server_frames.ts";
import type { FeedConnection } from "./feed_connection.ts";
import type { FeedRequest, TokenCheck } from "./feed_request.ts";
import { readInbound } from "./inbound.ts";
import { SocketSink } from "./socket_sink.ts";
import type { WireFrames } from "./wire_frames.ts";
import { ViewerAuth } from "./viewer_auth.ts";
import { ViewPacer } from "./view_pacing.ts";
import type { AddressRowBudgets } from "./view_pacing.ts";

/** The hub as the feed sees it: sessions go to it, and it says when it restarted. */
export type FeedHub = Pick<Hub, "send" | "offer" | "onRestart">;

/** What every connection of one feed handler shares (made once, not per socket). */
export interface FeedShared {
  hub: FeedHub;
  /** The connections the hub knows (closed with 1012 when it restarts). */
  live: Set<FrameSink>;
  frames: WireFrames;
  stats: TransportStats;
  tokens?: TokenCheck;
  authTimeoutMs?: number;
  maxConnectionsPerToken: number;
  messageRate: { capacity: number; perSecond: number };
  /** Rows a connection's ViewSubscribes may ask for (`ViewPacer`), and its address's budgets. */
  viewRows: {
    perConnection: { capacity: number; perSecond: number };
    addresses: AddressRowBudgets;
  };
}

const CLIENT = Symbol("feed client");
type ClientSocket = WebSocket & { [CLIENT]?: FeedClient };

/**
 * One upgraded feed socket: its sink, its authentication, its messages, its
 * end. Thousands are open at once, so a connection is this one object and
 * what it must hold: the socket's listeners are shared by every socket (they
 * find their client on the socket), and without tokens there is no
 * authentication state at all.
 */
export class FeedClient {
  readonly sink: SocketSink;
  readonly #shared: FeedShared;
  /** What the upgrade asked for, until the connection joins the hub (then let go). */
  #asked: FeedRequest | null;
  readonly #address: string;
  readonly #connection: FeedConnection;
  /** Null when the feed has no tokens (open): every connection joins at once. */
  readonly #auth: ViewerAuth | null;
  readonly #rate: TokenBucket;
  /** Made at the first ViewSubscribe (a full-topic client has none). */
  #pacer: ViewPacer | null = null;
  #paceTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    socket: WebSocket,
    o: {
      /** The upgraded connection the socket runs on. */
      raw: Duplex;
      shared: FeedShared;
      asked: FeedRequest;
      address: string;
      connection: FeedConnection;
    },
  ) {
    this.#shared = o.shared;
    this.#asked = o.asked;
    this.#address = o.address;
    this.#connection = o.connection;
    this.sink = new SocketSink(socket, { connection: o.raw, frames: o.shared.frames, owner: this });
    o.shared.live.add(this.sink);
    this.#rate = new TokenBucket(o.shared.messageRate, Date.now());
    if (o.shared.tokens) {
      const auth = new ViewerAuth(o.shared.tokens, {
        viewer: o.asked.viewer,
        authTimeoutMs: o.shared.authTimeoutMs,
        onJoin: (viewer) => this.#join(viewer),
        onRefuse: (code, reason) => this.#refuse(code, reason),
      });
      o.connection.onRelease = () => auth.stop();
      this.#auth = auth;
    } else this.#auth = null;
    (socket as ClientSocket)[CLIENT] = this;
    socket.on("message", onMessage);
    socket.on("error", onError);
    socket.on("close", onClose);
    if (this.#auth) this.#auth.opened();
    else this.#join(null);
  }

  /** The sink was closed; `sent` when a close frame went out (not yet acknowledged). */
  sinkClosed(sent: boolean): void {
    this.#shared.live.delete(this.sink);
    if (sent) this.#connection.abortUnlessClosed();
  }

  /** An inbound message: within the rate, binary, verified, then routed. */
  message(data: Buffer, binary: boolean): void {
    if (this.sink.closed) return;
    const now = Date.now();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const inbound = readInbound(bytes, { binary, rate: this.#rate, now });
    if ("refuse" in inbound) return this.#refuse(inbound.refuse.code, inbound.refuse.reason);
    this.sink.heardAt = now; // any valid message counts as a sign of life
    this.#route(inbound.message);
  }

  // The library closes the socket itself on a protocol error: a message over
  // the cap (1009, counted across fragments), or a malformed frame (1002).
  error(error: Error & { code?: string }): void {
    const tooBig = error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
    if (tooBig) this.#shared.stats.feedTooBig++;
    this.sink.close(tooBig ? CloseCode.MessageTooBig : 1002, "refused by the transport");
  }

  closed(): void {
    if (this.#pacer) {
      this.#pacer = null;
      if (this.#paceTimer !== null) clearTimeout(this.#paceTimer);
      this.#paceTimer = null;
      this.#shared.viewRows.addresses.leave(this.#address, Date.now());
    }
    this.#connection.release();
    this.sink.close(1000, "closed");
    this.#shared.hub.offer({ type: "leave", sink: this.sink });
  }

  #refuse(code: number, reason: string): void {
    this.sink.send(encodeError(code, reason));
    this.sink.close(code, reason);
  }

  #join(viewer: Viewer | null): void {
    if (viewer && !this.#connection.takeSubject(viewer.subject)) {
      return this.#refuse(
        CloseCode.Unauthorized,
        `too many connections for this token (limit ${this.#shared.maxConnectionsPerToken})`,
      );
    }
    const sink = this.sink;
    const asked = this.#asked;
    if (asked === null) return; // joined already
    this.#asked = null;
    this.#shared.hub.send({
      type: "join",
      sink,
      explicit: asked.explicit,
      scope: viewer?.groups ?? null,
      windows: asked.windows,
      encoding: asked.encoding,
      address: this.#address,
      subject: viewer?.subject ?? null,
    }).catch(() => sink.close(1011, "server is stopping"));
  }

  /** Routes a verified message: Auth to the authentication, (un)subscriptions to the hub. */
  #route(message: ClientMessage): void {
    const { hub } = this.#shared;
    const sink = this.sink;
    if (message.type === "auth") {
      if (!this.#auth) return this.#refuse(CloseCode.BadFrame, "this server does not use tokens");
      return void this.#auth.authenticate(message.token);
    }
    if (this.#auth && !this.#auth.authenticated) {
      return this.#refuse(CloseCode.Unauthorized, "authenticate with a token first");
    }
    if (message.type === "subscribe" || message.type === "unsubscribe") {
      // A full hub mailbox must not block the socket: refuse, the client may retry.
      if (!hub.offer({ ...message, sink })) {
        sink.send(encodeError(0, "Cannot subscribe: the server is busy, retry shortly"));
      }
    } else if (message.type === "view") {
      const now = Date.now();
      const addresses = this.#shared.viewRows.addresses;
      const pacer = this.#pacer ??= new ViewPacer(
        new TokenBucket(this.#shared.viewRows.perConnection, now),
        addresses.join(this.#address, now),
        addresses.views(this.#address),
      );
      const request = pacer.offer(message.request, now);
      if (request !== null) this.#paced(pacer, request);
      else {
        this.#shared.stats.feedViewsPaced++;
        this.#paceLater();
      }
    } else if (message.type === "stats") {
      // A report is advice: dropped when the hub is busy.
      hub.offer({ type: "clientStats", sink, frameP95Ms: message.frameP95Ms });
    }
  }

  #view(request: ViewRequest): void {
    if (!this.#shared.hub.offer({ type: "view", sink: this.sink, request })) {
      this.sink.send(encodeError(0, "Cannot open view: the server is busy, retry shortly"));
    }
  }

  /** A request the pacer let go, then the hold a held resort owes (`ViewPacer.followUp`). */
  #paced(pacer: ViewPacer, request: ViewRequest): void {
    this.#view(request);
    const followUp = pacer.followUp();
    if (followUp !== null) this.#view(followUp);
  }

  /** Sends the held ViewSubscribe once its rows fit the budgets. */
  #paceLater(): void {
    if (this.#paceTimer !== null || !this.#pacer) return;
    const pacer = this.#pacer;
    this.#paceTimer = setTimeout(() => {
      this.#paceTimer = null;
      if (this.#pacer !== pacer || this.sink.closed) return;
      const request = pacer.release(Date.now());
      if (request !== null) this.#paced(pacer, request);
      else if (pacer.holding) this.#paceLater();
    }, Math.max(1, pacer.waitMs(Date.now())));
  }
}

// One listener of each kind for every socket (`ws` calls them with the socket as `this`).
function onMessage(this: ClientSocket, data: Buffer, binary: boolean): void {
  this[CLIENT]!.message(data, binary);
}

function onError(this: ClientSocket, error: Error & { code?: string }): void {
  this[CLIENT]!.error(error);
}

function onClose(this: ClientSocket): void {
  this[CLIENT]!.closed();
}
