import type { HubStats } from "../../actors/hub/mod.ts";
import type { ShardHealth } from "../../actors/shards/mod.ts";

/** What /healthz, /readyz and /metrics read of the source, whichever kind it is. */
export interface SourceHealth {
  /** The last read found nothing new. */
  caughtUp: boolean;
  /** Chunks (or change batches) and readings handed to the shards. */
  chunksRead: number;
  readingsRead: number;
  /** Readings read before the source first caught up (the start-up replay); -1 until then. */
  replayedReadings: number;
  /** The cursor the source started after (a checkpoint's), or null. */
  startCursor: string | null;
  checkpointsSaved: number;
  /** When the last checkpoint was saved (ms since epoch), 0 for none. */
  lastCheckpointAt: number;
  /** The state has moved past the last checkpoint. */
  checkpointBehind: boolean;
  /** Readings accepted and not yet committed (the KV log's queue; 0 for other sinks). */
  pendingReadings: number;
  /** Readings this process committed to the KV log (0 for other sinks). */
  readingsCommitted: number;
  /** False while the source cannot read (a MongoDB outage): the feed serves the last state. */
  connected: boolean;
  /** Why it is not connected, for /readyz; null when it is. */
  problem: string | null;
  /** Why the last write to the store failed (a full disk), until one succeeds; null when writes go through. */
  writeError: string | null;
  /** What /healthz shows of this kind of source under its own key (`mongo`), if anything. */
  details: Record<string, unknown> | null;
  /** Change-stream counters for /metrics (the Mongo source). */
  changeStream: {
    events: Record<string, number>;
    invalidDocuments: number;
    resumes: number;
    resyncs: number;
  } | null;
}

/** The stages /healthz and /readyz report on; each is read when the page is asked for. */
export interface HealthInputs {
  source: { readonly kind: string; health(): SourceHealth };
  hub: { readonly stats: HubStats; readonly failure: Error | null };
  shards: { health(): ShardHealth[]; readonly failed: boolean };
  /** Ingest's counters (`IngestStats`), shown as they are. */
  ingest: object;
  /** Open connections and feed sockets (`TransportStats`). */
  transport: {
    connections: number;
    feedSockets: number;
    feedAborted: number;
    feedTooBig: number;
    feedViewsPaced: number;
    /** The server-wide bound (`--max-clients`) and the upgrades it refused. */
    maxClients?: number | null;
    feedRefusedFull?: number;
  };
  history: () => {
    rollupChunksWritten: number;
    rollupChunksBuffered: number;
    rollupChunksFailed: number;
    logChunksDeleted: number;
  };
  /** MQTT ingest when it runs: its counters as they are; degraded while its bridge is down. */
  mqtt?: { health(): object; readonly degraded: boolean } | null;
  /** The malloc heap's trims (`HeapTrimmer`), when they are counted. */
  heapTrim?: object;
  /** The fleet against its caps (`FleetLimit.stats`), when ingest keeps to them. */
  fleet?: () => object;
}

/**
 * GET /healthz: "degraded" when the hub or a shard has failed for good, the
 * source cannot read, the store's last write failed, or the MQTT bridge is not connected, with every stage's counters. Counts only where a name
 * would tell who watches what: this page needs no token.
 */
export function healthReport(inputs: HealthInputs): Record<string, unknown> {
  const source = inputs.source.health();
  const hub = inputs.hub.stats;
  return {
    status: inputs.hub.failure || inputs.shards.failed || !source.connected ||
        source.writeError !== null || inputs.mqtt?.degraded
      ? "degraded"
      : "ok",
    ...source.details,
    epoch: hub.epoch,
    seq: hub.seq,
    sensors: hub.sensors,
    sessions: hub.sessions,
    log: {
      caughtUp: source.caughtUp,
      chunksRead: source.chunksRead,
      readingsRead: source.readingsRead,
      pendingReadings: source.pendingReadings,
      writeError: source.writeError,
      startCursor: source.startCursor,
      checkpointsSaved: source.checkpointsSaved,
      lastCheckpointAt: source.lastCheckpointAt,
    },
    ingest: { ...inputs.ingest },
    // Topic keys name viewers' groups and sensors: only their count.
    hub: { ...hub, topics: hub.topicCount },
    transport: { ...inputs.transport },
    history: inputs.history(),
    ...(inputs.fleet ? { fleet: inputs.fleet() } : {}),
    shards: inputs.shards.health(),
    ...(inputs.mqtt ? { mqtt: inputs.mqtt.health() } : {}),
    // The process's memory (bytes: rss, heapTotal, heapUsed, external), for capacity figures.
    memory: { ...Deno.memoryUsage(), ...(inputs.heapTrim ? { trim: inputs.heapTrim } : {}) },
  };
}
