// The ingest stage: POST /api/ingest and GET /api/ingest/:batchId.
export { ingestHandler } from "./ingest_handler.ts";
export type { IngestOptions, ReadingSink } from "./ingest_handler.ts";
export { IDEMPOTENT_OUTCOMES, IngestStats } from "./ingest_stats.ts";
export type { IdempotentOutcome } from "./ingest_stats.ts";
export { Admission, mediaOf } from "./admission.ts";
export type { IngestMedia } from "./admission.ts";
export { decodeBatchBody } from "./batch_body.ts";
export type { BatchBody } from "./batch_body.ts";
export { withinScope } from "./writer_scope.ts";
export { batchIndexes, ingestOnce } from "./idempotent_ingest.ts";
export type { KeyedBatch } from "./idempotent_ingest.ts";
export { ingestStatusHandler } from "./ingest_status.ts";
export { ingestRoutes } from "./ingest_routes.ts";
export type { IngestConfig } from "./ingest_routes.ts";
export { IdempotencyStore } from "./idempotency_store.ts";
export type { BatchRecord, IdempotencyStoreOptions } from "./idempotency_store.ts";
export { batchKey, bodyFingerprint, MAX_IDEMPOTENCY_KEY_LENGTH } from "./idempotency.ts";
