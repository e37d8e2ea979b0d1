import type { ReadingLimits } from "../readings/mod.ts";
import { logger } from "../../ops/mod.ts";
import type { MqttCounters } from "../../ops/mod.ts";
import { isLoopback } from "../../auth/mod.ts";
import { GroupCommit } from "./group_commit.ts";
import type { RecordingSink } from "./group_commit.ts";
import { PublishIngest } from "./publish_ingest.ts";
import { KvRetryRecords } from "./retry_records.ts";
import { startListener } from "./listener.ts";
import type { MqttKeys, MqttListener } from "./listener.ts";
import { startBridge } from "./bridge.ts";
import type { MqttBridge } from "./bridge.ts";
import { bridgeClientId } from "./bridge_client_id.ts";
import { MqttStats } from "./stats.ts";
import type { FleetLimit } from "../fleet_limit.ts";
import type { SensorGroups } from "../sensor_groups.ts";
import type { BridgeHealth } from "./stats.ts";

export interface MqttIngestDeps {
  /** The log: appends with records, durable when resolved (`KvLog`). */
  sink: RecordingSink;
  /** The store the retry records and the bridge's client id live in (the log's). */
  kv: Deno.Kv;
  keys: MqttKeys;
  limits: ReadingLimits;
  /** The fleet's caps on sensors and metric names; without it, none. */
  fleet?: FleetLimit;
  /** The groups sensors are in: a key may not write another group's sensor. */
  groups?: SensorGroups;
}

/** What the listener (--mqtt-port, --mqtts-port) and the bridge (--mqtt-url) are asked for. */
export interface MqttOptions {
  /** Embedded listener (plain MQTT) port; null: off. 0 picks a free one. */
  port: number | null;
  /** Embedded listener over TLS (with --cert/--key); null: off. */
  tlsPort: number | null;
  /** Bridge: the broker to subscribe to (mqtt:// or mqtts://); null: off. */
  url: string | null;
  /** Bridge: the topic filter it subscribes to. */
  topic: string;
  /** Bridge: client id; null: a random one kept in the data store (stable per --data). */
  clientId: string | null;
  /** Bridge: PEM file of the CA that signed the broker's certificate (mqtts://). */
  caFile: string | null;
  /** Bridge: user name and password (PULSEBOARD_MQTT_PASSWORD). */
  username: string | null;
  password: string | null;
  /** Largest MQTT packet accepted, in bytes (the connection is dropped above). */
  maxPacketBytes: number;
  /** Open listener connections in all, per client address, and per API key. */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxConnectionsPerKey: number;
  /** New connections per second per client address and per key (a burst of 5 s worth). */
  connectRate: number;
  /** Publishes per second per key and per client address (a burst of 1 s worth); more wait. */
  publishRate: number;
  /** How long a persistent session's retry records are kept. */
  retryTtlMs: number;
}

export interface MqttIngestStartOptions extends MqttOptions {
  /** The address to bind (the HTTP server's --host). */
  host: string;
  /** --insecure: serve off loopback without API keys. */
  insecure: boolean;
  /** PEM certificate and key (--cert, --key) for --mqtts-port. */
  tls: { cert: string; key: string } | null;
  /** Time for a CONNECT or a TLS handshake (--header-timeout). */
  connectTimeoutMs: number;
  /** Most readings in one IngestBatch payload (--max-batch). */
  maxBatchReadings: number;
}

/** MQTT ingest on /healthz. */
export interface MqttHealth {
  listener: {
    urls: string[];
    connections: number;
    connects: MqttStats["connects"];
    /** QoS 2 publishes answered with PUBREC and awaiting PUBREL (their packet ids), and those forgotten over the cap. */
    qos2Unreleased: number;
    qos2Forgotten: number;
  } | null;
  bridge: BridgeHealth | null;
  publishes: MqttStats["publishes"];
  readingsAccepted: number;
  readingsRefused: Record<string, number>;
  tooLarge: number;
  /** Publishes waiting for a rate token now. */
  rateWaiting: number;
  /** Log appends of MQTT readings, the largest one, and readings not yet durable. */
  commits: number;
  largestCommit: number;
  pendingReadings: number;
}

export interface MqttIngest {
  /** mqtt:// and mqtts:// URLs of the embedded listener (none when off). */
  urls: string[];
  port: number | null;
  tlsPort: number | null;
  stats: MqttStats;
  /** For /healthz: counters, the listener's and the bridge's state. */
  health(): MqttHealth;
  /** For /metrics: the counters, read at scrape time. */
  counters(): MqttCounters;
  /** True while the bridge is configured but not connected. */
  readonly degraded: boolean;
  /** Stops the listener and the bridge; resolves once every publish taken is durable. */
  stop(): Promise<void>;
}

/**
 * Starts what `options` asks for: the embedded listener (--mqtt-port,
 * --mqtts-port) and the bridge (--mqtt-url). Both feed one group commit
 * into the log. Off loopback, the listener needs API keys (or --insecure),
 * as the HTTP server does.
 */
export async function startMqttIngest(
  deps: MqttIngestDeps,
  options: MqttIngestStartOptions,
): Promise<MqttIngest> {
  const listening = options.port !== null || options.tlsPort !== null;
  if (
    listening && !isLoopback(options.host) && !options.insecure && !(await deps.keys.inUse())
  ) {
    throw new Deno.errors.PermissionDenied(
      `Refusing to serve MQTT on ${options.host}: no ingest API key exists for --mqtt-port/` +
        "--mqtts-port to check. Create one (deno task keys create), listen on 127.0.0.1 " +
        "(--host, the default), or pass --insecure.",
    );
  }
  const stats = new MqttStats();
  const commit = new GroupCommit(deps.sink);
  const records = new KvRetryRecords(deps.kv, { ttlMs: options.retryTtlMs });
  const ingest = new PublishIngest({ commit, records, stats }, {
    limits: deps.limits,
    maxBatchReadings: options.maxBatchReadings,
    fleet: deps.fleet,
    groups: deps.groups,
  });
  let listener: MqttListener | null = null;
  let bridge: MqttBridge | null = null;
  try {
    if (listening) {
      listener = await startListener({ ingest, keys: deps.keys, records, stats }, {
        ...options,
        port: options.port,
        tlsPort: options.tlsPort,
      });
    }
    if (options.url !== null) {
      bridge = startBridge({ ingest, stats }, {
        url: options.url,
        topic: options.topic,
        clientId: options.clientId ?? await bridgeClientId(deps.kv),
        ca: options.caFile ? await Deno.readTextFile(options.caFile) : undefined,
        username: options.username ?? undefined,
        password: options.password ?? undefined,
        maxPacketBytes: options.maxPacketBytes,
        connectTimeoutMs: options.connectTimeoutMs,
      });
    }
  } catch (error) {
    await listener?.close();
    throw error;
  }
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const urls = [
    ...(listener?.port != null ? [`mqtt://${host}:${listener.port}`] : []),
    ...(listener?.tlsPort != null ? [`mqtts://${host}:${listener.tlsPort}`] : []),
  ];
  if (urls.length > 0) logger.info("MQTT listener started", { urls });
  let stopping: Promise<void> | null = null;
  return {
    urls,
    port: listener?.port ?? null,
    tlsPort: listener?.tlsPort ?? null,
    stats,
    get degraded() {
      return stats.bridge !== null && !stats.bridge.connected && stats.bridge.state !== "stopped";
    },
    health: (): MqttHealth => ({
      listener: listener
        ? {
          urls,
          connections: stats.connections,
          connects: { ...stats.connects },
          qos2Unreleased: stats.qos2?.size ?? 0,
          qos2Forgotten: stats.qos2?.forgotten ?? 0,
        }
        : null,
      bridge: stats.bridge ? { ...stats.bridge } : null,
      publishes: {
        listener: { ...stats.publishes.listener },
        bridge: { ...stats.publishes.bridge },
      },
      readingsAccepted: stats.readingsAccepted,
      readingsRefused: { ...stats.readingsRefused },
      tooLarge: stats.tooLarge,
      rateWaiting: stats.rateWaiting,
      commits: commit.commits,
      largestCommit: commit.largestBatch,
      pendingReadings: commit.pendingReadings,
    }),
    counters: (): MqttCounters => ({
      publishes: stats.publishes,
      readingsAccepted: stats.readingsAccepted,
      readingsRefused: stats.readingsRefused,
      connects: stats.connects,
      connections: stats.connections,
      tooLarge: stats.tooLarge,
      commits: commit.commits,
      pendingReadings: commit.pendingReadings,
      bridgeConnected: stats.bridge?.connected ?? false,
    }),
    stop: () =>
      stopping ??= (async () => {
        await Promise.all([listener?.close(), bridge?.close()]);
        await commit.idle();
      })(),
  };
}
