import { ATTENTION_NAMES } from "../../protocol/attention.ts";
import client from "prom-client";
import type { HubObserver } from "../../actors/hub/hub.ts";
import type { TickParts } from "../../actors/hub/hub_stats.ts";
import type { ShardHealth } from "../../actors/shards/mod.ts";
import type { MetricStates } from "../../protocol/mod.ts";
import type { SourceHealth } from "./health.ts";
import { topicLabeler } from "./topic_label.ts";
import { registerMqttMetrics } from "./mqtt_metrics.ts";
import type { MqttCounters } from "./mqtt_metrics.ts";

/** Freshness observations a tick at most. */
const FRESHNESS_SAMPLES = 64;

// Every part of a tick, checked against the type: a new part must be named here.
const TICK_PART_NAMES: Record<keyof TickParts, true> = {
  apply: true,
  judge: true,
  order: true,
  frames: true,
  sends: true,
  topics: true,
};
const TICK_PARTS = Object.keys(TICK_PART_NAMES) as (keyof TickParts)[];

/** What the metrics read when scraped: live counters kept by the stages. */
export interface MetricSources {
  ingest: {
    requests: number;
    accepted: number;
    refusedBy: Record<string, number>;
    rejectedRequests: Record<string, number>;
    /** Requests with an idempotency key, by outcome. */
    idempotent?: Record<string, number>;
  };
  hub: {
    recovered: number;
    resynced: number;
    badSubscriptions: number;
    /** The busiest topics (a short list). */
    topics: { key: string; sessions: number; ring: number }[];
    topicCount?: number;
    topicsEvicted?: number;
    activeTopicsEvicted?: number;
    subscriptionsRefused?: number;
    ringBytes: number;
    sessions: number;
    sensors: number;
    /** Sensors per attention code (protocol/attention.ts); absent: all counted unknown. */
    attention?: readonly number[];
    framesSent: number;
    bytesSent: number;
    snapshotsSent: number;
    skippedFrames: number;
    slowCloses: number;
    silentCloses?: number;
    flushTimeouts: number;
    lateDropped: number;
  };
  /** Event-time rollups and raw-log retention; absent in tests that do not wire them. */
  history?: () => {
    rollupChunksWritten: number;
    rollupChunksFailed: number;
    logChunksDeleted: number;
  };
  /** The source: the log's counters, and a change stream's in mongo mode. */
  source: {
    readonly kind: string;
    health(): SourceHealth;
    /** Batches handed to the shards, timed (the change-stream source). */
    observeHandOffs?(listener: (handOff: { receivedAt: number; handedAt: number }) => void): void;
  };
  shards: { health(): ShardHealth[] };
  /** MQTT ingest's counters, when it runs. */
  mqtt?: { counters(): MqttCounters } | null;
  /** The fleet against its caps (`FleetLimit.stats`), when ingest keeps to them. */
  fleet?: () => { sensors: number; maxSensors: number; droppedValues: number };
  /** The feed's sockets against `--max-clients` (`TransportStats`), when wired. */
  transport?: { maxClients: number | null; feedRefusedFull: number };
}

/**
 * The /metrics page in Prometheus text format (prom-client). Gauges and
 * counters are read from the stages' own counters at scrape time; the two
 * histograms are fed by the hub as ticks happen.
 */
export class PrometheusMetrics {
  readonly registry = new client.Registry();
  readonly hubObserver: HubObserver;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    const source = () => sources.source.health();
    // Counters mirror monotonic stage counters: add what grew since the last scrape.
    const mirrored = (name: string, help: string, read: () => number) => {
      let seen = 0;
      new client.Counter({
        name,
        help,
        registers,
        collect() {
          const now = read();
          if (now > seen) this.inc(now - seen);
          seen = now;
        },
      });
    };
    const mirroredBy = (
      name: string,
      help: string,
      label: string,
      read: () => Record<string, number>,
    ) => {
      const seen: Record<string, number> = {};
      new client.Counter({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          for (const [key, value] of Object.entries(read())) {
            // inc(0) makes a labelled series visible before its first event.
            this.inc({ [label]: key }, Math.max(0, value - (seen[key] ?? 0)));
            seen[key] = value;
          }
        },
      });
    };
    const gauge = (name: string, help: string, read: () => number) =>
      new client.Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });

    mirrored(
      "pulseboard_ingest_requests_total",
      "Ingest requests received.",
      () => sources.ingest.requests,
    );
    mirroredBy(
      "pulseboard_ingest_rejected_requests_total",
      "Ingest requests refused whole, by HTTP status.",
      "status",
      () => sources.ingest.rejectedRequests,
    );
    mirroredBy(
      "pulseboard_ingest_idempotent_requests_total",
      "Ingest requests with an idempotency key, by outcome: first (applied), replayed, " +
        "in_progress (409, a concurrent duplicate), mismatch (422, another body), " +
        "conflict (409, the claim was taken over meanwhile).",
      "outcome",
      () => sources.ingest.idempotent ?? {},
    );
    mirrored(
      "pulseboard_readings_ingested_total",
      "Readings accepted and durably committed.",
      () => sources.ingest.accepted,
    );
    mirroredBy(
      "pulseboard_readings_refused_total",
      "Readings refused at ingest, by reason.",
      "reason",
      () => sources.ingest.refusedBy,
    );
    mirrored(
      "pulseboard_late_readings_dropped_total",
      "Readings older than the watermark (newest event time, each no later than when it was accepted, minus grace), left out of every event-time window.",
      () => sources.hub.lateDropped,
    );
    if (sources.history) {
      const history = sources.history;
      mirrored(
        "pulseboard_rollups_written_total",
        "Closed windows stored as rollups (one per sensor, size and window start).",
        () => history().rollupChunksWritten,
      );
      mirrored(
        "pulseboard_rollups_dropped_total",
        "Rollups dropped because the writer fell too far behind.",
        () => history().rollupChunksFailed,
      );
      mirrored(
        "pulseboard_log_chunks_deleted_total",
        "Raw log chunks deleted as older than the retention.",
        () => history().logChunksDeleted,
      );
    }
    if (sources.fleet) {
      const fleet = sources.fleet;
      gauge(
        "pulseboard_fleet_max_sensors",
        "Most sensors the fleet holds (--max-sensors); readings that would add one more are refused.",
        () => fleet().maxSensors,
      );
      mirrored(
        "pulseboard_values_dropped_total",
        "Values dropped because their metric name came past the cap on metric names (documents of other MongoDB writers; ingest refuses such readings).",
        () => fleet().droppedValues,
      );
    }
    if (sources.mqtt) {
      const mqtt = sources.mqtt;
      registerMqttMetrics(this.registry, () => mqtt.counters());
    }
    gauge(
      "pulseboard_log_pending_readings",
      "Readings accepted and waiting for their log commit.",
      () => sources.source.health().pendingReadings,
    );
    gauge(
      "pulseboard_log_lag_readings",
      "Readings committed by this process but not yet handed to the shards (approximate during start-up replay).",
      () =>
        Math.max(
          0,
          source().readingsCommitted -
            (source().readingsRead - Math.max(0, source().replayedReadings)),
        ),
    );
    gauge(
      "pulseboard_log_caught_up",
      "1 when the log source has read everything committed.",
      () => source().caughtUp ? 1 : 0,
    );
    gauge(
      "pulseboard_checkpoint_age_seconds",
      "Seconds since the last checkpoint (-1 before the first).",
      () => {
        const at = source().lastCheckpointAt;
        return at === 0 ? -1 : (Date.now() - at) / 1000;
      },
    );
    new client.Gauge({
      name: "pulseboard_shard_mailbox_depth",
      help: "Messages waiting in each shard's mailbox.",
      labelNames: ["shard"],
      registers,
      collect() {
        sources.shards.health().forEach((s, i) => this.set({ shard: String(i) }, s.depth));
      },
    });
    const restarts: number[] = [];
    new client.Counter({
      name: "pulseboard_shard_restarts_total",
      help: "Supervisor restarts of each shard.",
      labelNames: ["shard"],
      registers,
      collect() {
        sources.shards.health().forEach((s, i) => {
          this.inc({ shard: String(i) }, Math.max(0, s.restarts - (restarts[i] ?? 0)));
          restarts[i] = s.restarts;
        });
      },
    });
    gauge(
      "pulseboard_shards_failed",
      "Shards stopped for good after repeated failures.",
      () => sources.shards.health().filter((s) => s.failed).length,
    );
    new client.Gauge({
      name: "pulseboard_sensors",
      help:
        "Sensors known to the hub, by attention state (critical, warn, offline, stale, ok, unknown).",
      labelNames: ["state"],
      registers,
      collect() {
        const counts = sources.hub.attention;
        ATTENTION_NAMES.forEach((state, code) =>
          this.set({ state }, counts ? counts[code] : code === 0 ? sources.hub.sensors : 0)
        );
      },
    });
    gauge("pulseboard_clients", "Connected WebSocket clients.", () => sources.hub.sessions);
    const transport = sources.transport;
    if (transport) {
      gauge(
        "pulseboard_feed_max_clients",
        "The bound on open feed connections in all (--max-clients).",
        () => transport.maxClients ?? Infinity,
      );
      mirrored(
        "pulseboard_feed_refused_full_total",
        "Feed connections refused with 503 because --max-clients were open.",
        () => transport.feedRefusedFull,
      );
    }
    mirrored(
      "pulseboard_frames_sent_total",
      "Delta frames sent to clients.",
      () => sources.hub.framesSent,
    );
    mirrored(
      "pulseboard_frame_bytes_sent_total",
      "Bytes of delta frames sent to clients.",
      () => sources.hub.bytesSent,
    );
    mirrored(
      "pulseboard_snapshots_sent_total",
      "Snapshots sent (joins and catch-ups).",
      () => sources.hub.snapshotsSent,
    );
    mirrored(
      "pulseboard_slow_client_skips_total",
      "Deltas skipped for clients over their unsent-bytes cap.",
      () => sources.hub.skippedFrames,
    );
    mirrored(
      "pulseboard_slow_client_closes_total",
      "Clients closed with 4008 for staying over the cap.",
      () => sources.hub.slowCloses,
    );
    mirrored(
      "pulseboard_silent_client_closes_total",
      "Clients closed with 4001 for not answering pings within the silence limit.",
      () => sources.hub.silentCloses ?? 0,
    );
    mirroredBy(
      "pulseboard_recoveries_total",
      "Reconnects that resumed: with the missed frames (recovered) or a fresh snapshot (resynced).",
      "result",
      () => ({ recovered: sources.hub.recovered, resynced: sources.hub.resynced }),
    );
    gauge(
      "pulseboard_ring_bytes",
      "Bytes of frames held by all recovery rings.",
      () => sources.hub.ringBytes,
    );
    mirrored(
      "pulseboard_bad_subscriptions_total",
      "Subscriptions refused as malformed.",
      () => sources.hub.badSubscriptions,
    );
    const topicLabel = topicLabeler();
    new client.Gauge({
      name: "pulseboard_topic_sessions",
      help:
        "Sessions of the 10 busiest topics (a canonical set of subscriptions): * for the everything-topic, " +
        "else an opaque id (a keyed hash, new at each start) that names no viewer's groups or sensors.",
      labelNames: ["topic"],
      registers,
      collect() {
        this.reset();
        for (const t of sources.hub.topics) this.set({ topic: topicLabel(t.key) }, t.sessions);
      },
    });
    gauge(
      "pulseboard_topics",
      "Live topics (distinct subscription sets), idle ones kept for resuming included.",
      () => sources.hub.topicCount ?? sources.hub.topics.length,
    );
    mirroredBy(
      "pulseboard_topic_evictions_total",
      "Topics dropped to make room: idle ones, and active ones of the client holding the most.",
      "kind",
      () => {
        const active = sources.hub.activeTopicsEvicted ?? 0;
        return { idle: (sources.hub.topicsEvicted ?? 0) - active, active };
      },
    );
    mirrored(
      "pulseboard_subscriptions_refused_total",
      "Subscribes refused by a limit: subscriptions or bytes per session, topics per client, --max-topics.",
      () => sources.hub.subscriptionsRefused ?? 0,
    );
    mirrored(
      "pulseboard_shard_flush_timeouts_total",
      "Shard flushes that did not answer within a tick's limit.",
      () => sources.hub.flushTimeouts,
    );

    const mongo = () => source().changeStream!;
    const inMongoMode = sources.source.kind === "mongo";
    if (inMongoMode) {
      mirroredBy(
        "pulseboard_mongo_events_total",
        "Change events read from MongoDB, by operation type.",
        "op",
        () => mongo().events,
      );
      mirrored(
        "pulseboard_mongo_invalid_documents_total",
        "MongoDB documents skipped because they do not have the reading shape (logged with their _id).",
        () => mongo().invalidDocuments,
      );
      mirrored(
        "pulseboard_mongo_resumes_total",
        "Change streams reopened from a resume token (by the driver after a resumable error, or after an outage or restart).",
        () => mongo().resumes,
      );
      mirrored(
        "pulseboard_mongo_resyncs_total",
        "Rebuilds of the state from the collection after the change history was lost (each a new epoch).",
        () => mongo().resyncs,
      );
      gauge(
        "pulseboard_mongo_connected",
        "1 while the MongoDB change stream is open and answering.",
        () => source().connected ? 1 : 0,
      );
    }
    const handOff = new client.Histogram({
      name: "pulseboard_mongo_handoff_seconds",
      help:
        "Time the Mongo source adds per batch: from the driver returning its first event to the shards having them all.",
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: inMongoMode ? registers : [],
    });
    sources.source.observeHandOffs?.(({ receivedAt, handedAt }) =>
      handOff.observe((handedAt - receivedAt) / 1000)
    );

    const tick = new client.Histogram({
      name: "pulseboard_hub_tick_seconds",
      help: "Time to flush the shards, merge, encode and send one tick.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    const tickPart = new client.Histogram({
      name: "pulseboard_hub_tick_part_seconds",
      help:
        "Parts of a tick: apply (merging the shards' flushes), judge (attention), order, frames and sends (viewport views), topics.",
      labelNames: ["part"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    const parts = TICK_PARTS.map((part) => tickPart.labels(part));
    const freshness = new client.Histogram({
      name: "pulseboard_freshness_seconds",
      help: "From a reading's event time to the send of the frame that carries it.",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.hubObserver = {
      tick: (ms, tickParts) => {
        tick.observe(ms / 1000);
        TICK_PARTS.forEach((part, i) => parts[i].observe(tickParts[part] / 1000));
      },
      sent: (updates: MetricStates, sentAtMs: number) => {
        // Sampled: a busy tick costs at most 64 observations (prom-client's are ~1 µs each).
        const step = Math.max(1, Math.ceil(updates.length / FRESHNESS_SAMPLES));
        for (let i = 0; i < updates.length; i += step) {
          freshness.observe((sentAtMs - updates.timeMs[i]) / 1000);
        }
      },
    };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
