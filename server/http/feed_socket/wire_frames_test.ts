import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { WireFrames } from "./wire_frames.ts";
import { withHeadroom } from "../../../protocol/headroom.ts";

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

/** The chunks, joined: the bytes that go on the wire. */
function joined(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

Deno.test("a wire frame is the payload behind an unmasked binary FIN header of RFC 6455", () => {
  const sizes = fc.oneof(
    fc.integer({ min: 0, max: 300 }),
    fc.constantFrom(125, 126, 127, 65_535, 65_536, 70_000),
  );
  // Kept frames (one chunk) and ones too large to keep (header and payload) alike.
  const caches = fc.constantFrom(4 * 2 ** 20, 16 * 1024);
  fc.assert(
    fc.property(sizes, fc.integer({ min: 0, max: 255 }), caches, (size, fill, maxBytes) => {
      const payload = new Uint8Array(size).map((_, i) => (i * 31 + fill) & 0xff);
      assertEquals(joined(new WireFrames({ maxBytes }).chunks(payload)), expectedFrame(payload));
    }),
    { numRuns: 200 },
  );
});

Deno.test("a payload is framed once: every socket is handed the same buffer", () => {
  const frames = new WireFrames();
  const a = new Uint8Array([1, 2, 3]);
  const b = new Uint8Array([1, 2, 3]); // equal bytes, another frame
  const [first] = frames.chunks(a);
  assertEquals(frames.chunks(a), [first]);
  assertEquals(frames.chunks(a)[0] === first, true);
  assertEquals(frames.chunks(b)[0] === first, false);
  assertEquals(new Uint8Array(frames.chunks(b)[0]), new Uint8Array(first));
});

Deno.test("the frames kept are bounded in bytes, oldest out first, and a large payload is not copied", () => {
  const frames = new WireFrames({ maxBytes: 16 * 1024 });
  const payloads = Array.from({ length: 40 }, (_, i) => new Uint8Array(900).fill(i));
  const firsts = payloads.map((p) => frames.chunks(p)[0]);
  // 40 frames of 904 bytes: at most 18 fit in 16 KiB.
  assertEquals(frames.heldBytes <= 16 * 1024, true);
  assertEquals(frames.heldBytes, 18 * 904);
  assertEquals(frames.chunks(payloads[39])[0] === firsts[39], true); // newest still kept
  assertEquals(frames.chunks(payloads[0])[0] === firsts[0], false); // oldest rebuilt
  const large = new Uint8Array(2_000); // over a sixteenth of the cache
  const [header, body] = frames.chunks(large);
  assertEquals([header.byteLength, body === large], [4, true]);
});

Deno.test("a payload made with headroom goes out as a view of its own buffer, header in front, nothing kept", () => {
  const sizes = fc.oneof(
    fc.integer({ min: 0, max: 300 }),
    fc.constantFrom(125, 126, 127, 65_535, 65_536, 70_000, 300_000),
  );
  fc.assert(
    fc.property(sizes, fc.integer({ min: 0, max: 255 }), (size, fill) => {
      const bytes = new Uint8Array(size).map((_, i) => (i * 31 + fill) & 0xff);
      const payload = withHeadroom(bytes);
      const frames = new WireFrames({ maxBytes: 16 * 1024 });
      const first = frames.chunks(payload);
      const again = frames.chunks(payload);
      assertEquals(first.length, 1);
      assertEquals(joined(first), expectedFrame(bytes));
      assertEquals(joined(again), expectedFrame(bytes));
      assertEquals(first[0].buffer === payload.buffer, true);
      assertEquals(new Uint8Array(payload), bytes); // the payload's own bytes untouched
      assertEquals(frames.heldBytes, 0);
    }),
    { numRuns: 200 },
  );
});

Deno.test("a payload without headroom is copied: the bytes before a view are never written", () => {
  const buffer = new Uint8Array(64).fill(7);
  const payload = buffer.subarray(16, 40);
  const [wire] = new WireFrames().chunks(payload);
  assertEquals(wire.buffer === buffer.buffer, false);
  assertEquals(buffer.subarray(0, 16), new Uint8Array(16).fill(7));
  assertEquals(joined([wire]), expectedFrame(payload));
});
