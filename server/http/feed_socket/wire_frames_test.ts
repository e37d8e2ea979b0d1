import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { WireFrames } from "./wire_frames.ts";

/** RFC 6455 §5.2, written out: FIN + binary opcode, no mask, 7/16/64-bit payload length. */
function expectedFrame(payload: Uint8Array): Uint8Array {
  const n = payload.byteLength;
  // The 64-bit length: eight bytes, big-endian (our sizes fit the low four).
  const head = n < 126 ? [0x82, n] : n < 65536 ? [0x82, 126, n >> 8, n & 0xff] : [
    0x82,
    127,
    ...[0, 0, 0, 0],
    ...[24, 16, 8, 0].map((s) => (n >>> s) & 0xff),
  ];
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

Deno.test("a wire frame is the payload behind an unmasked binary FIN header of RFC 6455", () => {
  const sizes = fc.oneof(
    fc.integer({ min: 0, max: 300 }),
    fc.constantFrom(125, 126, 127, 65_535, 65_536, 70_000),
  );
  fc.assert(
    fc.property(sizes, fc.integer({ min: 0, max: 255 }), (size, fill) => {
      const payload = new Uint8Array(size).map((_, i) => (i * 31 + fill) & 0xff);
      assertEquals(new Uint8Array(new WireFrames().wire(payload)), expectedFrame(payload));
    }),
    { numRuns: 200 },
  );
});

Deno.test("a payload is framed once: every socket is handed the same buffer", () => {
  const frames = new WireFrames();
  const a = new Uint8Array([1, 2, 3]);
  const b = new Uint8Array([1, 2, 3]); // equal bytes, another frame
  const first = frames.wire(a);
  assertEquals(frames.wire(a) === first, true);
  assertEquals(frames.wire(b) === first, false);
  assertEquals(new Uint8Array(frames.wire(b)), new Uint8Array(first));
});
