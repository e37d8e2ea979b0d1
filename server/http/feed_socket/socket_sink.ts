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
/** What is told when a sink closes. */
export interface SinkOwner {
  sinkClosed(sent: boolean): void;
}

export class SocketSink implements FrameSink {
  closed = false;
  heardAt: number;
  readonly #socket: WebSocket;
  readonly #connection: Duplex;
  readonly #frames: WireFrames;
  readonly #owner: SinkOwner;

  /**
   * `owner.sinkClosed(sent)`: the session is closed; `sent` when a close
   * frame went out (not yet acknowledged). An owner, not a callback: no
   * closure per socket.
   */
  constructor(
    socket: WebSocket,
    o: {
      /** The upgraded connection `socket` runs on. */
      connection: Duplex;
      frames: WireFrames;
      owner: SinkOwner;
      now?: number;
    },
  ) {
    this.#socket = socket;
    this.#connection = o.connection;
    this.#frames = o.frames;
    this.#owner = o.owner;
    this.heardAt = o.now ?? Date.now();
  }

  send(frame: Uint8Array): void {
    // As `ws` does: nothing after a close frame, either side's.
    if (this.closed || this.#socket.readyState !== this.#socket.OPEN) return;
    const wire = this.#frames.wire(frame);
    if (wire !== null) this.#connection.write(wire);
    else {
      // Too large to keep: header and payload, uncopied.
      this.#connection.write(this.#frames.header(frame));
      this.#connection.write(frame);
    }
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  close(code: number, reason: string): void {
    this.closed = true;
    if (this.#socket.readyState === this.#socket.CLOSED) return this.#owner.sinkClosed(false);
    this.#socket.close(code, closeReason(reason));
    this.#owner.sinkClosed(true);
  }
}

/** A close reason fits in 123 bytes of UTF-8 (the library throws beyond). */
export function closeReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "");
}
