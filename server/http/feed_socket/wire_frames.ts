import { Buffer } from "node:buffer";
// @ts-types="@types/ws"
import * as ws from "ws";

/** `ws`'s frame builder (exported by the package, not in its type declarations). */
type FrameBuilder = (
  data: Uint8Array,
  options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
) => Uint8Array[];
const buildFrame = (ws as unknown as { Sender: { frame: FrameBuilder } }).Sender.frame;

const BINARY = 2;

/**
 * Server-to-client WebSocket frames, each built once and shared by every
 * socket it goes to. The hub hands the same payload to every session of a
 * topic or window; `ws`'s `send` would build a header for each and write
 * header and payload as two chunks with a callback. Here the header (by
 * `ws`'s own frame builder: FIN, binary, unmasked as a server's frames are)
 * and payload are one buffer, made at the first socket and kept only as
 * long as the payload itself is (a WeakMap), so each further socket costs
 * one write of a buffer that already exists.
 */
export class WireFrames {
  readonly #frames = new WeakMap<Uint8Array, Buffer>();

  /** The complete binary frame carrying `payload`. */
  wire(payload: Uint8Array): Buffer {
    let frame = this.#frames.get(payload);
    if (frame === undefined) {
      const [header] = buildFrame(payload, {
        fin: true,
        opcode: BINARY,
        mask: false,
        readOnly: false,
        rsv1: false,
      });
      // Not from Buffer's shared pool: a small frame would keep an 8 KiB slab alive.
      frame = Buffer.allocUnsafeSlow(header.byteLength + payload.byteLength);
      frame.set(header, 0);
      frame.set(payload, header.byteLength);
      this.#frames.set(payload, frame);
    }
    return frame;
  }
}
