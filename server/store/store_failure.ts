// A Deno KV commit that failed, as the error the HTTP edge answers with.
// Deno KV reports SQLite's conditions as TypeErrors ("database or disk is
// full"), which the edge reads as the client's fault (400): a client then
// drops readings that it should send again. A full or failing disk is the
// server's condition: 503 with Retry-After (Deno.errors.Busy); anything
// else a commit throws is ours too (500), never the request's.

/** SQLite's conditions that pass: the disk fills, is freed, comes back. */
const STORAGE_CONDITIONS =
  /database or disk is full|disk I\/O error|readonly database|database is locked|no space left/i;

/** The error to settle an append with, for an error a commit threw. */
export function storeFailure(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (STORAGE_CONDITIONS.test(message)) {
    return new Deno.errors.Busy(
      `The store cannot take writes now (${message}): these readings were not acknowledged; ` +
        "send them again later",
      { cause: error },
    );
  }
  return new Error(`The store's commit failed: ${message}`, { cause: error });
}
