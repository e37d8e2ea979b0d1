import { jsonResponse, problem } from "../http/errors.ts";
import { checkIdempotencyKey } from "./idempotency.ts";
import type { IdempotencyStore } from "./idempotency_store.ts";
import { authenticateWriter, unauthorizedWriter } from "./writer_auth.ts";
import type { WriterKeys } from "./writer_auth.ts";

/**
 * GET /api/ingest/:batchId: what became of a batch sent with that
 * idempotency key. A key sees only its own batches (records are kept per
 * key), so another key's batch is as unknown as one never sent: 404.
 */
export function ingestStatusHandler(
  store: IdempotencyStore,
  options: { keys?: WriterKeys } = {},
): (request: Request, batchId: string) => Promise<Response> {
  return async (request, batchId) => {
    const writer = await authenticateWriter(request, options.keys);
    if (writer === false) return unauthorizedWriter("read a batch's status");
    checkIdempotencyKey(batchId, "the batch id in the path", "Cannot read a batch's status");
    const record = await store.status(writer?.id ?? "", batchId);
    if (!record) return problem(404, `No batch "${batchId}" is known for this key`);
    return jsonResponse({
      batchId,
      status: record.state,
      accepted: record.accepted,
      refused: record.refused,
      appended: record.appended,
      receivedAt: new Date(record.receivedAt).toISOString(),
      completedAt: record.completedAt === null ? null : new Date(record.completedAt).toISOString(),
    });
  };
}
