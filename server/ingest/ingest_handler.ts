import { readBodyLimited } from "./body.ts";
import { STAMP_BYTES } from "../../protocol/ingest_codec.ts";
import { errorResponse, jsonResponse, problem } from "../http/errors.ts";
import type { ReadingLimits } from "./readings/mod.ts";
import { Admission } from "./admission.ts";
import { decodeBatchBody } from "./batch_body.ts";
import { batchKey, bodyFingerprint } from "./idempotency.ts";
import type { IdempotencyStore } from "./idempotency_store.ts";
import { batchIndexes, ingestOnce } from "./idempotent_ingest.ts";
import type { ReadingSink } from "./idempotent_ingest.ts";
import { IngestStats } from "./ingest_stats.ts";
import type { WriterKeys } from "./writer_auth.ts";
import { withinScope } from "./writer_scope.ts";
import { FleetNotSettled } from "./fleet_limit.ts";
import type { FleetLimit } from "./fleet_limit.ts";
import type { SensorGroups } from "./sensor_groups.ts";

export type { ReadingSink };

/** Longest a request with a new name waits for the fleet's counts to be whole before its 503. */
const SETTLE_WAIT_MS = 1_000;

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
  /** The fleet's caps on sensors and metric names; without it, none. */
  fleet?: FleetLimit;
  /** The groups sensors are in: a key may not write another group's sensor. Without it, unchecked. */
  groups?: SensorGroups;
}

/**
 * POST /api/ingest: JSON documents or a FlatBuffers IngestBatch, in steps:
 * admission (key, rate, media type) → read the body (size, pauses) → decode
 * → validate each reading (refused ones are reported with index and reason),
 * keep to the key's groups (those readings declare, and those their sensors
 * are in) and to the fleet's caps (last, so only readings
 * taken count against them) → with an idempotency key, apply once;
 * otherwise append → answer once the append is durable.
 */
export function ingestHandler(
  sink: ReadingSink,
  options: IngestOptions,
  stats = new IngestStats(),
) {
  const admission = new Admission(options.keys, { rate: options.rate });
  return async (request: Request): Promise<Response> => {
    stats.requests++;
    try {
      const admitted = await admission.admit(request);
      if (admitted instanceof Response) return stats.rejected(admitted);
      const { writer, media } = admitted;
      const body = await readBodyLimited(request, options.maxBodyBytes, {
        idleTimeoutMs: options.bodyTimeoutMs,
        // Room for the log's stamp in front of a batch it stores as it came: no copy of it.
        headroom: media === "flatbuffers" ? STAMP_BYTES : 0,
      });
      if (body === null) {
        return stats.rejected(
          problem(413, `Cannot ingest: body is larger than ${options.maxBodyBytes} bytes`),
        );
      }
      const batch = decodeBatchBody(body, media, {
        ...options,
        stampRoom: media === "flatbuffers",
      });
      const readings = (nowMs: number, inLog?: { through: number; appended: number }) => {
        const parsed = batch.readings(nowMs);
        const scoped = writer ? withinScope(parsed, writer) : parsed;
        // A take-over: the rows before `through` were judged by the first attempt,
        // and the log holds what it took of them (the fleet may have changed since).
        let fromRow = 0;
        if (inLog && inLog.through > 0) {
          const index = batchIndexes(scoped.block.length, scoped.refused);
          while (fromRow < index.length && index[fromRow] < inLog.through) fromRow++;
        }
        const groups = writer ? options.groups : undefined;
        // Rows before fromRow are not refused here, so they keep their places for the fleet.
        const owned = groups ? groups.keepOwn(scoped, writer, fromRow) : scoped;
        const fleet = options.fleet;
        const taken = !fleet
          ? owned
          : fromRow === 0
          ? fleet.keep(owned)
          : fleet.keepTakenOver(owned, fromRow, inLog!.appended);
        groups?.claim(taken);
        return taken;
      };
      const id = options.idempotency
        ? batchKey(request.headers.get("idempotency-key"), batch.batchId)
        : null;
      const type = media === "json" ? "application/json" : "application/x-flatbuffers";
      const fingerprint = id === null ? "" : await bodyFingerprint(type, body);
      const attempt = async () => {
        if (id !== null) {
          return await ingestOnce(
            { id, writer, fingerprint, readings },
            { store: options.idempotency!, sink, stats },
          );
        }
        const { block, refused } = readings(Date.now());
        await sink.append(block);
        stats.counted(block.length, refused);
        return jsonResponse({ accepted: block.length, refused });
      };
      try {
        return await attempt();
      } catch (error) {
        // A new name while the source is still being read (nothing was taken, and a
        // claimed key was let go): a short load (a first start's, a flush) is waited
        // out and judged once more; a long one is 503.
        if (
          !(error instanceof FleetNotSettled) ||
          !(await options.fleet!.settledWithin(SETTLE_WAIT_MS))
        ) {
          throw error;
        }
        return await attempt();
      }
    } catch (error) {
      return stats.rejected(errorResponse(error));
    }
  };
}
