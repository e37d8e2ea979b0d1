// @ts-types="@types/ws"
import type { WebSocket } from "ws";
import type { FrameSink } from "../../../actors/hub/mod.ts";

/**
 * The socket side of a session over a `ws` WebSocket: the hub sends through
 * it and reads it; only the feed socket changes it (what it heard, that the
 * connection closed).
 */
export class SocketSink implements FrameSink {
  closed = false;
  heardAt: number;
  readonly #socket: WebSocket;
  readonly #onClose: (sent: boolean) => void;

  /** `onClose(sent)`: the session is closed; `sent` when a close frame went out (not yet acknowledged). */
  constructor(socket: WebSocket, onClose: (sent: boolean) => void, now = Date.now()) {
    this.#socket = socket;
    this.#onClose = onClose;
    this.heardAt = now;
  }

  send(frame: Uint8Array): void {
    if (!this.closed) this.#socket.send(frame);
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  close(code: number, reason: string): void {
    this.closed = true;
    if (this.#socket.readyState === this.#socket.CLOSED) return this.#onClose(false);
    this.#socket.close(code, closeReason(reason));
    this.#onClose(true);
  }
}

/** A close reason fits in 123 bytes of UTF-8 (the library throws beyond). */
export function closeReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "");
}
