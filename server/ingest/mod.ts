// The ingest stage: POST /api/ingest and GET /api/ingest/:batchId.
export { IDEMPOTENT_OUTCOMES, ingestHandler, IngestStats } from "./ingest_handler.ts";
export type { IdempotentOutcome, IngestOptions, ReadingSink } from "./ingest_handler.ts";
export { ingestStatusHandler } from "./ingest_status.ts";
export { ingestRoutes } from "./ingest_routes.ts";
export type { IngestConfig } from "./ingest_routes.ts";
export { IdempotencyStore } from "./idempotency_store.ts";
export type { BatchRecord, IdempotencyStoreOptions } from "./idempotency_store.ts";
export { batchKey, bodyFingerprint, MAX_IDEMPOTENCY_KEY_LENGTH } from "./idempotency.ts";
