import { DEFAULT_READING_LIMITS } from "../readings/mod.ts";
import type { KvLog } from "../../store/mod.ts";
import type { MqttIngest } from "./mqtt_ingest.ts";
import type { MqttKeys } from "./listener.ts";
import type { FleetLimit } from "../fleet_limit.ts";
import type { SensorGroups } from "../sensor_groups.ts";

/** The options (`server/config`) MQTT ingest is made from. */
export interface MqttConfig {
  host: string;
  insecure: boolean;
  certFile: string | null;
  keyFile: string | null;
  headerTimeoutMs: number;
  maxBatchReadings: number;
  maxFutureMs: number;
  mqttPort: number | null;
  mqttsPort: number | null;
  mqttUrl: string | null;
  mqttTopic: string;
  mqttClientId: string | null;
  mqttCaFile: string | null;
  mqttUsername: string | null;
  mqttMaxPacketBytes: number;
  mqttMaxConnections: number;
  mqttMaxConnectionsPerAddress: number;
  mqttMaxConnectionsPerKey: number;
  mqttConnectRate: number;
  mqttPublishRate: number;
  mqttRetryTtlMs: number;
}

/** Whether the config asks for MQTT ingest at all: a listener port or a bridge URL. */
export function mqttEnabled(config: MqttConfig): boolean {
  return config.mqttPort !== null || config.mqttsPort !== null || config.mqttUrl !== null;
}

/**
 * The MQTT stage: when the config asks for it, the embedded listener and the
 * bridge, feeding `log` (the source's KV log: retry records commit with the
 * readings) with the same API keys and reading rules as HTTP ingest. Null when
 * it is off. The bridge's password is PULSEBOARD_MQTT_PASSWORD, never an option.
 */
export async function startMqtt(
  log: KvLog | null,
  deps: {
    kv: Deno.Kv;
    keys: MqttKeys;
    config: MqttConfig;
    fleet?: FleetLimit;
    groups?: SensorGroups;
  },
): Promise<MqttIngest | null> {
  const { config } = deps;
  if (!mqttEnabled(config)) return null;
  // The config's rules refuse MQTT with --source mongo; this is the same rule, at the seam.
  if (!log) throw new TypeError("MQTT ingest needs the Deno KV log (--source kv)");
  const tls = config.mqttsPort !== null && config.certFile && config.keyFile
    ? {
      cert: await Deno.readTextFile(config.certFile),
      key: await Deno.readTextFile(config.keyFile),
    }
    : null;
  // Loaded only when asked for: aedes and mqtt.js cost memory a server without MQTT need not pay.
  const { startMqttIngest } = await import("./mqtt_ingest.ts");
  return await startMqttIngest({
    sink: log,
    kv: deps.kv,
    keys: deps.keys,
    limits: { ...DEFAULT_READING_LIMITS, maxFutureMs: config.maxFutureMs },
    fleet: deps.fleet,
    groups: deps.groups,
  }, {
    port: config.mqttPort,
    tlsPort: config.mqttsPort,
    url: config.mqttUrl,
    topic: config.mqttTopic,
    clientId: config.mqttClientId,
    caFile: config.mqttCaFile,
    username: config.mqttUsername,
    password: config.mqttUrl ? Deno.env.get("PULSEBOARD_MQTT_PASSWORD") ?? null : null,
    maxPacketBytes: config.mqttMaxPacketBytes,
    maxConnections: config.mqttMaxConnections,
    maxConnectionsPerAddress: config.mqttMaxConnectionsPerAddress,
    maxConnectionsPerKey: config.mqttMaxConnectionsPerKey,
    connectRate: config.mqttConnectRate,
    publishRate: config.mqttPublishRate,
    retryTtlMs: config.mqttRetryTtlMs,
    host: config.host,
    insecure: config.insecure,
    tls,
    connectTimeoutMs: config.headerTimeoutMs,
    maxBatchReadings: config.maxBatchReadings,
  });
}
