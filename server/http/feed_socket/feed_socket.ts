// @ts-types="@types/ws"
import { WebSocketServer } from "ws";
import { problem } from "../errors.ts";
import { TransportStats } from "../transport_stats.ts";
import { clientAddress, compileProxyTrust } from "../client_address.ts";
import type { ProxyTrust } from "../client_address.ts";
import type { ConnectionInfo } from "../app.ts";
import { switched, takeUpgrade } from "../upgrade.ts";
import type { FrameSink } from "../../../actors/hub/mod.ts";
import { CloseCode } from "../../../protocol/close_codes.ts";
import { MAX_CLIENT_MESSAGE_BYTES } from "../../../protocol/client_messages.ts";
import { ConnectionQuota } from "./connection_quota.ts";
import { FeedConnection } from "./feed_connection.ts";
import { FEED_PROTOCOL, readFeedRequest } from "./feed_request.ts";
import type { TokenCheck } from "./feed_request.ts";
import { FeedClient } from "./feed_client.ts";
import type { FeedHub, FeedShared } from "./feed_client.ts";
import { WireFrames } from "./wire_frames.ts";
import { AddressRowBudgets, rowBudget } from "./view_pacing.ts";

export { FEED_PROTOCOL };

export interface FeedSocketOptions {
  /** Open feed connections in all (`--max-clients`). Default: no bound. */
  maxClients?: number;
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
  /**
   * Rows per second a connection's ViewSubscribes may ask for, and all of one
   * address's together (`ViewPacer`, a burst of two seconds' worth). Default
   * 2,000 and 5,000.
   */
  viewRows?: { perConnection: number; perAddress: number };
  /** Largest inbound message. Default `MAX_CLIENT_MESSAGE_BYTES` (128 KiB). */
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

/**
 * GET /ws: the only place that touches the WebSocket library (npm `ws`). A
 * connection goes through small steps: the request (readFeedRequest: query,
 * subprotocol token), the server's bound (503), its address's quota (429), the upgrade, its sink
 * (SocketSink, which the hub's session sends through), its authentication
 * (ViewerAuth, and a quota per token subject), each inbound message
 * (readInbound: rate, binary, verified) and its routing to the hub (the
 * socket's FeedClient). Anything
 * bad closes the socket with a documented code and never reaches the hub.
 * When the hub restarts, its sessions are gone: every open connection is
 * closed with 1012 and its client reconnects.
 */
export function feedSocketHandler(hub: FeedHub, options: FeedSocketOptions = {}) {
  const addresses = new ConnectionQuota(options.maxConnectionsPerAddress ?? 64);
  const subjects = new ConnectionQuota(options.maxConnectionsPerToken ?? 16);
  const proxyTrust = options.proxyTrust ?? compileProxyTrust(options.trustedProxies ?? []);
  const stats = options.stats ?? new TransportStats();
  const maxClients = options.maxClients ?? Infinity;
  stats.maxClients = Number.isFinite(maxClients) ? maxClients : null;
  // The connections the hub knows: a restarted hub knows none, so they are told to come back.
  const live = new Set<FrameSink>();
  // A frame the hub sends to many sessions is framed once for all their sockets.
  const frames = new WireFrames();
  const shared: FeedShared = {
    hub,
    live,
    frames,
    stats,
    tokens: options.tokens,
    authTimeoutMs: options.authTimeoutMs,
    maxConnectionsPerToken: options.maxConnectionsPerToken ?? 16,
    messageRate: options.messageRate ?? { capacity: 20, perSecond: 5 },
    viewRows: {
      perConnection: rowBudget(options.viewRows?.perConnection ?? 2_000),
      addresses: new AddressRowBudgets(rowBudget(options.viewRows?.perAddress ?? 5_000)),
    },
  };
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
    // Each open client may hold up to --max-buffered and a frame: the sum is bounded here,
    // checked after the last await, so concurrent upgrades cannot overshoot it.
    if (stats.feedSockets >= maxClients) {
      stats.feedRefusedFull++;
      return problem(
        503,
        `Too many feed connections on this server (limit ${maxClients})`,
        { "retry-after": "5" },
      );
    }
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
      new FeedClient(socket, { raw: raw.socket, shared, asked, address, connection });
    });
    return switched();
  };
}
