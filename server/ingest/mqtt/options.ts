// MQTT ingest's command-line options: declared here and spread into config.ts,
// so the server's option parser stays one place and this block one import.

/** What `--mqtt-*` and `--mqtts-port` ask for; every limit has a default. */
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
  /** Bridge: user name; the password comes from PULSEBOARD_MQTT_PASSWORD. */
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

export const DEFAULT_MQTT_OPTIONS: Readonly<MqttOptions> = Object.freeze({
  port: null,
  tlsPort: null,
  url: null,
  topic: "pulseboard/#",
  clientId: null,
  caFile: null,
  username: null,
  password: null,
  maxPacketBytes: 65_536,
  maxConnections: 20_000,
  maxConnectionsPerAddress: 1_000,
  maxConnectionsPerKey: 10_000,
  connectRate: 200,
  publishRate: 10_000,
  retryTtlMs: 3_600_000,
});

/** For node:util parseArgs: every MQTT option takes a value. */
export const MQTT_ARGS = {
  "mqtt-port": { type: "string" },
  "mqtts-port": { type: "string" },
  "mqtt-url": { type: "string" },
  "mqtt-topic": { type: "string" },
  "mqtt-client-id": { type: "string" },
  "mqtt-ca": { type: "string" },
  "mqtt-username": { type: "string" },
  "mqtt-max-packet": { type: "string" },
  "mqtt-max-connections": { type: "string" },
  "mqtt-max-connections-per-address": { type: "string" },
  "mqtt-max-connections-per-key": { type: "string" },
  "mqtt-connect-rate": { type: "string" },
  "mqtt-rate": { type: "string" },
  "mqtt-retry-ttl": { type: "string" },
} as const;

export const MQTT_USAGE = `  MQTT ingest (off unless a port or a URL is given; see README, MQTT):
  --mqtt-port <n>     embedded MQTT 3.1.1 listener on --host (0 picks a free port)
  --mqtts-port <n>    the same over TLS, with --cert and --key
  --mqtt-url <url>    bridge: subscribe to this broker (mqtt:// or mqtts://) with a persistent session
  --mqtt-topic <f>    bridge: topic filter (default pulseboard/#)
  --mqtt-client-id <id>  bridge: client id (default: a random id kept in the --data store)
  --mqtt-ca <pem>     bridge: CA certificate for mqtts:// brokers
  --mqtt-username <u> bridge: user name (password: PULSEBOARD_MQTT_PASSWORD)
  --mqtt-max-packet <b>   largest MQTT packet accepted (default 65536)
  --mqtt-max-connections <n>  open listener connections (default 20000); per address: 
                      --mqtt-max-connections-per-address (1000), per key: --mqtt-max-connections-per-key (10000)
  --mqtt-connect-rate <n>  new connections per second per address and per key (default 200)
  --mqtt-rate <n>     publishes per second per key and per address (default 10000); more wait
  --mqtt-retry-ttl <dur>   how long retry records of persistent sessions are kept (default 1h)`;

type MqttArgValues = { [K in keyof typeof MQTT_ARGS]?: string };

/**
 * Reads the MQTT options from parsed arguments; throws a TypeError naming
 * the bad option. `duration` reads durations as the rest of the config does.
 */
export function parseMqttOptions(
  values: MqttArgValues,
  context: {
    duration: (name: string, raw: string) => number;
    env: (name: string) => string | undefined;
    /** --cert and --key were given. */
    tls: boolean;
    source: string;
  },
): MqttOptions {
  const d = DEFAULT_MQTT_OPTIONS;
  const int = (name: keyof typeof MQTT_ARGS, fallback: number, min: number, max: number) => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new TypeError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return n;
  };
  const port = (name: "mqtt-port" | "mqtts-port") =>
    values[name] === undefined ? null : int(name, 0, 0, 65_535);
  const options: MqttOptions = {
    port: port("mqtt-port"),
    tlsPort: port("mqtts-port"),
    url: values["mqtt-url"] ?? null,
    topic: values["mqtt-topic"] ?? d.topic,
    clientId: values["mqtt-client-id"] ?? null,
    caFile: values["mqtt-ca"] ?? null,
    username: values["mqtt-username"] ?? null,
    password: context.env("PULSEBOARD_MQTT_PASSWORD") ?? null,
    maxPacketBytes: int("mqtt-max-packet", d.maxPacketBytes, 256, 64 << 20),
    maxConnections: int("mqtt-max-connections", d.maxConnections, 1, 1_000_000),
    maxConnectionsPerAddress: int(
      "mqtt-max-connections-per-address",
      d.maxConnectionsPerAddress,
      1,
      1_000_000,
    ),
    maxConnectionsPerKey: int("mqtt-max-connections-per-key", d.maxConnectionsPerKey, 1, 1_000_000),
    connectRate: int("mqtt-connect-rate", d.connectRate, 1, 1_000_000),
    publishRate: int("mqtt-rate", d.publishRate, 1, 10_000_000),
    retryTtlMs: values["mqtt-retry-ttl"] === undefined
      ? d.retryTtlMs
      : context.duration("mqtt-retry-ttl", values["mqtt-retry-ttl"]),
  };
  if (options.tlsPort !== null && !context.tls) {
    throw new TypeError("--mqtts-port needs --cert and --key");
  }
  if (options.url !== null) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(
        "--mqtt-url must be a URL like mqtt://broker:1883 or mqtts://broker:8883",
      );
    }
    if ((url.protocol !== "mqtt:" && url.protocol !== "mqtts:") || url.hostname === "") {
      // Not echoed: a URL may hold a password.
      throw new TypeError("--mqtt-url must be mqtt://host[:port] or mqtts://host[:port]");
    }
    if (url.username || url.password) {
      throw new TypeError(
        "--mqtt-url must not hold credentials: use --mqtt-username and PULSEBOARD_MQTT_PASSWORD",
      );
    }
  } else {
    for (const name of ["mqtt-topic", "mqtt-client-id", "mqtt-ca", "mqtt-username"] as const) {
      if (values[name] !== undefined) throw new TypeError(`--${name} needs --mqtt-url`);
    }
  }
  if (!/^[^\0]+$/.test(options.topic) || options.topic.length > 1024) {
    throw new TypeError("--mqtt-topic must be an MQTT topic filter like pulseboard/#");
  }
  if (options.clientId !== null && !/^[\x21-\x7e]{1,128}$/.test(options.clientId)) {
    throw new TypeError("--mqtt-client-id must be 1 to 128 visible ASCII characters");
  }
  if (enabled(options) && context.source !== "kv") {
    throw new TypeError(
      "MQTT ingest needs the Deno KV log (--source kv): its retry records commit with the readings",
    );
  }
  return options;
}

/** Whether any MQTT ingest (listener or bridge) is asked for. */
export function enabled(options: MqttOptions): boolean {
  return options.port !== null || options.tlsPort !== null || options.url !== null;
}
