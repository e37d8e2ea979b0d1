import { decodeIngestBatch } from "../../protocol/ingest_codec.ts";
import { filterValidReadings, parseJsonReadings } from "./readings/mod.ts";
import type { ParsedReadings, ReadingLimits } from "./readings/mod.ts";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "./idempotency.ts";
import type { IngestMedia } from "./admission.ts";
import { batchShapeLimits, jsonShapeRefusal } from "./json_shape.ts";

/** An ingest body read as a batch. */
export interface BatchBody {
  /** The FlatBuffers batch's own id (`batch_id`), if it has one. */
  batchId: string | null;
  /**
   * Every reading validated as of `nowMs`: the accepted ones by column and
   * the refused ones by batch index. Throws for a body that is no batch at all.
   */
  readings(nowMs: number): ParsedReadings;
}

/**
 * Decodes a body by its media type. A FlatBuffers `IngestBatch` is verified
 * and decoded now (a malformed one throws at once); a JSON body is parsed
 * when its readings are asked for, against the clock they are checked by.
 */
export function decodeBatchBody(
  body: Uint8Array,
  media: IngestMedia,
  options: {
    limits: ReadingLimits;
    maxBatchReadings: number;
    /** The `STAMP_BYTES` before `body` in its buffer are free, and it ends its buffer. */
    stampRoom?: boolean;
  },
): BatchBody {
  if (media === "json") {
    const refusal = jsonShapeRefusal(body, batchShapeLimits(options.maxBatchReadings));
    if (refusal !== null) throw new RangeError(`Cannot ingest: ${refusal}`);
    return { batchId: null, readings: (nowMs) => parseJson(body, options, nowMs) };
  }
  const decoded = decodeIngestBatch(body, {
    maxReadings: options.maxBatchReadings,
    maxBatchIdBytes: MAX_IDEMPOTENCY_KEY_LENGTH,
    stampRoom: options.stampRoom,
  });
  return {
    batchId: decoded.batchId,
    readings: (nowMs) => filterValidReadings(decoded.block, options.limits, nowMs),
  };
}

/** A JSON batch: an array of reading documents, or `{ "readings": [...] }`. */
export function parseJson(
  body: Uint8Array,
  options: { limits: ReadingLimits; maxBatchReadings: number },
  nowMs: number,
): ParsedReadings {
  let text: string;
  try {
    // JSON is UTF-8 (RFC 8259): a stray byte would otherwise become U+FFFD inside an id.
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new TypeError("Cannot ingest: body is not valid UTF-8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot ingest: body is not valid JSON (${(error as Error).message})`);
  }
  const documents = Array.isArray(parsed)
    ? parsed
    : (typeof parsed === "object" && parsed !== null &&
        Array.isArray((parsed as { readings?: unknown }).readings))
    ? (parsed as { readings: unknown[] }).readings
    : null;
  if (documents === null) {
    throw new TypeError(
      'Cannot ingest: body must be a JSON array of readings or { "readings": [...] }',
    );
  }
  if (documents.length > options.maxBatchReadings) {
    throw new RangeError(
      `Cannot ingest: batch holds ${documents.length} readings, more than the limit of ${options.maxBatchReadings}`,
    );
  }
  return parseJsonReadings(documents, options.limits, nowMs);
}
