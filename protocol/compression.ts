// Whole-frame compression: a frame that deflates well goes as a Compressed
// Envelope (schema.fbs) holding its raw DEFLATE bytes, so flatc still reads
// the outer frame and browsers could inflate it natively
// (DecompressionStream("deflate-raw")). fflate is synchronous: the hub
// compresses inside its tick, once per stream, and the browser inflates in
// the same task that decodes (bench/compact_bytes.ts compares it with the
// asynchronous CompressionStream).
import * as flatbuffers from "flatbuffers";
import { deflateSync, Inflate, inflateSync } from "fflate";
import { Body, Compressed, Envelope } from "./schema_generated.ts";
import { FlatBufferVerifier } from "./verifier.ts";
import { withHeadroom } from "./headroom.ts";

/** `Compressed.codec` of raw DEFLATE (RFC 1951). */
export const DEFLATE_RAW = 1;

export interface CompressOptions {
  /** Frames shorter than this are sent as they are. Default 256 bytes. */
  minBytes?: number;
  /** Compressed only when it saves at least this share of the bytes. Default 0.1. */
  minSaving?: number;
  /**
   * DEFLATE level, 1 (fast) to 9 (small). Default 1: on compact frames level 6
   * saves about 1% more bytes for twice the CPU (bench/compact_bytes.ts).
   */
  level?: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  /**
   * The raw DEFLATE to use instead of fflate's (this module stays free of
   * runtime imports: browsers load it). The hub gives `node:zlib`'s
   * `deflateRawSync` for view frames: about 5× less CPU on frames of a few
   * KB, where zlib's level 3 is about as small as fflate's level 1.
   */
  deflate?: (frame: Uint8Array, o: { level: number }) => Uint8Array;
}

export interface InflateOptions {
  /** Largest inflated frame accepted. Default 64 MiB (the WebSocket message limit). */
  maxBytes?: number;
}

const builder = new flatbuffers.Builder(64 * 1024);

/**
 * The frame as a Compressed Envelope when that pays off (see
 * CompressOptions), else the frame itself. Pure; the result is a copy.
 */
export function compressFrame(frame: Uint8Array, options: CompressOptions = {}): Uint8Array {
  if (frame.byteLength < (options.minBytes ?? 256)) return frame;
  const level = options.level ?? 1;
  const payload = options.deflate
    ? options.deflate(frame, { level })
    : deflateSync(frame, { level });
  // The envelope adds about 40 bytes around the payload.
  if (payload.byteLength + 40 > frame.byteLength * (1 - (options.minSaving ?? 0.1))) return frame;
  builder.clear();
  const bytes = builder.createByteVector(payload);
  Compressed.startCompressed(builder);
  Compressed.addCodec(builder, DEFLATE_RAW);
  Compressed.addSize(builder, frame.byteLength);
  Compressed.addPayload(builder, bytes);
  const body = Compressed.endCompressed(builder);
  builder.finish(Envelope.createEnvelope(builder, Body.Compressed, body), "PLSB");
  // Room for the transport's header, as the frame it stands for had (protocol/headroom.ts).
  return withHeadroom(builder.asUint8Array());
}

/**
 * The Envelope a frame carries: inflated when it is Compressed, else the
 * frame itself. Throws a TypeError for a malformed Compressed frame: an
 * unknown codec, a size over `maxBytes`, data that does not inflate to
 * exactly `size` bytes, or a Compressed frame inside another.
 */
export function inflateFrame(input: Uint8Array, options: InflateOptions = {}): Uint8Array {
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const v = new FlatBufferVerifier(bytes, { maxDepth: 4, maxTables: 4 });
  const root = v.root();
  const typeAt = v.field(root, 0, 1);
  if (typeAt === 0 || bytes[typeAt] !== Body.Compressed) return input;
  let length = -1;
  const found = v.subTable(root, 1, (pos) => {
    v.field(pos, 0, 1);
    v.field(pos, 1, 4);
    length = v.vector(pos, 2, 1);
  });
  if (found === 0 || length < 0) throw new TypeError("Invalid compressed frame: no payload");
  const compressed = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes))
    .body(new Compressed()) as Compressed;
  if (compressed.codec() !== DEFLATE_RAW) {
    throw new TypeError(`Invalid compressed frame: unknown codec ${compressed.codec()}`);
  }
  const size = compressed.size();
  const limit = options.maxBytes ?? 64 * 1024 * 1024;
  if (size > limit) {
    throw new TypeError(`Invalid compressed frame: ${size} bytes inflated is over ${limit}`);
  }
  const inner = inflateExactly(compressed.payloadArray()!, size);
  const innerRoot = new FlatBufferVerifier(inner, { maxDepth: 1, maxTables: 1 }).root();
  const innerType = new FlatBufferVerifier(inner).field(innerRoot, 0, 1);
  if (innerType !== 0 && inner[innerType] === Body.Compressed) {
    throw new TypeError("Invalid compressed frame: it holds another compressed frame");
  }
  return inner;
}

/**
 * Input per inflate step. fflate keeps decoding past a full output buffer,
 * and DEFLATE expands at most 1032 times, so data that inflates past `size`
 * costs at most one step's worth (16 MiB of discarded output) before it is
 * refused.
 */
const STEP = 16 * 1024;

/** Inflates raw DEFLATE that must come to exactly `size` bytes. */
function inflateExactly(payload: Uint8Array, size: number): Uint8Array {
  const fail = (why: string): never => {
    throw new TypeError(`Invalid compressed frame: ${why}`);
  };
  try {
    if (payload.byteLength <= STEP) {
      // One spare byte: data that inflates past `size` fills it and is refused.
      const out = new Uint8Array(size + 1);
      const inflated = inflateSync(payload, { out });
      if (inflated.byteLength !== size) fail(`inflates to other than ${size} bytes`);
      return out.subarray(0, size);
    }
    const out = new Uint8Array(size);
    let at = 0;
    let over = false;
    const inflater = new Inflate((chunk) => {
      if (over || at + chunk.byteLength > size) {
        over = true;
        return;
      }
      out.set(chunk, at);
      at += chunk.byteLength;
    });
    for (let p = 0; p < payload.byteLength && !over; p += STEP) {
      inflater.push(payload.subarray(p, p + STEP), p + STEP >= payload.byteLength);
    }
    if (over || at !== size) fail(`inflates to other than ${size} bytes`);
    return out;
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith("Invalid compressed frame")) {
      throw error;
    }
    return fail((error as Error).message);
  }
}
