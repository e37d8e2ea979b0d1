import { discardBody, readBodyLimited } from "./body.ts";
import { errorResponse, jsonResponse, problem } from "../http/errors.ts";
import { decodeIngestBatch } from "../../protocol/ingest_codec.ts";
import {
  DEFAULT_GROUP,
  filterValidReadings,
  keepRows,
  parseJsonReadings,
  refusalKind,
} from "./readings/mod.ts";
import type { ReadingBlock, ReadingLimits, Refusal } from "./readings/mod.ts";
import { groupAllowed } from "../auth/mod.ts";
import type { Writer } from "../auth/mod.ts";
import { TokenBucket } from "../http/token_bucket.ts";
import { FenceLost } from "../store/mod.ts";
import type { FencedAppend } from "../store/mod.ts";
import { authenticateWriter, unauthorizedWriter } from "./writer_auth.ts";
import type { WriterKeys } from "./writer_auth.ts";
import { batchKey, bodyFingerprint, MAX_IDEMPOTENCY_KEY_LENGTH } from "./idempotency.ts";
import type { Claim, IdempotencyStore } from "./idempotency_store.ts";

/** Where accepted readings go; resolves once they are durable (and the fence's records with them). */
export interface ReadingSink {
  append(block: ReadingBlock, options?: { fence?: FencedAppend }): Promise<void>;
}

/** Outcomes of requests that carry an idempotency key (a metric label). */
export const IDEMPOTENT_OUTCOMES = [
  "first",
  "replayed",
  "conflict",
  "in_progress",
  "mismatch",
] as const;
export type IdempotentOutcome = typeof IDEMPOTENT_OUTCOMES[number];

export interface IngestOptions {
  /** Largest request body. Default 8 MiB. */
  maxBodyBytes: number;
  /** Most readings in one batch. Default 10 000. */
  maxBatchReadings: number;
  limits: ReadingLimits;
  /** API keys; when any exists, every request must present one. */
  keys?: WriterKeys;
  /** Idempotency records; without it, keys and batch ids are ignored. */
  idempotency?: IdempotencyStore;
  /** Requests per key: a burst of `capacity`, then `perSecond`. Default 50 and 20/s. */
  rate?: { capacity: number; perSecond: number };
  /** Longest wait for the next bytes of a body before answering 408. Default 30 000 ms. */
  bodyTimeoutMs?: number;
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
  /** Requests with an idempotency key, by outcome. */
  idempotent: Record<IdempotentOutcome, number> = {
    first: 0,
    replayed: 0,
    conflict: 0,
    in_progress: 0,
    mismatch: 0,
  };
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
      const writer = await authenticateWriter(request, options.keys);
      if (writer === false) {
        await discardBody(request);
        return reject(unauthorizedWriter("ingest"));
      }
      if (writer) {
        let bucket = buckets.get(writer.id);
        if (!bucket) {
          buckets.set(
            writer.id,
            bucket = new TokenBucket(options.rate ?? { capacity: 50, perSecond: 20 }, Date.now()),
          );
        }
        if (!bucket.take(Date.now())) {
          await discardBody(request);
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
        await discardBody(request);
        return reject(
          problem(415, "Content-Type must be application/json or application/x-flatbuffers"),
        );
      }
      const body = await readBodyLimited(request, options.maxBodyBytes, {
        idleTimeoutMs: options.bodyTimeoutMs,
      });
      if (body === null) {
        return reject(
          problem(413, `Cannot ingest: body is larger than ${options.maxBodyBytes} bytes`),
        );
      }
      const decoded = type === "application/json" ? null : decodeIngestBatch(body, {
        maxReadings: options.maxBatchReadings,
        maxBatchIdBytes: MAX_IDEMPOTENCY_KEY_LENGTH,
      });
      const id = options.idempotency
        ? batchKey(request.headers.get("idempotency-key"), decoded?.batchId ?? null)
        : null;
      const parse = (nowMs: number) => {
        const parsed = decoded
          ? filterValidReadings(decoded.block, options.limits, nowMs)
          : parseJson(body, options, nowMs);
        return writer ? withinScope(parsed, writer) : parsed;
      };
      if (id === null) {
        const { block, refused } = parse(Date.now());
        await sink.append(block);
        count(block.length, refused);
        return jsonResponse({ accepted: block.length, refused });
      }
      return await idempotent(options.idempotency!, {
        id,
        writer,
        // application/octet-stream is the same FlatBuffers batch as x-flatbuffers.
        fingerprint: await bodyFingerprint(decoded ? "application/x-flatbuffers" : type, body),
        parse,
      });
    } catch (error) {
      return reject(errorResponse(error));
    }
  };

  function count(accepted: number, refused: Refusal[]): void {
    stats.accepted += accepted;
    stats.refused += refused.length;
    for (const { reason } of refused) {
      const kind = refusalKind(reason);
      stats.refusedBy[kind] = (stats.refusedBy[kind] ?? 0) + 1;
    }
  }

  /**
   * Applies a batch with an idempotency key at most once: claim the key,
   * append the readings fenced by the claim (the last chunk stores the
   * answer), or answer from what the key's record says.
   */
  async function idempotent(
    store: IdempotencyStore,
    batch: {
      id: string;
      writer: Writer | null;
      fingerprint: string;
      parse: (nowMs: number) => { block: ReadingBlock; refused: Refusal[] };
    },
  ): Promise<Response> {
    // Each key's batches live apart: one tenant can neither hit nor probe another's.
    const scope = batch.writer?.id ?? "";
    const claimed = await store.claim({
      scope,
      id: batch.id,
      fingerprint: batch.fingerprint,
      keyId: batch.writer?.id ?? null,
    });
    switch (claimed.kind) {
      case "replay":
        stats.idempotent.replayed++;
        return new Response(claimed.body, {
          status: claimed.status,
          headers: {
            "content-type": "application/json; charset=utf-8",
            "idempotent-replayed": "true",
          },
        });
      case "mismatch":
        stats.idempotent.mismatch++;
        return reject(
          problem(
            422,
            `Cannot ingest: Idempotency-Key "${batch.id}" was already used for a different body`,
          ),
        );
      case "in_progress":
        stats.idempotent.in_progress++;
        return reject(
          problem(409, `Cannot ingest: batch "${batch.id}" is being applied by another request`, {
            "retry-after": String(claimed.retryAfterSeconds),
          }),
        );
      case "claimed":
        break;
      default:
        claimed satisfies never;
    }
    const { claim } = claimed;
    try {
      return await apply(claim, { store, parse: batch.parse });
    } catch (error) {
      // Let a retry take over at once instead of waiting for the lease.
      await store.release(claim).catch(() => {});
      if (error instanceof FenceLost) {
        stats.idempotent.conflict++;
        return reject(problem(409, `Cannot ingest: ${error.message}`, { "retry-after": "1" }));
      }
      throw error;
    }
  }

  async function apply(
    claim: Claim,
    { store, parse }: {
      store: IdempotencyStore;
      parse: (nowMs: number) => { block: ReadingBlock; refused: Refusal[] };
    },
  ): Promise<Response> {
    // Validated against the first attempt's clock, so a retry that takes over
    // accepts exactly the readings the first attempt did.
    const { block, refused } = parse(claim.record.receivedAt);
    const batchLength = block.length + refused.length;
    const index = batchIndexes(block.length, refused);
    // After a take-over, readings before `through` are in the log already.
    let from = 0;
    while (from < block.length && index[from] < claim.record.through) from++;
    const rest = from === 0
      ? block
      : keepRows(block, (row) => row < from ? "in the log" : null).block;
    const answer = await storableAnswer(store, { accepted: block.length, refused });
    await sink.append(rest, {
      fence: store.fence(claim, {
        answer: answer.prepared,
        rows: { length: rest.length, batchIndex: (row) => index[from + row], batchLength },
      }),
    });
    count(rest.length, refused);
    stats.idempotent.first++;
    return new Response(answer.body, {
      headers: { "content-type": "application/json; charset=utf-8" },
    });
  }
}

/** The answer, as sent and stored; the refused list is cut when it would be too large to keep. */
async function storableAnswer(
  store: IdempotencyStore,
  { accepted, refused }: { accepted: number; refused: Refusal[] },
) {
  const summary = { status: 200, accepted, refused: refused.length };
  let body = JSON.stringify({ accepted, refused });
  try {
    return { body, prepared: await store.prepare(body, summary) };
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    body = JSON.stringify({ accepted, refused: refused.slice(0, 1000), refusedTruncated: true });
    return { body, prepared: await store.prepare(body, summary) };
  }
}

/** Index in the batch of each accepted reading, given the refused ones (sorted by index). */
function batchIndexes(accepted: number, refused: Refusal[]): Uint32Array {
  const index = new Uint32Array(accepted);
  let r = 0;
  let i = 0;
  for (let row = 0; row < accepted; row++) {
    while (r < refused.length && refused[r].index === i) {
      r++;
      i++;
    }
    index[row] = i++;
  }
  return index;
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
  nowMs: number,
): { block: ReadingBlock; refused: Refusal[] } {
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
