import { readBodyLimited } from "./body.ts";
import { errorResponse, jsonResponse, problem } from "./errors.ts";
import { decodeIngestBatch } from "../protocol/ingest_codec.ts";
import {
  DEFAULT_GROUP,
  filterValidReadings,
  keepRows,
  parseJsonReadings,
  refusalKind,
} from "../readings/mod.ts";
import type { ReadingBlock, ReadingLimits, Refusal } from "../readings/mod.ts";
import { groupAllowed } from "../auth/mod.ts";
import type { Writer } from "../auth/mod.ts";
import { TokenBucket } from "./token_bucket.ts";

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
  /** API keys; when any exists, every request must present one. */
  keys?: { inUse(): Promise<boolean>; verify(presented: string): Promise<Writer | null> };
  /** Requests per key: a burst of `capacity`, then `perSecond`. Default 50 and 20/s. */
  rate?: { capacity: number; perSecond: number };
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
  const buckets = new Map<string, TokenBucket>();
  return async (request: Request): Promise<Response> => {
    stats.requests++;
    try {
      let writer: Writer | null = null;
      if (options.keys && await options.keys.inUse()) {
        const presented = request.headers.get("x-api-key") ??
          request.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
        writer = presented ? await options.keys.verify(presented) : null;
        if (!writer) {
          await request.body?.cancel();
          return reject(
            problem(401, "Cannot ingest: present a valid API key (Authorization: Bearer <key>)", {
              "www-authenticate": 'Bearer realm="pulseboard-ingest"',
            }),
          );
        }
        let bucket = buckets.get(writer.id);
        if (!bucket) {
          buckets.set(
            writer.id,
            bucket = new TokenBucket(options.rate ?? { capacity: 50, perSecond: 20 }, Date.now()),
          );
        }
        if (!bucket.take(Date.now())) {
          await request.body?.cancel();
          return reject(
            problem(429, `Cannot ingest: key ${writer.id} is over its request rate`, {
              "retry-after": "1",
            }),
          );
        }
      }
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
      const parsed = type === "application/json" ? parseJson(body, options) : filterValidReadings(
        decodeIngestBatch(body, { maxReadings: options.maxBatchReadings }).block,
        options.limits,
      );
      const { block, refused } = writer ? withinScope(parsed, writer) : parsed;
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

/** Refuses the readings whose group the key may not write, keeping batch indexes. */
function withinScope(
  parsed: { block: ReadingBlock; refused: Refusal[] },
  writer: Writer,
): { block: ReadingBlock; refused: Refusal[] } {
  const { block } = parsed;
  if (writer.groups.includes("*")) return parsed;
  const groupOf = (row: number) => block.strings[block.group[row]] || DEFAULT_GROUP;
  const scoped = keepRows(
    block,
    (row) =>
      groupAllowed(writer.groups, groupOf(row))
        ? null
        : `group "${groupOf(row)}" is not allowed for this key`,
  );
  if (scoped.refused.length === 0) return parsed;
  // Rows of the block are the batch's readings minus those already refused.
  const batchIndex: number[] = [];
  const earlier = new Set(parsed.refused.map((r) => r.index));
  for (let i = 0; batchIndex.length < block.length; i++) if (!earlier.has(i)) batchIndex.push(i);
  const refused = [
    ...parsed.refused,
    ...scoped.refused.map((r) => ({ index: batchIndex[r.index], reason: r.reason })),
  ]
    .sort((a, b) => a.index - b.index);
  return { block: scoped.block, refused };
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
