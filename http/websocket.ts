import { closeCodeFor, problem } from "./errors.ts";
import { Session } from "../actors/session.ts";
import type { SessionPolicy } from "../actors/session.ts";
import type { HubMessage } from "../actors/hub_messages.ts";
import type { Actor } from "../actors/runtime/mod.ts";
import { CloseCode } from "../protocol/close_codes.ts";
import { decodeClientMessage } from "../protocol/client_messages.ts";
import { encodeError } from "../protocol/frames.ts";

export interface FeedSocketOptions {
  /** Largest inbound message. Default 4096 bytes. */
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
  const maxMessageBytes = options.maxMessageBytes ?? 4096;
  return (request: Request): Response => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problem(426, "GET /ws expects a WebSocket upgrade", { upgrade: "websocket" });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    const session = new Session(
      nextSessionId++,
      {
        send: (frame) => socket.send(frame),
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
        close: (code, reason) => socket.close(code, reason),
      },
      Date.now(),
      options.policy,
    );
    const refuse = (code: number, reason: string) => {
      session.send(encodeError(code, reason));
      session.close(code, reason);
    };
    socket.onopen = () => {
      hub.send({ type: "join", session }).catch(() => session.close(1011, "server is stopping"));
    };
    socket.onmessage = (event) => {
      if (session.closed) return;
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
      try {
        decodeClientMessage(new Uint8Array(data));
        session.heard(Date.now());
      } catch (error) {
        refuse(closeCodeFor(error), (error as Error).message.slice(0, 120));
      }
    };
    const leave = () => {
      session.close(1000, "closed");
      hub.offer({ type: "leave", session });
    };
    socket.onclose = leave;
    socket.onerror = leave;
    return response;
  };
}
