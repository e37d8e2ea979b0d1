import { readBodyLimited } from "./body.ts";
import { errorResponse, jsonResponse, problem } from "./errors.ts";
import { decodeIngestBatch } from "../protocol/ingest_codec.ts";
import { filterValidReadings, parseJsonReadings, refusalKind } from "../readings/mod.ts";
import type { ReadingBlock, ReadingLimits, Refusal } from "../readings/mod.ts";

/** Where accepted readings go; resolves once they are durable. */
export interface ReadingSink {
  append(block: ReadingBlock): Promise<void>;
}

export interface IngestOptions {
  /** Largest request body. Default 8 MiB. */
  maxBodyBytes: number;
  /** Most readings in one batch. Default 10 000. */
  maxBatchReadings: number;
  limits: ReadingLimits;
}

/** Counters for /healthz and the benchmark. */
export class IngestStats {
  requests = 0;
  accepted = 0;
  refused = 0;
  /** Refused readings by reason kind. */
  refusedBy: Record<string, number> = {};
  /** Whole requests refused, by HTTP status. */
  rejectedRequests: Record<string, number> = {};
}

/**
 * POST /api/ingest: JSON documents or a FlatBuffers IngestBatch. Each reading
 * is validated on its own; refused ones are reported with index and reason,
 * accepted ones are appended to the log, and the answer waits until that
 * append is durable.
 */
export function ingestHandler(
  sink: ReadingSink,
  options: IngestOptions,
  stats = new IngestStats(),
) {
  const reject = (response: Response) => {
    stats.rejectedRequests[response.status] = (stats.rejectedRequests[response.status] ?? 0) + 1;
    return response;
  };
  return async (request: Request): Promise<Response> => {
    stats.requests++;
    try {
      const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (
        type !== "application/json" && type !== "application/x-flatbuffers" &&
        type !== "application/octet-stream"
      ) {
        await request.body?.cancel();
        return reject(
          problem(415, "Content-Type must be application/json or application/x-flatbuffers"),
        );
      }
      const body = await readBodyLimited(request, options.maxBodyBytes);
      if (body === null) {
        return reject(
          problem(413, `Cannot ingest: body is larger than ${options.maxBodyBytes} bytes`),
        );
      }
      const { block, refused } = type === "application/json"
        ? parseJson(body, options)
        : filterValidReadings(
          decodeIngestBatch(body, { maxReadings: options.maxBatchReadings }).block,
          options.limits,
        );
      await sink.append(block);
      stats.accepted += block.length;
      stats.refused += refused.length;
      for (const { reason } of refused) {
        const kind = refusalKind(reason);
        stats.refusedBy[kind] = (stats.refusedBy[kind] ?? 0) + 1;
      }
      return jsonResponse({ accepted: block.length, refused });
    } catch (error) {
      return reject(errorResponse(error));
    }
  };
}

function parseJson(
  body: Uint8Array,
  options: IngestOptions,
): { block: ReadingBlock; refused: Refusal[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
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
  return parseJsonReadings(documents, options.limits);
}
