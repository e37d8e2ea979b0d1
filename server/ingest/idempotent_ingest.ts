import { problem } from "../http/errors.ts";
import { FenceLost } from "../store/mod.ts";
import type { Writer } from "../auth/mod.ts";
import { keepRows } from "./readings/mod.ts";
import type { ParsedReadings, ReadingBlock, Refusal } from "./readings/mod.ts";
import type { BatchFence, Claim, IdempotencyStore } from "./idempotency_store.ts";
import type { IngestStats } from "./ingest_stats.ts";

/** Where accepted readings go; resolves once they are durable (and the fence's records with them). */
export interface ReadingSink {
  append(block: ReadingBlock, options?: { fence?: BatchFence }): Promise<void>;
}

/** A batch sent with an idempotency key. */
export interface KeyedBatch {
  /** The key (Idempotency-Key or the batch's own id). */
  id: string;
  writer: Writer | null;
  /** SHA-256 of media type and body: the same key with another body is a mismatch. */
  fingerprint: string;
  /**
   * Its readings, validated as of a time (the first attempt's, on a
   * take-over). On a take-over, `inLog` says what the first attempt put in the
   * log: the readings before batch index `through`, `appended` of them (checks
   * on what the server holds now, the fleet's caps, must agree with it).
   */
  readings: (nowMs: number, inLog?: { through: number; appended: number }) => ParsedReadings;
}

/**
 * Applies a batch with an idempotency key at most once: claim the key,
 * append the readings fenced by the claim (the last chunk stores the
 * answer), or answer from what the key's record says: its stored answer
 * (replayed), 422 for another body, 409 while another request applies it.
 */
export async function ingestOnce(
  batch: KeyedBatch,
  deps: { store: IdempotencyStore; sink: ReadingSink; stats: IngestStats },
): Promise<Response> {
  const { store, stats } = deps;
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
      return stats.rejected(
        problem(
          422,
          `Cannot ingest: Idempotency-Key "${batch.id}" was already used for a different body`,
        ),
      );
    case "in_progress":
      stats.idempotent.in_progress++;
      return stats.rejected(
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
    return await applyClaimed(claim, batch, deps);
  } catch (error) {
    // Let a retry take over at once instead of waiting for the lease.
    await store.release(claim).catch(() => {});
    if (error instanceof FenceLost) {
      stats.idempotent.conflict++;
      return stats.rejected(
        problem(409, `Cannot ingest: ${error.message}`, { "retry-after": "1" }),
      );
    }
    throw error;
  }
}

/**
 * Appends the claimed batch's readings not yet in the log (after a
 * take-over, those before the record's `through` are), fenced by the claim,
 * with the answer stored by the last chunk.
 */
async function applyClaimed(
  claim: Claim,
  batch: KeyedBatch,
  deps: { store: IdempotencyStore; sink: ReadingSink; stats: IngestStats },
): Promise<Response> {
  const { store, sink, stats } = deps;
  // Validated against the first attempt's clock, so a retry that takes over
  // accepts exactly the readings the first attempt did.
  const { block, refused } = batch.readings(claim.record.receivedAt, {
    through: claim.record.through,
    appended: claim.record.appended,
  });
  const batchLength = block.length + refused.length;
  const index = batchIndexes(block.length, refused);
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
  stats.counted(rest.length, refused);
  stats.idempotent.first++;
  return new Response(answer.body, {
    headers: { "content-type": "application/json; charset=utf-8" },
  });
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
export function batchIndexes(accepted: number, refused: readonly Refusal[]): Uint32Array {
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
