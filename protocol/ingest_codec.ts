import * as flatbuffers from "flatbuffers";
import { IngestBatch } from "./schema_generated.ts";
import { FlatBufferVerifier } from "./verifier.ts";
import { prefixSums } from "./reading_block.ts";
import {
  float64Vector,
  offsetVector,
  uint32Vector,
  uint8Vector,
  writeString,
} from "./bulk_vectors.ts";
import { KnownStrings } from "./known_strings.ts";
import type { ReadingBlock } from "./reading_block.ts";
import type { KnownKeys } from "./known_strings.ts";

const FIELD = {
  batchId: 0,
  strings: 1,
  sensor: 2,
  group: 3,
  status: 4,
  timeMs: 5,
  metricCount: 6,
  metric: 7,
  value: 8,
  acceptedMs: 9,
} as const;

export interface DecodedBatch {
  batchId: string | null;
  block: ReadingBlock;
  /**
   * The batch's `accepted_ms` (a log chunk's acceptance time), null when
   * absent or 0. Not put in `block`: ingest ignores what a client sends
   * there, and the log's reader (`KvLog`) adds it.
   */
  acceptedMs: number | null;
}

/**
 * Verifies and decodes an `IngestBatch` from an untrusted source. Structural
 * faults (bad offsets, columns of different lengths, indexes past the string
 * table) throw a TypeError for the whole batch; per-reading content is left
 * to `filterValidReadings`. Columns are zero-copy views into `input` when it
 * is suitably aligned.
 */
export function decodeIngestBatch(
  input: Uint8Array,
  options: {
    maxReadings?: number;
    maxBatchIdBytes?: number;
    /** The `STAMP_BYTES` before `input` in its buffer are free, and it ends its buffer. */
    stampRoom?: boolean;
  } = {},
): DecodedBatch {
  // A copy, not `slice()`: a Node Buffer's slice is a view at the same unaligned offset.
  const bytes = input.byteOffset % 8 === 0 ? input : new Uint8Array(input);
  // The string table holds each string once: more string bytes than the batch has are offsets
  // aliasing one string (a 490 KB batch decoded to 4.4 GB of copies before this bound).
  const v = new FlatBufferVerifier(bytes, { maxStringBytes: bytes.byteLength });
  const root = v.root();
  const batchIdBytes = v.string(root, FIELD.batchId);
  // Bounded only where asked (ingest): log chunks written before the bound must stay readable.
  if (options.maxBatchIdBytes !== undefined && batchIdBytes > options.maxBatchIdBytes) {
    throw new TypeError(
      `Invalid IngestBatch: batch_id of ${batchIdBytes} bytes is longer than ${options.maxBatchIdBytes}`,
    );
  }
  const stringCount = Math.max(0, v.stringVector(root, FIELD.strings));
  const n = v.vector(root, FIELD.sensor, 4);
  const length = Math.max(0, n);
  if (options.maxReadings !== undefined && length > options.maxReadings) {
    throw new RangeError(
      `Batch holds ${length} readings, more than the limit of ${options.maxReadings}`,
    );
  }
  const columnLength = (id: number, size: number, name: string, required: boolean) => {
    const got = v.vector(root, id, size);
    if (got === -1 ? required && length > 0 : got !== length) {
      throw new TypeError(
        `Invalid IngestBatch: ${name} has ${Math.max(got, 0)} entries for ${length} readings`,
      );
    }
    return got;
  };
  const hasGroup = columnLength(FIELD.group, 4, "group", false) !== -1;
  const hasStatus = columnLength(FIELD.status, 4, "status", false) !== -1;
  columnLength(FIELD.timeMs, 8, "time_ms", true);
  columnLength(FIELD.metricCount, 1, "metric_count", true);
  const metricLength = Math.max(0, v.vector(root, FIELD.metric, 4));
  const valueLength = Math.max(0, v.vector(root, FIELD.value, 8));
  const acceptedAt = v.field(root, FIELD.acceptedMs, 8);

  const batch = IngestBatch.getRootAsIngestBatch(new flatbuffers.ByteBuffer(bytes));
  const { strings, notUtf8, known } = readStrings(batch, bytes, stringCount);
  const empty = () => {
    let index = strings.indexOf("");
    if (index === -1) index = strings.push("") - 1;
    return new Uint32Array(length).fill(index);
  };
  const sensor = batch.sensorArray() ?? new Uint32Array(0);
  const metricCount = batch.metricCountArray() ?? new Uint8Array(0);
  const metricStart = prefixSums(metricCount);
  if (metricStart[length] !== metricLength || metricLength !== valueLength) {
    throw new TypeError(
      `Invalid IngestBatch: metric_count sums to ${
        metricStart[length]
      } but metric has ${metricLength} and value ${valueLength} entries`,
    );
  }
  const group = hasGroup ? batch.groupArray()! : empty();
  const status = hasStatus ? batch.statusArray()! : empty();
  if (strings.length > known.keys.length) {
    // `empty()` added "": not in the table.
    const keys = new Int32Array(strings.length).fill(-1);
    keys.set(known.keys);
    known.keys = keys;
  }
  const block: ReadingBlock = {
    length,
    strings,
    sensor,
    group,
    status,
    timeMs: batch.timeMsArray() ?? new Float64Array(0),
    metricCount,
    metricStart,
    metric: batch.metricArray() ?? new Uint32Array(0),
    value: batch.valueArray() ?? new Float64Array(0),
    encoded: bytes,
    known,
    ...(options.stampRoom && bytes === input && hasStampRoom(input) ? { stampRoom: true } : {}),
    ...(notUtf8.length > 0 ? { notUtf8 } : {}),
  };
  for (
    const [name, column] of [["sensor", block.sensor], ["group", block.group], [
      "status",
      block.status,
    ], [
      "metric",
      block.metric,
    ]] as const
  ) {
    for (let i = 0; i < column.length; i++) {
      if (column[i] >= strings.length) {
        throw new TypeError(
          `Invalid IngestBatch: ${name} index ${column[i]} at ${i} is past the string table`,
        );
      }
    }
  }
  const acceptedMs = acceptedAt === 0 ? 0 : batch.acceptedMs();
  return {
    batchId: batch.batchId(),
    block,
    acceptedMs: Number.isFinite(acceptedMs) && acceptedMs !== 0 ? acceptedMs : null,
  };
}

// Fatal, so that bytes that are not UTF-8 are seen rather than silently turned
// into U+FFFD; a BOM is kept, so that the string is exactly what was sent.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossyUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });
/** The ids and names of the batches read here (ingest bodies and the log's chunks alike). */
const knownStrings = new KnownStrings();

/** Longest string made with `String.fromCharCode` rather than TextDecoder (whose per-call cost dominates short ones). */
const CHAR_CODES_MAX = 64;

/**
 * Reads the (verified) string table, noting strings that are not valid UTF-8
 * (decoded with U+FFFD, for the log's old chunks to stay readable). A string
 * seen before is found by its bytes in `knownStrings` (the same object for
 * the same bytes, no decoding); `keys` are their entries there.
 */
function readStrings(
  batch: IngestBatch,
  bytes: Uint8Array,
  count: number,
): {
  strings: string[];
  notUtf8: number[];
  known: { -readonly [K in keyof KnownKeys]: KnownKeys[K] };
} {
  const strings: string[] = new Array(count);
  const notUtf8: number[] = [];
  const table = knownStrings;
  // Between batches only: the entries this batch is given stay valid while it is read.
  table.sweep();
  const keys = new Int32Array(count);
  const known: { table: KnownStrings; generation: number; keys: Int32Array } = {
    table,
    generation: table.generation,
    keys,
  };
  if (count === 0) return { strings, notUtf8, known };
  const bb = batch.bb!;
  const vector = bb.__vector(batch.bb_pos + bb.__offset(batch.bb_pos, 4 + 2 * FIELD.strings));
  for (let i = 0; i < count; i++) {
    const at = vector + 4 * i;
    const start = at + bb.readUint32(at);
    const length = bb.readUint32(start);
    const from = start + 4;
    const entry = table.find(bytes, from, length);
    if (entry >= 0) {
      keys[i] = entry;
      strings[i] = table.string(entry);
      continue;
    }
    let ascii = length <= CHAR_CODES_MAX;
    for (let k = from; ascii && k < from + length; k++) ascii = bytes[k] < 0x80;
    const text = bytes.subarray(from, from + length);
    let made: string;
    if (ascii) {
      made = String.fromCharCode.apply(null, text as unknown as number[]);
    } else {
      try {
        made = utf8.decode(text);
      } catch {
        strings[i] = lossyUtf8.decode(text);
        keys[i] = -1;
        notUtf8.push(i);
        continue;
      }
    }
    strings[i] = made;
    keys[i] = table.add(bytes, from, length, made);
  }
  return { strings, notUtf8, known };
}

const builder = new flatbuffers.Builder(64 * 1024);
/** The strings' offsets while a block is encoded, kept from block to block. */
let stringOffsets = new Int32Array(1024);

/**
 * Encodes a block as an `IngestBatch` (the log's chunk format), with
 * `acceptedMs` as its `accepted_ms` when given; returns a fresh copy.
 */
export function encodeReadingBlock(
  block: ReadingBlock,
  batchId?: string,
  acceptedMs?: number,
): Uint8Array<ArrayBuffer> {
  builder.clear();
  const id = batchId === undefined ? 0 : builder.createString(batchId);
  // Without a TextEncoder call per string, nor a call per element: the log re-encodes every
  // batch over a chunk's size.
  const n = block.strings.length;
  if (stringOffsets.length < n) {
    stringOffsets = new Int32Array(Math.max(n, 2 * stringOffsets.length));
  }
  for (let i = 0; i < n; i++) stringOffsets[i] = writeString(builder, block.strings[i]);
  const strings = offsetVector(builder, stringOffsets, n);
  const sensor = uint32Vector(builder, block.sensor);
  const group = uint32Vector(builder, block.group);
  const status = uint32Vector(builder, block.status);
  const timeMs = float64Vector(builder, block.timeMs);
  const metricCount = uint8Vector(builder, block.metricCount);
  const metric = uint32Vector(builder, block.metric);
  const value = float64Vector(builder, block.value);
  IngestBatch.startIngestBatch(builder);
  if (batchId !== undefined) IngestBatch.addBatchId(builder, id);
  IngestBatch.addStrings(builder, strings);
  IngestBatch.addSensor(builder, sensor);
  IngestBatch.addGroup(builder, group);
  IngestBatch.addStatus(builder, status);
  IngestBatch.addTimeMs(builder, timeMs);
  IngestBatch.addMetricCount(builder, metricCount);
  IngestBatch.addMetric(builder, metric);
  IngestBatch.addValue(builder, value);
  if (acceptedMs !== undefined) IngestBatch.addAcceptedMs(builder, acceptedMs);
  builder.finish(IngestBatch.endIngestBatch(builder), "PLSB");
  return builder.asUint8Array().slice() as Uint8Array<ArrayBuffer>;
}

/** Fields of the root table `stampIngestBatch` keeps: every offset field before `accepted_ms`. */
const STAMP_FIELDS = FIELD.acceptedMs;
/** Bytes `stampIngestBatch` puts before the batch: root offset, identifier, vtable, table. */
const STAMP_VTABLE = 8;
const STAMP_TABLE = STAMP_VTABLE + 4 + 2 * (STAMP_FIELDS + 1);
const STAMP_ACCEPTED = STAMP_TABLE + 4 + 4 * STAMP_FIELDS;
export const STAMP_BYTES = STAMP_ACCEPTED + 8;
const IDENTIFIER = new TextEncoder().encode("PLSB");

/**
 * A verified `IngestBatch` (`decodeIngestBatch` passed it) with `accepted_ms`
 * set to `acceptedMs`, without encoding it again: a new root table (with its
 * vtable) goes before the batch's bytes, which follow unchanged at an
 * 8-aligned offset and are reached through the new table's offsets (every
 * FlatBuffers offset is relative and points forward). The old root table
 * stays in as unused bytes, and any `accepted_ms` it had is not read. The
 * result is `STAMP_BYTES` longer; a fresh buffer.
 */
export function stampIngestBatch(bytes: Uint8Array, acceptedMs: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(STAMP_BYTES + bytes.byteLength);
  out.set(bytes, STAMP_BYTES);
  writeStamp(out, bytes, acceptedMs);
  return out;
}

/**
 * `stampIngestBatch` without the copy: the new root table is written into
 * the `STAMP_BYTES` before `bytes` in its buffer, which the caller vouches
 * are free (`ReadingBlock.stampRoom`; `bytes` must start `STAMP_BYTES` into
 * its buffer and end it), and the result is a view of that whole buffer.
 * `bytes` itself is not changed.
 */
export function stampIngestBatchInPlace(
  bytes: Uint8Array<ArrayBuffer>,
  acceptedMs: number,
): Uint8Array<ArrayBuffer> {
  if (!hasStampRoom(bytes)) throw new RangeError("Cannot stamp in place: no room before the batch");
  const out = new Uint8Array(bytes.buffer, bytes.byteOffset - STAMP_BYTES);
  writeStamp(out, bytes, acceptedMs);
  return out;
}

/** Exactly `STAMP_BYTES` before `bytes` in its buffer, and none after: the stamped view is the whole buffer. */
function hasStampRoom(bytes: Uint8Array): boolean {
  return bytes.byteOffset === STAMP_BYTES &&
    bytes.byteOffset + bytes.byteLength === bytes.buffer.byteLength;
}

/** Writes the stamp's root table into `out`'s first `STAMP_BYTES`, for `bytes` following them. */
function writeStamp(out: Uint8Array, bytes: Uint8Array, acceptedMs: number): void {
  const from = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const to = new DataView(out.buffer, out.byteOffset, STAMP_BYTES);
  const root = from.getUint32(0, true);
  const vtable = root - from.getInt32(root, true);
  const vtableSize = from.getUint16(vtable, true);
  // Its padding too: the room may hold anything, and a stamp is the same bytes either way.
  out.fill(0, 0, STAMP_BYTES);
  to.setUint32(0, STAMP_TABLE, true);
  out.set(IDENTIFIER, 4);
  to.setUint16(STAMP_VTABLE, 4 + 2 * (STAMP_FIELDS + 1), true);
  to.setUint16(STAMP_VTABLE + 2, STAMP_BYTES - STAMP_TABLE, true);
  to.setInt32(STAMP_TABLE, STAMP_TABLE - STAMP_VTABLE, true);
  for (let id = 0; id < STAMP_FIELDS; id++) {
    const slot = 4 + 2 * id;
    const offset = slot + 2 <= vtableSize ? from.getUint16(vtable + slot, true) : 0;
    if (offset === 0) continue;
    const at = STAMP_TABLE + 4 + 4 * id;
    const target = STAMP_BYTES + root + offset + from.getUint32(root + offset, true);
    to.setUint16(STAMP_VTABLE + slot, at - STAMP_TABLE, true);
    to.setUint32(at, target - at, true);
  }
  to.setUint16(STAMP_VTABLE + 4 + 2 * STAMP_FIELDS, STAMP_ACCEPTED - STAMP_TABLE, true);
  to.setFloat64(STAMP_ACCEPTED, acceptedMs, true);
}
