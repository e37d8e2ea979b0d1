import { closeCodeFor, problem } from "./errors.ts";
import { Session } from "../actors/session.ts";
import type { SessionPolicy } from "../actors/session.ts";
import type { HubMessage } from "../actors/hub_messages.ts";
import type { Actor } from "../actors/runtime/mod.ts";
import { CloseCode } from "../protocol/close_codes.ts";
import { decodeClientMessage } from "../protocol/client_messages.ts";
import { encodeError } from "../protocol/frames.ts";
import { TokenBucket } from "./token_bucket.ts";
import { originAllowed } from "./origin.ts";

export interface FeedSocketOptions {
  /** Exact origins allowed to open the feed; null: only the server's own. */
  allowedOrigins?: readonly string[] | null;
  /** Open feed connections per client address. Default 64. */
  maxConnectionsPerAddress?: number;
  /** Inbound messages per connection: a burst of `capacity`, then `perSecond`. Default 20 and 5/s. */
  messageRate?: { capacity: number; perSecond: number };
  /** Largest inbound message. Default 65 536 bytes. */
  maxMessageBytes?: number;
  policy?: Partial<SessionPolicy>;
}

let nextSessionId = 1;

/**
 * GET /ws: the only place that touches `Deno.upgradeWebSocket`. It adapts the
 * socket to a Session and tells the hub when it opens and closes. Inbound
 * messages are size-checked and verified; anything bad closes the socket with
 * a documented code and never reaches the hub.
 */
export function feedSocketHandler(hub: Actor<HubMessage>, options: FeedSocketOptions = {}) {
  const maxMessageBytes = options.maxMessageBytes ?? 65_536;
  const maxPerAddress = options.maxConnectionsPerAddress ?? 64;
  const perAddress = new Map<string, number>();
  return (request: Request, info?: Deno.ServeHandlerInfo): Response => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problem(426, "GET /ws expects a WebSocket upgrade", { upgrade: "websocket" });
    }
    // Checked before the upgrade: a page on another site cannot ride a visitor's browser.
    if (!originAllowed(request, options.allowedOrigins ?? null)) {
      return problem(403, `Origin ${request.headers.get("origin")} may not open the feed`);
    }
    const address = info && "hostname" in info.remoteAddr ? info.remoteAddr.hostname : "unknown";
    const open = perAddress.get(address) ?? 0;
    if (open >= maxPerAddress) {
      return problem(429, `Too many feed connections from ${address} (limit ${maxPerAddress})`, {
        "retry-after": "5",
      });
    }
    const query = new URL(request.url).searchParams;
    for (const [name, value] of query) {
      if (name !== "subscribe" || value !== "explicit") {
        return problem(
          400,
          `Unknown query parameter ${name}=${value}: only subscribe=explicit is accepted`,
        );
      }
    }
    // With subscribe=explicit the client gets nothing until its first Subscribe
    // (so a reconnect that resumes skips the full snapshot).
    const explicit = query.get("subscribe") === "explicit";
    const { socket, response } = Deno.upgradeWebSocket(request);
    perAddress.set(address, open + 1);
    let counted = true;
    const release = () => {
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
    socket.onopen = () => {
      hub.send({ type: "join", session, explicit }).catch(() =>
        session.close(1011, "server is stopping")
      );
    };
    socket.onmessage = (event) => {
      if (session.closed) return;
      if (typeof event.data === "string") {
        return refuse(
          CloseCode.UnsupportedData,
          "text messages are not accepted: send binary FlatBuffers",
        );
      }
      if (!bucket.take(Date.now())) {
        return refuse(CloseCode.RateLimited, "too many messages: slow down");
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
