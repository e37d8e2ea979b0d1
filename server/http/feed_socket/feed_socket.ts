// @ts-types="@types/ws"
import { WebSocketServer } from "ws";
// @ts-types="@types/ws"
import type { WebSocket } from "ws";
import type { Socket } from "node:net";
import type { Buffer } from "node:buffer";
import { closeCodeFor, problem } from "../errors.ts";
import { TransportStats } from "../transport_stats.ts";
import { TokenBucket } from "../token_bucket.ts";
import type { FrameSink, Hub } from "../../../actors/hub/mod.ts";
import { tokenFromProtocols } from "../../auth/mod.ts";
import type { Viewer } from "../../auth/mod.ts";
import { CloseCode } from "../../../protocol/close_codes.ts";
import {
  decodeClientMessage,
  MAX_CLIENT_MESSAGE_BYTES,
} from "../../../protocol/client_messages.ts";
import { encodeError } from "../../../protocol/mod.ts";
import { clientAddress, compileProxyTrust } from "../client_address.ts";
import type { ProxyTrust } from "../client_address.ts";
import type { ConnectionInfo } from "../app.ts";
import { switched, takeUpgrade } from "../upgrade.ts";

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
  /** Dashboard JWTs; without it the feed is open (loopback only, see main.ts). */
  tokens?: { verify(token: string): Promise<Viewer> };
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

/** The subprotocol a client offers next to `bearer.<jwt>`; the server selects it. */
export const FEED_PROTOCOL = "pulseboard";

/**
 * GET /ws: the only place that touches the WebSocket library (npm `ws`). It
 * adapts the socket to a Session and tells the hub when it opens and closes.
 * Inbound messages are size-checked by the library as their fragments arrive
 * (1009 once the running total passes the cap), then rate-limited and
 * verified; anything bad closes the socket with a documented code and never
 * reaches the hub. A close that is not delivered within `closeGraceMs` (a
 * client that stopped reading) aborts the connection, which drops its queued
 * frames; the connection's per-address slot is held until then. With tokens
 * configured, a session joins only once its JWT is verified (from the
 * `bearer.<jwt>` subprotocol before the upgrade, or a first Auth message),
 * and it is closed with 4003 when the token expires unless refreshed.
 */
export function feedSocketHandler(
  hub: Pick<Hub, "send" | "offer" | "onRestart">,
  options: FeedSocketOptions = {},
) {
  const maxPerAddress = options.maxConnectionsPerAddress ?? 64;
  const perAddress = new Map<string, number>();
  const maxPerToken = options.maxConnectionsPerToken ?? 16;
  const perToken = new Map<string, number>();
  const closeGraceMs = options.closeGraceMs ?? 1_000;
  const proxyTrust = options.proxyTrust ??
    compileProxyTrust(options.trustedProxies ?? []);
  const stats = options.stats ?? new TransportStats();
  // The connections the hub knows: a restarted hub knows none, so they are told to come back.
  const live = new Set<FrameSink>();
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
    // The Origin was checked before this handler (app.ts: allowed hosts, --allowed-origins).
    const query = new URL(request.url).searchParams;
    for (const [name, value] of query) {
      if (
        !(name === "subscribe" && value === "explicit") &&
        !(name === "windows" && (value === "1" || value === "true"))
      ) {
        return problem(
          400,
          `Unknown query parameter ${name}=${value}: only subscribe=explicit and windows=1 are accepted`,
        );
      }
    }
    // windows=1: also per-sensor event-time windows on the implicit everything-subscription.
    const windows = query.has("windows");
    // With subscribe=explicit the client gets nothing until its first Subscribe
    // (so a reconnect that resumes skips the full snapshot).
    const explicit = query.get("subscribe") === "explicit";
    const protocols = request.headers.get("sec-websocket-protocol");
    const headerToken = tokenFromProtocols(protocols);
    let viewer: Viewer | null = null;
    if (options.tokens && headerToken !== null) {
      try {
        viewer = await options.tokens.verify(headerToken);
      } catch (error) {
        return problem(401, (error as Error).message, {
          "www-authenticate": 'Bearer realm="pulseboard"',
        });
      }
    }
    const offered = protocols?.split(",").map((p) => p.trim()) ?? [];
    if (headerToken !== null && !offered.includes(FEED_PROTOCOL)) {
      return problem(400, `Offer the "${FEED_PROTOCOL}" subprotocol next to bearer.<token>`);
    }
    const address = clientAddress(request, info, proxyTrust);
    const open = perAddress.get(address) ?? 0;
    if (open >= maxPerAddress) {
      return problem(429, `Too many feed connections from ${address} (limit ${maxPerAddress})`, {
        "retry-after": "5",
      });
    }
    perAddress.set(address, open + 1);
    stats.feedSockets++;
    let counted = true;
    let wired = false;
    let expiry: ReturnType<typeof setTimeout> | undefined;
    let authDeadline: ReturnType<typeof setTimeout> | undefined;
    let abortTimer: ReturnType<typeof setTimeout> | undefined;
    let tokenSubject: string | null = null;
    /** Frees the connection's slots; called once its connection is gone (or being aborted). */
    const release = () => {
      clearTimeout(expiry);
      clearTimeout(authDeadline);
      clearTimeout(abortTimer);
      if (tokenSubject !== null) {
        const left = (perToken.get(tokenSubject) ?? 1) - 1;
        if (left > 0) perToken.set(tokenSubject, left);
        else perToken.delete(tokenSubject);
        tokenSubject = null;
      }
      if (!counted) return;
      counted = false;
      stats.feedSockets--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    };
    /** Ends the connection at once (RST where possible), dropping whatever is still queued. */
    const abort = () => {
      if (!counted) return;
      stats.feedAborted++;
      release();
      try {
        (raw.socket as Socket).resetAndDestroy();
      } catch {
        raw.socket.destroy(); // a TLS socket, or one already gone
      }
    };
    /** A close that the client does not take in within the grace ends in an abort. */
    const abortUnlessClosed = () => {
      clearTimeout(abortTimer);
      if (counted) abortTimer = setTimeout(abort, closeGraceMs);
    };
    /** Serves the upgraded socket; called from inside the library's upgrade callback. */
    const serveSocket = (socket: WebSocket) => {
      // The socket side of the session: only this handler changes it; the hub sends through it.
      const session = {
        closed: false,
        heardAt: Date.now(),
        send: (frame: Uint8Array) => {
          if (!session.closed) socket.send(frame);
        },
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
        close: (code: number, reason: string) => {
          session.closed = true;
          live.delete(session);
          if (socket.readyState === socket.CLOSED) return;
          socket.close(code, closeReason(reason));
          abortUnlessClosed();
        },
      };
      live.add(session);
      const bucket = new TokenBucket(
        options.messageRate ?? { capacity: 20, perSecond: 5 },
        Date.now(),
      );
      const refuse = (code: number, reason: string) => {
        session.send(encodeError(code, reason));
        session.close(code, reason);
      };
      const join = () => {
        if (viewer) {
          const open = perToken.get(viewer.subject) ?? 0;
          if (open >= maxPerToken) {
            return refuse(
              CloseCode.Unauthorized,
              `too many connections for this token (limit ${maxPerToken})`,
            );
          }
          perToken.set(viewer.subject, open + 1);
          tokenSubject = viewer.subject;
        }
        hub.send({
          type: "join",
          sink: session,
          explicit,
          scope: viewer?.groups ?? null,
          windows,
          address,
          subject: viewer?.subject ?? null,
        })
          .catch(() => session.close(1011, "server is stopping"));
      };
      /** Closes the session when its token expires, unless a refresh moves the time. */
      const watchExpiry = (expiresAt: number) => {
        clearTimeout(expiry);
        expiry = setTimeout(
          () => refuse(CloseCode.Unauthorized, "token expired: send a fresh token before expiry"),
          Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
        );
      };
      const authenticate = async (token: string) => {
        try {
          const fresh = await options.tokens!.verify(token);
          if (viewer && fresh.groups.join(",") !== viewer.groups.join(",")) {
            return refuse(
              CloseCode.Unauthorized,
              "a refreshed token must carry the same groups: reconnect",
            );
          }
          const first = viewer === null;
          viewer = fresh;
          watchExpiry(fresh.expiresAt);
          if (first) {
            clearTimeout(authDeadline);
            join();
          }
        } catch (error) {
          refuse(CloseCode.Unauthorized, (error as Error).message.slice(0, 120));
        }
      };
      const opened = () => {
        if (!options.tokens) return join();
        if (viewer) {
          watchExpiry(viewer.expiresAt);
          return join();
        }
        authDeadline = setTimeout(
          () => refuse(CloseCode.Unauthorized, "authenticate with a token first"),
          options.authTimeoutMs ?? 5_000,
        );
      };
      socket.on("message", (data: Buffer, isBinary: boolean) => {
        if (session.closed) return;
        if (!bucket.take(Date.now())) {
          return refuse(CloseCode.RateLimited, "too many messages: slow down");
        }
        if (!isBinary) {
          return refuse(
            CloseCode.UnsupportedData,
            "text messages are not accepted: send binary FlatBuffers",
          );
        }
        let message;
        try {
          message = decodeClientMessage(
            new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
          );
        } catch (error) {
          return refuse(closeCodeFor(error), (error as Error).message.slice(0, 120));
        }
        session.heardAt = Date.now();
        if (message.type === "auth") {
          if (!options.tokens) return refuse(CloseCode.BadFrame, "this server does not use tokens");
          void authenticate(message.token);
          return;
        }
        if (options.tokens && viewer === null) {
          return refuse(CloseCode.Unauthorized, "authenticate with a token first");
        }
        if (message.type === "subscribe" || message.type === "unsubscribe") {
          // A full hub mailbox must not block the socket: refuse, the client may retry.
          if (!hub.offer({ ...message, sink: session })) {
            session.send(encodeError(0, "Cannot subscribe: the server is busy, retry shortly"));
          }
        }
      });
      // The library closes the socket itself on a protocol error: a message over
      // the cap (1009, counted across fragments), or a malformed frame (1002).
      socket.on("error", (error: Error & { code?: string }) => {
        const tooBig = error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
        if (tooBig) stats.feedTooBig++;
        session.close(tooBig ? CloseCode.MessageTooBig : 1002, "refused by the transport");
      });
      socket.on("close", () => {
        release();
        session.close(1000, "closed");
        hub.offer({ type: "leave", sink: session });
      });
      opened();
    };
    // Listeners go on inside the upgrade callback: attached even one microtask
    // later, they can miss the client's first message.
    server.handleUpgrade(raw.request, raw.socket, raw.head, (socket) => {
      wired = true;
      serveSocket(socket);
    });
    // The library refused the handshake itself (it answered 400): free the slot.
    raw.socket.once("close", () => wired || release());
    return switched();
  };
}

/** A close reason fits in 123 bytes of UTF-8 (the library throws beyond). */
function closeReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "");
}
