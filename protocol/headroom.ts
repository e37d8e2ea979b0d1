// Frames the server sends many times (a view frame: its sockets, its ring's
// replays) are made with spare bytes in front of them in their buffer, so
// the transport can write its header there and hand the socket header and
// payload as one buffer, with no copy and no allocation per frame (a
// WebSocket header is at most 10 bytes). Copying each frame behind its
// header was an ArrayBuffer allocated per frame, ~5 µs of the hub's tick
// each, 100 a tick at 100 orderings.

/** Spare bytes before a frame made `withHeadroom`; a multiple of 8, so the frame stays aligned. */
export const HEADROOM = 16;

/** Frames made here: only their spare bytes may be written (never bytes of another view). */
const made = new WeakSet<Uint8Array>();

/** A copy of `bytes` with `HEADROOM` spare bytes before it in its own buffer. */
export function withHeadroom(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(
    new ArrayBuffer(HEADROOM + bytes.byteLength),
    HEADROOM,
    bytes.byteLength,
  );
  out.set(bytes);
  made.add(out);
  return out;
}

/** The spare bytes before `bytes` a transport may write: `HEADROOM` if made here, else 0. */
export function headroom(bytes: Uint8Array): number {
  return made.has(bytes) ? HEADROOM : 0;
}
