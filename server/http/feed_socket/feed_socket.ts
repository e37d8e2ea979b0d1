// @ts-types="@types/ws"
import { WebSocketServer } from "ws";
// @ts-types="@types/ws"
import type { WebSocket } from "ws";
import type { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { problem } from "../errors.ts";
import { TransportStats } from "../transport_stats.ts";
import { TokenBucket } from "../token_bucket.ts";
import { clientAddress, compileProxyTrust } from "../client_address.ts";
import type { ProxyTrust } from "../client_address.ts";
import type { ConnectionInfo } from "../app.ts";
import { switched, takeUpgrade } from "../upgrade.ts";
import type { FrameSink, Hub } from "../../../actors/hub/mod.ts";
import type { Viewer } from "../../auth/mod.ts";
import { CloseCode } from "../../../protocol/close_codes.ts";
import { MAX_CLIENT_MESSAGE_BYTES } from "../../../protocol/client_messages.ts";
import type { ClientMessage } from "../../../protocol/client_messages.ts";
import { encodeError } from "../../../protocol/server_frames.ts";
import { ConnectionQuota } from "./connection_quota.ts";
import { FeedConnection } from "./feed_connection.ts";
import { FEED_PROTOCOL, readFeedRequest } from "./feed_request.ts";
import type { FeedRequest, TokenCheck } from "./feed_request.ts";
import { readInbound } from "./inbound.ts";
import { SocketSink } from "./socket_sink.ts";
import { WireFrames } from "./wire_frames.ts";
import { ViewerAuth } from "./viewer_auth.ts";

export { FEED_PROTOCOL };

export interface FeedSocketOptions {
  /** Open feed connections per client address. Default 64. */
  maxConnectionsPerAddress?: number;
  /** Proxies whose X-Forwarded-For names the client (`--trusted-proxies`); null: none. */
  proxyTrust?: ProxyTrust | null;
  /** The same, as `--trusted-proxies` lists them (compiled here when `proxyTrust` is absent). */
  trustedProxies?: string[];
  /** Open feed connections per token subject. Default 16. */
  maxConnectionsPerToken?: number;
  /** Inbound messages per connection: a burst of `capacity`, then `perSecond`. Default 20 and 5/s. */
  messageRate?: { capacity: number; perSecond: number };
  /** Largest inbound message. Default `MAX_CLIENT_MESSAGE_BYTES` (64 KiB). */
  maxMessageBytes?: number;
  /** Dashboard JWTs; without it the feed is open (loopback only, see auth/open_auth.ts). */
  tokens?: TokenCheck;
  /** How long an unauthenticated connection may wait for its Auth message. Default 5000 ms. */
  authTimeoutMs?: number;
  /**
   * How long a close frame may take to reach the client before the connection
   * is aborted (a stalled reader never takes it in). Default 1000 ms.
   */
  closeGraceMs?: number;
  /** Counters the server reports (feedSockets, feedAborted, feedTooBig); a fresh one if not given. */
  stats?: TransportStats;
}

/** The hub as the feed sees it: sessions go to it, and it says when it restarted. */
type FeedHub = Pick<Hub, "send" | "offer" | "onRestart">;

/**
 * GET /ws: the only place that touches the WebSocket library (npm `ws`). A
 * connection goes through small steps: the request (readFeedRequest: query,
 * subprotocol token), its address's quota (429), the upgrade, its sink
 * (SocketSink, which the hub's session sends through), its authentication
 * (ViewerAuth, and a quota per token subject), each inbound message
 * (readInbound: rate, binary, verified) and its routing to the hub. Anything
 * bad closes the socket with a documented code and never reaches the hub.
 * When the hub restarts, its sessions are gone: every open connection is
 * closed with 1012 and its client reconnects.
 */
export function feedSocketHandler(hub: FeedHub, options: FeedSocketOptions = {}) {
  const addresses = new ConnectionQuota(options.maxConnectionsPerAddress ?? 64);
  const subjects = new ConnectionQuota(options.maxConnectionsPerToken ?? 16);
  const proxyTrust = options.proxyTrust ?? compileProxyTrust(options.trustedProxies ?? []);
  const stats = options.stats ?? new TransportStats();
  // The connections the hub knows: a restarted hub knows none, so they are told to come back.
  const live = new Set<FrameSink>();
  // A frame the hub sends to many sessions is framed once for all their sockets.
  const frames = new WireFrames();
  hub.onRestart(() => {
    for (const sink of [...live]) sink.close(CloseCode.ServiceRestart, "service restart");
  });
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxMessageBytes ?? MAX_CLIENT_MESSAGE_BYTES,
    perMessageDeflate: false,
    // The server selects `pulseboard` when offered (next to `bearer.<jwt>`), else none.
    handleProtocols: (offered) => offered.has(FEED_PROTOCOL) ? FEED_PROTOCOL : false,
  });
  return async (request: Request, info?: ConnectionInfo): Promise<Response> => {
    const raw = takeUpgrade(request);
    if (raw === null || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problem(426, "GET /ws expects a WebSocket upgrade", { upgrade: "websocket" });
    }
    const asked = await readFeedRequest(request, options.tokens);
    if (asked instanceof Response) return asked;
    const address = clientAddress(request, info, proxyTrust);
    if (!addresses.take(address)) {
      return problem(
        429,
        `Too many feed connections from ${address} (limit ${addresses.limit})`,
        { "retry-after": "5" },
      );
    }
    const connection = new FeedConnection(raw.socket, {
      address,
      addresses,
      subjects,
      stats,
      closeGraceMs: options.closeGraceMs ?? 1_000,
    });
    // The library refused the handshake itself (it answered 400): free the slot.
    const refused = () => connection.release();
    raw.socket.once("close", refused);
    // Listeners go on inside the upgrade callback: attached even one microtask
    // later, they can miss the client's first message.
    server.handleUpgrade(raw.request, raw.socket, raw.head, (socket) => {
      // From here the socket's own close releases it; nothing of the handshake stays attached.
      raw.socket.off("close", refused);
      serveSocket(socket, {
        hub,
        live,
        frames,
        raw: raw.socket,
        asked,
        address,
        connection,
        stats,
        options,
      });
    });
    return switched();
  };
}

/** Serves one upgraded socket: its sink, its authentication, its messages, its end. */
function serveSocket(
  socket: WebSocket,
  context: {
    hub: FeedHub;
    live: Set<FrameSink>;
    frames: WireFrames;
    /** The upgraded connection the socket runs on. */
    raw: Duplex;
    asked: FeedRequest;
    address: string;
    connection: FeedConnection;
    stats: TransportStats;
    options: FeedSocketOptions;
  },
): void {
  const { hub, live, frames, raw, asked, address, connection, stats, options } = context;
  const sink = new SocketSink(socket, {
    connection: raw,
    frames,
    onClose: (sent) => {
      live.delete(sink);
      if (sent) connection.abortUnlessClosed();
    },
  });
  live.add(sink);
  const refuse = (code: number, reason: string) => {
    sink.send(encodeError(code, reason));
    sink.close(code, reason);
  };
  const join = (viewer: Viewer | null) => {
    if (viewer && !connection.takeSubject(viewer.subject)) {
      return refuse(
        CloseCode.Unauthorized,
        `too many connections for this token (limit ${options.maxConnectionsPerToken ?? 16})`,
      );
    }
    hub.send({
      type: "join",
      sink,
      explicit: asked.explicit,
      scope: viewer?.groups ?? null,
      windows: asked.windows,
      encoding: asked.encoding,
      address,
      subject: viewer?.subject ?? null,
    }).catch(() => sink.close(1011, "server is stopping"));
  };
  const auth = new ViewerAuth(options.tokens, {
    viewer: asked.viewer,
    authTimeoutMs: options.authTimeoutMs,
    onJoin: join,
    onRefuse: refuse,
  });
  connection.onRelease = () => auth.stop();
  const rate = new TokenBucket(options.messageRate ?? { capacity: 20, perSecond: 5 }, Date.now());
  /** Routes a verified message: Auth to the authentication, (un)subscriptions to the hub. */
  const route = (message: ClientMessage) => {
    if (message.type === "auth") return void auth.authenticate(message.token);
    if (!auth.authenticated) {
      return refuse(CloseCode.Unauthorized, "authenticate with a token first");
    }
    if (message.type === "subscribe" || message.type === "unsubscribe") {
      // A full hub mailbox must not block the socket: refuse, the client may retry.
      if (!hub.offer({ ...message, sink })) {
        sink.send(encodeError(0, "Cannot subscribe: the server is busy, retry shortly"));
      }
    } else if (message.type === "view") {
      if (!hub.offer({ type: "view", sink, request: message.request })) {
        sink.send(encodeError(0, "Cannot open view: the server is busy, retry shortly"));
      }
    } else if (message.type === "stats") {
      // A report is advice: dropped when the hub is busy.
      hub.offer({ type: "clientStats", sink, frameP95Ms: message.frameP95Ms });
    }
  };
  socket.on("message", (data: Buffer, binary: boolean) => {
    if (sink.closed) return;
    const now = Date.now();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const inbound = readInbound(bytes, { binary, rate, now });
    if ("refuse" in inbound) return refuse(inbound.refuse.code, inbound.refuse.reason);
    sink.heardAt = now; // any valid message counts as a sign of life
    route(inbound.message);
  });
  // The library closes the socket itself on a protocol error: a message over
  // the cap (1009, counted across fragments), or a malformed frame (1002).
  socket.on("error", (error: Error & { code?: string }) => {
    const tooBig = error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
    if (tooBig) stats.feedTooBig++;
    sink.close(tooBig ? CloseCode.MessageTooBig : 1002, "refused by the transport");
  });
  socket.on("close", () => {
    connection.release();
    sink.close(1000, "closed");
    hub.offer({ type: "leave", sink });
  });
  auth.opened();
}
