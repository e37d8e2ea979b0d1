import { IdempotencyStore } from "./idempotency_store.ts";
import { ingestHandler } from "./ingest_handler.ts";
import { IngestStats } from "./ingest_stats.ts";
import type { ReadingSink } from "./ingest_handler.ts";
import { ingestStatusHandler } from "./ingest_status.ts";
import type { WriterKeys } from "./writer_auth.ts";
import { DEFAULT_READING_LIMITS } from "./readings/mod.ts";
import type { FleetLimit } from "./fleet_limit.ts";
import type { SensorGroups } from "./sensor_groups.ts";

/** The options (`server/config`) ingest is made from. */
export interface IngestConfig {
  maxBodyBytes: number;
  maxBatchReadings: number;
  maxFutureMs: number;
  bodyTimeoutMs: number;
  idempotencyTtlMs: number;
  idempotencyLeaseMs: number;
}

/**
 * POST /api/ingest into `sink` (the source's: the KV log or MongoDB) and
 * GET /api/ingest/:batchId, with the API keys and the idempotency records
 * kept in the store, and the counters they share.
 */
export function ingestRoutes(
  sink: ReadingSink,
  deps: {
    kv: Deno.Kv;
    keys: WriterKeys;
    config: IngestConfig;
    fleet: FleetLimit;
    groups?: SensorGroups;
  },
) {
  const { config, keys } = deps;
  const stats = new IngestStats();
  const idempotency = new IdempotencyStore(deps.kv, {
    ttlMs: config.idempotencyTtlMs,
    leaseMs: config.idempotencyLeaseMs,
  });
  return {
    stats,
    ingest: ingestHandler(sink, {
      maxBodyBytes: config.maxBodyBytes,
      maxBatchReadings: config.maxBatchReadings,
      limits: { ...DEFAULT_READING_LIMITS, maxFutureMs: config.maxFutureMs },
      keys,
      idempotency,
      bodyTimeoutMs: config.bodyTimeoutMs,
      fleet: deps.fleet,
      groups: deps.groups,
    }, stats),
    ingestStatus: ingestStatusHandler(idempotency, { keys }),
  };
}
