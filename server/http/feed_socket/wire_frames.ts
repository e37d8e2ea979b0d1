import { Buffer } from "node:buffer";
// @ts-types="@types/ws"
import * as ws from "ws";
import { headroom } from "../../../protocol/headroom.ts";

/** `ws`'s frame builder (exported by the package, not in its type declarations). */
type FrameBuilder = (
  data: Uint8Array,
  options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
) => Uint8Array[];
const buildFrame = (ws as unknown as { Sender: { frame: FrameBuilder } }).Sender.frame;

const BINARY = 2;

/**
 * Server-to-client WebSocket frames, built once and shared by every socket
 * they go to. The hub hands the same payload to every session of a topic or
 * window; `ws`'s `send` would build a header for each and write header and
 * payload as two chunks with a callback (which Deno's node:net then copies
 * into one). Here a payload's header (by `ws`'s own frame builder: FIN,
 * binary, unmasked as a server's frames are) and the payload are one buffer,
 * made at the first socket and kept for the next ones in a cache bounded in
 * bytes, oldest out first: the hub's rings keep payloads for replay, and
 * their wire copies must not live as long. A payload too large to cache
 * goes out as header and payload, uncopied. A payload made with room before
 * it (`protocol/headroom.ts`: the view frames, ~100 a tick; a topic's Deltas
 * and Snapshots, the Ping) gets its header written there and goes out as one
 * view of its own buffer: no copy, no allocation, nothing kept.
 */
export class WireFrames {
  readonly #frames = new Map<Uint8Array, Buffer>();
  readonly #maxBytes: number;
  #bytes = 0;
  /**
   * The last payload framed in place, and its wire view: a tick hands each
   * payload to its sockets one after another, and a view made per socket
   * was an object each (and, were it not a Buffer, node:stream's
   * conversion to one per write).
   */
  #inPlace: Uint8Array | null = null;
  #inPlaceWire: Buffer | null = null;

  /** `maxBytes`: wire frames kept at most (default 4 MiB); a payload over a sixteenth of it is not kept. */
  constructor(o: { maxBytes?: number } = {}) {
    this.#maxBytes = o.maxBytes ?? 4 * 2 ** 20;
  }

  /** Bytes of wire frames held now. */
  get heldBytes(): number {
    return this.#bytes;
  }

  /** What to write for `payload`, in order: one shared wire frame, or header and payload. */
  chunks(payload: Uint8Array): Uint8Array[] {
    const wire = this.wire(payload);
    return wire !== null ? [wire] : [this.header(payload), payload];
  }

  /**
   * The shared wire frame of `payload` (header and payload in one buffer),
   * or null for a payload too large to keep: then write `header(payload)`
   * and the payload. Nothing is allocated for a frame already kept (once
   * per socket per frame, at thousands of sockets).
   */
  wire(payload: Uint8Array): Uint8Array | null {
    if (payload === this.#inPlace) return this.#inPlaceWire;
    const room = headroom(payload);
    if (room > 0) {
      this.#inPlace = payload;
      return this.#inPlaceWire = inFront(payload, room);
    }
    const kept = this.#frames.get(payload);
    if (kept !== undefined) return kept;
    const header = this.header(payload);
    const size = header.byteLength + payload.byteLength;
    if (size > this.#maxBytes / 16) return null;
    // Not from Buffer's shared pool: a small frame would keep an 8 KiB slab alive.
    const frame = Buffer.allocUnsafeSlow(size);
    frame.set(header, 0);
    frame.set(payload, header.byteLength);
    this.#frames.set(payload, frame);
    this.#bytes += size;
    for (const [oldest, wire] of this.#frames) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#frames.delete(oldest);
      this.#bytes -= wire.byteLength;
    }
    return frame;
  }

  /** The WebSocket header of `payload` (FIN, binary, unmasked). */
  header(payload: Uint8Array): Uint8Array {
    return buildFrame(payload, {
      fin: true,
      opcode: BINARY,
      mask: false,
      readOnly: false,
      rsv1: false,
    })[0];
  }
}

/**
 * `payload` behind its header, written into the spare bytes before it (the
 * same bytes for every socket, so writing them again while an earlier write
 * of the frame is queued changes nothing).
 */
function inFront(payload: Uint8Array, room: number): Buffer {
  const n = payload.byteLength;
  const size = n < 126 ? 2 : n < 65536 ? 4 : 10;
  if (size > room) throw new RangeError(`Cannot frame: ${room} spare bytes, ${size} needed`);
  const start = payload.byteOffset - size;
  // A Buffer, not a plain view: node:stream makes a Buffer of any other chunk it is handed.
  const frame = Buffer.from(payload.buffer, start, size + n);
  frame[0] = 0x82; // FIN, binary; a server's frames are not masked
  if (n < 126) frame[1] = n;
  else if (n < 65536) {
    frame[1] = 126;
    frame[2] = n >>> 8;
    frame[3] = n & 0xff;
  } else {
    frame[1] = 127;
    // 64-bit big-endian length; frames are far below 2^32.
    frame[2] =
      frame[3] =
      frame[4] =
      frame[5] =
        0;
    frame[6] = n >>> 24;
    frame[7] = (n >>> 16) & 0xff;
    frame[8] = (n >>> 8) & 0xff;
    frame[9] = n & 0xff;
  }
  return frame;
}
