// The rows of a batch sent with an idempotency key, stored once in MongoDB:
// each row's `_id` follows from the batch and its index, so inserting it a
// second time (a retry, a take-over after a crash) is refused by the
// collection's unique `_id` index instead of storing it twice.

/** What names a keyed batch: the API key's scope, the idempotency key and the body's fingerprint. */
export interface KeyedBatchName {
  scope: string;
  id: string;
  fingerprint: string;
}

/**
 * The `_id` of each row: `<batch>:<index in the batch>`, where `<batch>` is
 * 128 bits of SHA-256 over scope, key and fingerprint. The scope keeps two
 * API keys' batches apart; the fingerprint keeps another body under a reused
 * key (e.g. sent to another instance, whose Deno KV does not know the key)
 * from being taken for stored rows.
 */
export async function keyedRowIds(
  batch: KeyedBatchName,
  batchIndexes: readonly number[],
): Promise<string[]> {
  const input = new TextEncoder().encode(
    JSON.stringify([batch.scope, batch.id, batch.fingerprint]),
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  const prefix = Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
  return batchIndexes.map((index) => `${prefix}:${index}`);
}

/** MongoDB's duplicate key error. */
const DUPLICATE_KEY = 11000;

interface WriteErrorLike {
  code?: unknown;
  errmsg?: unknown;
  keyPattern?: unknown;
  err?: { keyPattern?: unknown; errmsg?: unknown };
}

/** The index MongoDB names in a duplicate key message: `... index: <name> dup key: ...`. */
const INDEX_NAMED = / index: (\S+) dup key/;

/**
 * True when an insertMany failed only because some documents' `_id`s are
 * stored already (E11000 on `_id`; every other document went in), and the
 * write concern was met: the rows are all stored, once.
 */
export function onlyDuplicateIds(error: unknown): boolean {
  const e = error as {
    writeErrors?: unknown;
    result?: { getWriteConcernError?: () => unknown };
  } | null;
  if (typeof e !== "object" || e === null) return false;
  const writeErrors = Array.isArray(e.writeErrors)
    ? e.writeErrors as WriteErrorLike[]
    : e.writeErrors
    ? [e.writeErrors as WriteErrorLike]
    : [];
  if (writeErrors.length === 0) return false;
  if (e.result?.getWriteConcernError?.()) return false;
  return writeErrors.every((w) => w?.code === DUPLICATE_KEY && onId(w));
}

/**
 * Whether a duplicate key error is the `_id` index's. The driver's write
 * errors carry no key pattern, only the server's message: another unique
 * index refusing a row means the row is not stored, and an error that says
 * neither is taken as not stored.
 */
function onId(w: WriteErrorLike): boolean {
  const pattern = w.keyPattern ?? w.err?.keyPattern;
  if (typeof pattern === "object" && pattern !== null) return Object.keys(pattern).join() === "_id";
  const message = w.errmsg ?? w.err?.errmsg;
  return typeof message === "string" && INDEX_NAMED.exec(message)?.[1] === "_id_";
}
