// @ts-types="@types/ws"
import type { WebSocket } from "ws";
import type { Duplex } from "node:stream";
import type { FrameSink } from "../../../actors/hub/mod.ts";
import type { WireFrames } from "./wire_frames.ts";

/**
 * The socket side of a session over a `ws` WebSocket: the hub sends through
 * it and reads it; only the feed socket changes it (what it heard, that the
 * connection closed).
 *
 * Frames go to the connection under the WebSocket as one write each, of a
 * wire frame built once for every socket (`WireFrames`; a snapshot too large
 * to keep goes as two writes, header and payload), not through `ws`'s
 * `send` (a header per socket, header and payload written as two chunks, a
 * callback). That is equivalent on this server: without permessage-deflate
 * `ws`'s sender never queues, so its own frames (pongs, the close) and ours
 * reach the connection in the order they are written; the bytes are counted
 * by the connection's writable state, which `ws`'s `bufferedAmount` reads.
 */
export class SocketSink implements FrameSink {
  closed = false;
  heardAt: number;
  readonly #socket: WebSocket;
  readonly #connection: Duplex;
  readonly #frames: WireFrames;
  readonly #onClose: (sent: boolean) => void;

  /** `onClose(sent)`: the session is closed; `sent` when a close frame went out (not yet acknowledged). */
  constructor(
    socket: WebSocket,
    o: {
      /** The upgraded connection `socket` runs on. */
      connection: Duplex;
      frames: WireFrames;
      onClose: (sent: boolean) => void;
      now?: number;
    },
  ) {
    this.#socket = socket;
    this.#connection = o.connection;
    this.#frames = o.frames;
    this.#onClose = o.onClose;
    this.heardAt = o.now ?? Date.now();
  }

  send(frame: Uint8Array): void {
    // As `ws` does: nothing after a close frame, either side's.
    if (this.closed || this.#socket.readyState !== this.#socket.OPEN) return;
    for (const chunk of this.#frames.chunks(frame)) this.#connection.write(chunk);
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
