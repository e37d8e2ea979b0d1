import * as flatbuffers from "flatbuffers";
import fc from "fast-check";
import { deflateRawSync } from "node:zlib";
import { deflateSync, inflateSync } from "fflate";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { compressFrame, DEFLATE_RAW, inflateFrame } from "./compression.ts";
import { encodeDelta, encodePing } from "./server_frames.ts";
import { Body, Compressed, Envelope } from "./schema_generated.ts";

function delta(count: number, value: (i: number) => number) {
  const column = () => Float64Array.from({ length: count }, (_, i) => value(i));
  return encodeDelta({
    epoch: 1,
    seq: 1,
    serverTimeMs: 0,
    sensors: [],
    metrics: [],
    removed: [],
    updates: {
      length: count,
      sensor: Uint32Array.from({ length: count }, (_, i) => i),
      metric: new Uint16Array(count),
      last: column(),
      avg: column(),
      min: column(),
      max: column(),
      timeMs: column(),
    },
  });
}

/** A Compressed envelope with whatever codec, size and payload a test needs. */
function compressedEnvelope(codec: number, size: number, payload: Uint8Array): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const bytes = b.createByteVector(payload);
  Compressed.startCompressed(b);
  Compressed.addCodec(b, codec);
  Compressed.addSize(b, size);
  Compressed.addPayload(b, bytes);
  b.finish(Envelope.createEnvelope(b, Body.Compressed, Compressed.endCompressed(b)), "PLSB");
  return b.asUint8Array().slice();
}

function refusal(bytes: Uint8Array, options = {}): Error {
  try {
    inflateFrame(bytes, options);
  } catch (error) {
    assert(error instanceof TypeError, `threw ${error}`);
    return error;
  }
  throw new Error("inflateFrame accepted the frame");
}

Deno.test("a frame that deflates well goes as a Compressed envelope of its raw DEFLATE bytes, and inflates back", () => {
  const frame = delta(500, (i) => 20 + (i % 10) / 10);
  const sent = compressFrame(frame);
  assert(sent.byteLength < frame.byteLength / 4, `${sent.byteLength} of ${frame.byteLength}`);
  const envelope = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(sent));
  assertEquals(envelope.bodyType(), Body.Compressed);
  const body = envelope.body(new Compressed()) as Compressed;
  assertEquals(body.codec(), DEFLATE_RAW);
  assertEquals(body.size(), frame.byteLength);
  // Independent of our inflate path: the payload is plain raw DEFLATE.
  assertEquals(inflateSync(body.payloadArray()!), frame);
  assertEquals(inflateFrame(sent), frame);
});

Deno.test("a given deflate (node:zlib's) makes the same kind of envelope: raw DEFLATE that fflate and inflateFrame give back exactly", () => {
  const frame = delta(500, (i) => 20 + (i % 10) / 10);
  const sent = compressFrame(frame, { deflate: deflateRawSync, level: 3 });
  assert(sent.byteLength < frame.byteLength / 4, `${sent.byteLength} of ${frame.byteLength}`);
  const body = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(sent))
    .body(new Compressed()) as Compressed;
  assertEquals(body.codec(), DEFLATE_RAW);
  assertEquals(body.size(), frame.byteLength);
  assertEquals(inflateSync(body.payloadArray()!), frame);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 5000 }),
      fc.integer({ min: 1, max: 9 }),
      fc.boolean(),
      (bytes, level, repetitive) => {
        // Repeated input deflates well (an envelope); random bytes may not (sent as they are).
        const input = repetitive
          ? new Uint8Array(bytes.length * 3).map((_, i) => bytes[i % (bytes.length || 1)] ?? 0)
          : bytes;
        const out = compressFrame(input, {
          deflate: deflateRawSync,
          level: level as 1,
          minBytes: 0,
        });
        if (out === input) return;
        assertEquals(inflateFrame(out), input);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a small frame, or one that would not save minSaving, is sent as it is", () => {
  const small = encodePing(1, 2);
  assert(compressFrame(small) === small);
  const frame = delta(50, (i) => 20 + (i % 10) / 10);
  assert(compressFrame(frame, { minSaving: 0.99 }) === frame);
  assert(compressFrame(frame, { minBytes: frame.byteLength + 1 }) === frame);
});

Deno.test("inflateFrame passes a frame that is not compressed through unchanged", () => {
  const frame = delta(3, (i) => i);
  assert(inflateFrame(frame) === frame);
});

Deno.test("compressed frames with an unknown codec, too large a size, or a wrong size are refused with a TypeError", () => {
  const frame = delta(100, (i) => i % 3);
  const payload = deflateSync(frame);
  assertEquals(
    refusal(compressedEnvelope(2, frame.byteLength, payload)).message,
    "Invalid compressed frame: unknown codec 2",
  );
  assertEquals(
    refusal(compressedEnvelope(DEFLATE_RAW, frame.byteLength, payload), { maxBytes: 1000 })
      .message,
    `Invalid compressed frame: ${frame.byteLength} bytes inflated is over 1000`,
  );
  for (const size of [frame.byteLength - 1, frame.byteLength + 1, 0]) {
    assertEquals(
      refusal(compressedEnvelope(DEFLATE_RAW, size, payload)).message,
      `Invalid compressed frame: inflates to other than ${size} bytes`,
    );
  }
});

Deno.test("a deflate bomb (64 MiB of zeros claimed as 1 KB) is refused without inflating into memory", () => {
  const bomb = deflateSync(new Uint8Array(64 * 1024 * 1024), { level: 9 });
  assert(bomb.byteLength < 100_000, `${bomb.byteLength}`);
  assertEquals(
    refusal(compressedEnvelope(DEFLATE_RAW, 1024, bomb)).message,
    "Invalid compressed frame: inflates to other than 1024 bytes",
  );
});

Deno.test("corrupt DEFLATE data, a missing payload, and a compressed frame inside another are refused", () => {
  const frame = delta(100, (i) => i % 3);
  const payload = deflateSync(frame);
  assert(
    refusal(compressedEnvelope(DEFLATE_RAW, frame.byteLength, payload.subarray(0, 20))).message
      .startsWith("Invalid compressed frame"),
  );
  const garbage = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
  assert(
    refusal(compressedEnvelope(DEFLATE_RAW, 500, garbage)).message.startsWith(
      "Invalid compressed frame",
    ),
  );
  const b = new flatbuffers.Builder(64);
  Compressed.startCompressed(b);
  Compressed.addCodec(b, DEFLATE_RAW);
  b.finish(Envelope.createEnvelope(b, Body.Compressed, Compressed.endCompressed(b)), "PLSB");
  assertEquals(refusal(b.asUint8Array()).message, "Invalid compressed frame: no payload");
  const inner = compressedEnvelope(DEFLATE_RAW, frame.byteLength, payload);
  const nested = compressedEnvelope(DEFLATE_RAW, inner.byteLength, deflateSync(inner));
  assertEquals(
    refusal(nested).message,
    "Invalid compressed frame: it holds another compressed frame",
  );
});
