import { closeCodeFor, problem } from "./errors.ts";
import { originAllowed } from "./origin.ts";
import { TokenBucket } from "./token_bucket.ts";
import { Session } from "../actors/session.ts";
import type { SessionPolicy } from "../actors/session.ts";
import type { HubMessage } from "../actors/hub_messages.ts";
import type { Actor } from "../actors/runtime/mod.ts";
import { tokenFromProtocols } from "../auth/mod.ts";
import type { Viewer } from "../auth/mod.ts";
import { CloseCode } from "../protocol/close_codes.ts";
import { decodeClientMessage, MAX_CLIENT_MESSAGE_BYTES } from "../protocol/client_messages.ts";
import { encodeError } from "../protocol/frames.ts";
import { clientAddress } from "./client_address.ts";
import type { ProxyTrust } from "./client_address.ts";

export interface FeedSocketOptions {
  /** Exact origins allowed to open the feed; null: only the server's own. */
  allowedOrigins?: readonly string[] | null;
  /** Open feed connections per client address. Default 64. */
  maxConnectionsPerAddress?: number;
  /** Proxies whose X-Forwarded-For names the client (`--trusted-proxies`); null: none. */
  proxyTrust?: ProxyTrust | null;
  /** Open feed connections per token subject. Default 16. */
  maxConnectionsPerToken?: number;
  /** Inbound messages per connection: a burst of `capacity`, then `perSecond`. Default 20 and 5/s. */
  messageRate?: { capacity: number; perSecond: number };
  /** Largest inbound message. Default `MAX_CLIENT_MESSAGE_BYTES` (64 KiB). */
  maxMessageBytes?: number;
  policy?: Partial<SessionPolicy>;
  /** Dashboard JWTs; without it the feed is open (loopback only, see main.ts). */
  tokens?: { verify(token: string): Promise<Viewer> };
  /** How long an unauthenticated connection may wait for its Auth message. Default 5000 ms. */
  authTimeoutMs?: number;
}

/** The subprotocol a client offers next to `bearer.<jwt>`; the server selects it. */
export const FEED_PROTOCOL = "pulseboard";

let nextSessionId = 1;

/**
 * GET /ws: the only place that touches `Deno.upgradeWebSocket`. It adapts the
 * socket to a Session and tells the hub when it opens and closes. Inbound
 * messages are size-checked, rate-limited and verified; anything bad closes
 * the socket with a documented code and never reaches the hub. With tokens
 * configured, a session joins only once its JWT is verified (from the
 * `bearer.<jwt>` subprotocol before the upgrade, or a first Auth message),
 * and it is closed with 4003 when the token expires unless refreshed.
 */
export function feedSocketHandler(hub: Actor<HubMessage>, options: FeedSocketOptions = {}) {
  const maxMessageBytes = options.maxMessageBytes ?? MAX_CLIENT_MESSAGE_BYTES;
  const maxPerAddress = options.maxConnectionsPerAddress ?? 64;
  const perAddress = new Map<string, number>();
  const maxPerToken = options.maxConnectionsPerToken ?? 16;
  const perToken = new Map<string, number>();
  return async (request: Request, info?: Deno.ServeHandlerInfo): Promise<Response> => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problem(426, "GET /ws expects a WebSocket upgrade", { upgrade: "websocket" });
    }
    // Checked before the upgrade: a page on another site cannot ride a visitor's browser.
    if (!originAllowed(request, options.allowedOrigins ?? null)) {
      return problem(403, `Origin ${request.headers.get("origin")} may not open the feed`);
    }
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
    const address = clientAddress(request, info, options.proxyTrust ?? null);
    const open = perAddress.get(address) ?? 0;
    if (open >= maxPerAddress) {
      return problem(429, `Too many feed connections from ${address} (limit ${maxPerAddress})`, {
        "retry-after": "5",
      });
    }
    // Deno's own idle timeout would close a client slow to pong with 1001 ("going
    // away", which clients read as a restart) after 30 s; the session's pings
    // and silence limit (4001) are the liveness policy instead.
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: 0,
      ...(offered.includes(FEED_PROTOCOL) ? { protocol: FEED_PROTOCOL } : {}),
    });
    perAddress.set(address, open + 1);
    let counted = true;
    let expiry: ReturnType<typeof setTimeout> | undefined;
    let authDeadline: ReturnType<typeof setTimeout> | undefined;
    let tokenSubject: string | null = null;
    const release = () => {
      clearTimeout(expiry);
      clearTimeout(authDeadline);
      if (tokenSubject !== null) {
        const left = (perToken.get(tokenSubject) ?? 1) - 1;
        if (left > 0) perToken.set(tokenSubject, left);
        else perToken.delete(tokenSubject);
        tokenSubject = null;
      }
      if (!counted) return;
      counted = false;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    };
    socket.binaryType = "arraybuffer";
    const session = new Session(
      nextSessionId++,
      {
        send: (frame) => socket.send(frame),
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
        close: (code, reason) => {
          // Closing a stalled socket may never fire onclose: release its slot now.
          release();
          socket.close(code, reason);
        },
      },
      Date.now(),
      options.policy,
    );
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
      hub.send({ type: "join", session, explicit, scope: viewer?.groups ?? null, windows })
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
    socket.onopen = () => {
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
    socket.onmessage = (event) => {
      if (session.closed) return;
      if (!bucket.take(Date.now())) {
        return refuse(CloseCode.RateLimited, "too many messages: slow down");
      }
      if (typeof event.data === "string") {
        return refuse(
          CloseCode.UnsupportedData,
          "text messages are not accepted: send binary FlatBuffers",
        );
      }
      const data = event.data as ArrayBuffer;
      if (data.byteLength > maxMessageBytes) {
        return refuse(CloseCode.MessageTooBig, `messages are limited to ${maxMessageBytes} bytes`);
      }
      let message;
      try {
        message = decodeClientMessage(new Uint8Array(data));
      } catch (error) {
        return refuse(closeCodeFor(error), (error as Error).message.slice(0, 120));
      }
      session.heard(Date.now());
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
        if (!hub.offer({ ...message, session })) {
          session.send(encodeError(0, "Cannot subscribe: the server is busy, retry shortly"));
        }
      }
    };
    const leave = () => {
      release();
      session.close(1000, "closed");
      hub.offer({ type: "leave", session });
    };
    socket.onclose = leave;
    socket.onerror = leave;
    return response;
  };
}
