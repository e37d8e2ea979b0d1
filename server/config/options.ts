// Every option of `deno task start`, in ONE table: it drives parsing, --help
// (USAGE) and the README's option tables (a test holds the README to it).
import { parseArgs } from "node:util";
import { compileProxyTrust, parseAllowedHost } from "../http/mod.ts";
import { slotsPerSize } from "../../actors/shards/mod.ts";

/** Everything `deno task start` can be told. */
export interface Config {
  port: number;
  host: string;
  /** Deno KV file path, or ":memory:". */
  data: string;
  tickMs: number;
  shards: number;
  /** Worker threads the shards run on; 0: the main thread. */
  workers: number;
  window: number;
  maxBodyBytes: number;
  maxBatchReadings: number;
  /** Most sensors the fleet holds: readings that would add one more are refused. */
  maxSensors: number;
  /** Least time between checkpoints of the shard state. */
  checkpointEveryMs: number;
  /** How often the malloc heap's free pages go back to the system; 0: never. */
  trimMemoryMs: number;
  /** Unsent bytes per client above which its deltas are skipped. */
  maxBufferedBytes: number;
  /** How long a client may stay over `maxBufferedBytes` before it is closed (4008). */
  slowCloseMs: number;
  /** How often clients are pinged, and how long one may stay silent before it is dropped (4001). */
  pingIntervalMs: number;
  silenceLimitMs: number;
  /** How far back each topic's recovery ring reaches, in time and bytes. */
  ringMs: number;
  ringBytes: number;
  /** Bytes all recovery rings may hold together. */
  ringBudgetBytes: number;
  /** Distinct subscription sets served at once. */
  maxTopics: number;
  /** Topics one client address or token may hold; null: max(4, maxTopics / 16). */
  topicsPerClient: number | null;
  /** Subscriptions, and UTF-8 bytes of their set, one session may hold. */
  maxSubscriptions: number;
  maxSubscriptionBytes: number;
  /** Distinct viewport views (topic, sort, filter) served at once. */
  maxViews: number;
  /** Views one client address or token may hold; null: max(4, maxViews / 16). */
  viewsPerClient: number | null;
  /** Viewport windows (one per connection at most) served at once. */
  maxWindows: number;
  /** Directory of the built dashboard. */
  webRoot: string;
  logLevel: "debug" | "info" | "warn" | "error";
  /** Exact origins allowed to open /ws; null: only the server's own origins (see allowedHosts). */
  allowedOrigins: string[] | null;
  /**
   * Public names (`host` for any port, or `host:port`) the server answers to
   * besides its bound address (and, on loopback, localhost); other Hosts get 421.
   */
  allowedHosts: string[];
  /** Origins allowed to call /api/* from other sites (CORS); null: none. */
  corsOrigins: string[] | null;
  /** Open feed connections in all; null: derived from memory (`defaultMaxClients`). */
  maxClients: number | null;
  maxConnectionsPerAddress: number;
  viewRowsPerConnection: number;
  viewRowsPerAddress: number;
  /** Proxies whose X-Forwarded-For is believed: addresses, CIDRs or proxy-addr names. */
  trustedProxies: string[];
  /** PEM files for HTTPS/WSS; both or neither. */
  certFile: string | null;
  keyFile: string | null;
  /** Listen on a non-loopback address without dashboard authentication. */
  insecure: boolean;
  /** Dashboard JWTs: issuer, audience, and a PEM public key file (or PULSEBOARD_JWT_SECRET for HS256). */
  jwtIssuer: string | null;
  jwtAudience: string | null;
  jwtPublicKeyFile: string | null;
  /** JSON or YAML file of metric metadata (units, precision, thresholds); null: the demo's. */
  metricsConfigFile: string | null;
  /** A sensor is stale after this many of its usual intervals without a reading. */
  staleIntervals: number;
  /** A sensor is offline after this long without a reading. */
  offlineAfterMs: number;
  /** Event-time tumbling window sizes, ascending, each a multiple of the previous. */
  windowSizesMs: number[];
  /** How far the watermark trails the newest event time. */
  graceMs: number;
  /** Readings stamped further ahead of the server clock are refused. */
  maxFutureMs: number;
  /** How long raw log chunks are kept. */
  retentionMs: number;
  /** Window size → how long its rollups are kept. */
  rollups: [sizeMs: number, retentionMs: number][];
  /** How often changed rollups are written (and always before a checkpoint). */
  rollupFlushMs: number;
  /** How long an ingest batch's idempotency record (and its answer) is kept. */
  idempotencyTtlMs: number;
  /** How long a batch in progress holds its key before a retry may take it over. */
  idempotencyLeaseMs: number;
  /** Source of truth: the embedded Deno KV log, or a MongoDB collection's change stream. */
  source: "kv" | "mongo";
  /** mongodb:// or mongodb+srv:// URI (source "mongo"); may hold credentials: never logged. */
  mongoUri: string | null;
  mongoDb: string;
  mongoCollection: string;
  /** Time for a request's line and headers (and a TLS handshake). */
  headerTimeoutMs: number;
  /** Longest wait for the next bytes of an ingest body (408 after). */
  bodyTimeoutMs: number;
  /** How long a keep-alive connection may sit idle between requests. */
  idleTimeoutMs: number;
  /** At a stop, how long requests in flight may take before they are aborted. */
  drainMs: number;
  /** MQTT ingest's embedded listener port (plain, and over TLS with --cert/--key); null: off. */
  mqttPort: number | null;
  mqttsPort: number | null;
  /** The MQTT bridge: the broker (mqtt:// or mqtts://) it subscribes to; null: off. */
  mqttUrl: string | null;
  mqttTopic: string;
  /** Null: a random id kept in the data store. */
  mqttClientId: string | null;
  mqttCaFile: string | null;
  /** The password is PULSEBOARD_MQTT_PASSWORD, read by the bridge only: never an option. */
  mqttUsername: string | null;
  mqttMaxPacketBytes: number;
  /** Open listener connections in all, per client address, and per API key. */
  mqttMaxConnections: number;
  mqttMaxConnectionsPerAddress: number;
  mqttMaxConnectionsPerKey: number;
  /** New connections per second per address and per key; publishes per second per key and per address. */
  mqttConnectRate: number;
  mqttPublishRate: number;
  /** How long a persistent session's retry records are kept. */
  mqttRetryTtlMs: number;
}

/** One command-line option, everything about it in one place. */
export interface Option<K extends keyof Config = keyof Config> {
  /** The flag, without its dashes. */
  flag: string;
  /** The config field it sets. */
  key: K;
  /** What its value looks like in --help, e.g. `<n>`; none for a switch. */
  arg?: string;
  /** An environment variable that stands in for it (the flag wins). */
  env?: string;
  default: Config[K];
  /** The default as --help and the README show it. */
  shown: string;
  /** Its line in --help. */
  help: string;
  /** Its description in the README (Markdown). */
  readme: string;
  /** Reads a given value, or throws a TypeError that names the flag; none for a switch. */
  parse?: (raw: string) => Config[K];
  /** The README table it is listed in: the server's options, MongoDB mode's, or MQTT ingest's. */
  section?: "mongo" | "mqtt";
}

const option = <K extends keyof Config>(o: Option<K>): Option => o as unknown as Option;

/** An integer from `min` to `max`. */
const int = (flag: string, min: number, max: number) => (raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TypeError(`--${flag} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
};

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Reads a duration like `500ms`, `10s`, `1m`, `24h` or `30d` (a bare number is ms). */
export function duration(name: string, raw: string, allowZero = false): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw);
  const ms = match ? Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]) : NaN;
  if (!(ms > 0 || (allowZero && ms === 0)) || ms > 400 * 86_400_000) {
    throw new TypeError(
      `--${name}: "${raw}" is not a duration like 500ms, 10s, 1m, 24h or 30d (at most 400d)`,
    );
  }
  return ms;
}

const durationOf = (flag: string, allowZero = false) => (raw: string) =>
  duration(flag, raw, allowZero);

/** A connection timeout: a duration of at most an hour (timers cannot wait for much longer). */
const timeout = (flag: string, allowZero = false) => (raw: string): number => {
  const ms = duration(flag, raw, allowZero);
  if (ms > 3_600_000) throw new TypeError(`--${flag}: "${raw}" is longer than 1h`);
  return ms;
};

const list = (raw: string) => raw.split(",").map((x) => x.trim()).filter((x) => x !== "");

/** Exact origins like https://dash.example.com. */
const origins = (flag: string) => (raw: string): string[] => {
  const entries = list(raw);
  for (const origin of entries) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new TypeError(`--${flag}: "${origin}" is not an origin like https://dash.example.com`);
    }
    if (url.origin !== origin) {
      throw new TypeError(
        `--${flag}: "${origin}" is not an origin (scheme://host[:port], no path)`,
      );
    }
  }
  return entries;
};

const text = (raw: string) => raw;

/** Every option, in the order --help and the README list them. */
export const OPTIONS: readonly Option[] = [
  option({
    flag: "port",
    key: "port",
    arg: "<n>",
    default: 8000,
    shown: "8000",
    help: "HTTP port; 0 picks a free one",
    readme: "HTTP port; 0 picks a free one",
    parse: int("port", 0, 65_535),
  }),
  option({
    flag: "host",
    key: "host",
    arg: "<addr>",
    default: "127.0.0.1",
    shown: "127.0.0.1",
    help: "address to bind",
    readme: "address to bind",
    parse: text,
  }),
  option({
    flag: "data",
    key: "data",
    arg: "<path>",
    default: "./data/pulseboard.kv",
    shown: "`./data/pulseboard.kv`",
    help: "Deno KV file, or :memory:",
    readme: "Deno KV file (`:memory:` for a throwaway store)",
    parse: text,
  }),
  option({
    flag: "tick",
    key: "tickMs",
    arg: "<ms>",
    default: 100,
    shown: "100",
    help: "hub tick",
    readme: "hub tick in ms: deltas are coalesced and sent once per tick",
    parse: int("tick", 10, 10_000),
  }),
  option({
    flag: "shards",
    key: "shards",
    arg: "<n>",
    default: 16,
    shown: "16",
    help: "shard actors",
    readme: "shard actors",
    parse: int("shards", 1, 1024),
  }),
  option({
    flag: "workers",
    key: "workers",
    arg: "<n>",
    // 0: on 2 cores the shards on workers measured slower than on the main thread (README, Scale).
    default: 0,
    shown: "0",
    help: "worker threads for the shards; 0 runs them on the main thread",
    readme:
      "worker threads the shards run on (shard `s` on worker `s % n`); `0` runs them on the main thread",
    parse: int("workers", 0, 256),
  }),
  option({
    flag: "window",
    key: "window",
    arg: "<n>",
    default: 50,
    shown: "50",
    help: "last readings of a metric its avg, min and max cover",
    readme: "a metric's last readings (arrival order) that its avg, min and max cover",
    parse: int("window", 1, 100_000),
  }),
  option({
    flag: "max-body",
    key: "maxBodyBytes",
    arg: "<bytes>",
    default: 8 << 20,
    shown: "8388608",
    help: "largest ingest body",
    readme: "largest ingest body in bytes (413 above)",
    parse: int("max-body", 1024, 256 << 20),
  }),
  option({
    flag: "max-batch",
    key: "maxBatchReadings",
    arg: "<n>",
    default: 10_000,
    shown: "10000",
    help: "most readings per ingest batch",
    readme: "most readings per ingest batch (400 above)",
    parse: int("max-batch", 1, 1_000_000),
  }),
  option({
    flag: "max-sensors",
    key: "maxSensors",
    arg: "<n>",
    default: 1_000_000,
    shown: "1000000",
    help: "most sensors the fleet holds",
    readme:
      "most sensors the fleet holds: a reading that would add one more is refused (about 6 KB of RSS each)",
    parse: int("max-sensors", 1, 100_000_000),
  }),
  option({
    flag: "checkpoint",
    key: "checkpointEveryMs",
    arg: "<ms>",
    default: 30_000,
    shown: "30000",
    help: "least time between state checkpoints",
    readme: "least ms between checkpoints of the shard state (one more at every clean stop)",
    parse: int("checkpoint", 100, 3_600_000),
  }),
  option({
    flag: "trim-memory",
    key: "trimMemoryMs",
    arg: "<ms>",
    default: 10_000,
    shown: "10000",
    help: "how often freed memory goes back to the system (glibc); 0: never",
    readme:
      "ms between handing the malloc heap's free pages back to the system (glibc `malloc_trim`, off the main thread); 0: never",
    parse: int("trim-memory", 0, 3_600_000),
  }),
  option({
    flag: "max-buffered",
    key: "maxBufferedBytes",
    arg: "<b>",
    default: 1 << 20,
    shown: "1048576",
    help: "unsent bytes per client before its deltas are skipped",
    readme: "unsent bytes per client above which its deltas are skipped",
    parse: int("max-buffered", 4096, 1 << 30),
  }),
  option({
    flag: "slow-close",
    key: "slowCloseMs",
    arg: "<ms>",
    default: 10_000,
    shown: "10000",
    help: "time over that cap before a client is closed with 4008",
    readme: "ms a client may stay over that cap before it is closed with 4008",
    parse: int("slow-close", 100, 600_000),
  }),
  option({
    flag: "ping",
    key: "pingIntervalMs",
    arg: "<ms>",
    default: 15_000,
    shown: "15000",
    help: "how often clients are pinged",
    readme: "how often clients are pinged",
    parse: int("ping", 10, 3_600_000),
  }),
  option({
    flag: "silence",
    key: "silenceLimitMs",
    arg: "<ms>",
    default: 45_000,
    shown: "45000",
    help: "silence before a client is dropped with 4001",
    readme: "ms without a Pong before a client is dropped with 4001",
    parse: int("silence", 10, 3_600_000),
  }),
  option({
    flag: "ring-ms",
    key: "ringMs",
    arg: "<ms>",
    default: 30_000,
    shown: "30000",
    help: "how far back a reconnecting client can resume",
    readme: "how far back a reconnecting client can resume (per topic)",
    parse: int("ring-ms", 0, 3_600_000),
  }),
  option({
    flag: "ring-bytes",
    key: "ringBytes",
    arg: "<b>",
    default: 32 << 20,
    shown: "33554432",
    help: "frames kept per topic for resuming, at most",
    readme: "most bytes of frames kept per topic for resuming",
    parse: int("ring-bytes", 0, 1 << 30),
  }),
  option({
    flag: "ring-budget",
    key: "ringBudgetBytes",
    arg: "<b>",
    default: 256 << 20,
    shown: "268435456",
    help: "frames kept by all topics together, at most",
    readme: "most bytes of frames all topics keep together",
    parse: int("ring-budget", 0, 2 ** 36),
  }),
  option({
    flag: "max-topics",
    key: "maxTopics",
    arg: "<n>",
    default: 256,
    shown: "256",
    help: "distinct subscription sets served at once",
    readme: "distinct subscription sets (topics) served at once, the everything-topic included",
    parse: int("max-topics", 1, 100_000),
  }),
  option({
    flag: "topics-per-client",
    key: "topicsPerClient",
    arg: "<n>",
    default: null,
    shown: "max(4, max-topics/16)",
    help: "sets one client address or token may hold",
    readme: "topics one client address, or one token, may hold and still make another",
    parse: int("topics-per-client", 1, 100_000),
  }),
  option({
    flag: "max-subscriptions",
    key: "maxSubscriptions",
    arg: "<n>",
    default: 64,
    shown: "64",
    help: "subscriptions one connection may hold",
    readme: "subscriptions one connection may hold",
    parse: int("max-subscriptions", 1, 100_000),
  }),
  option({
    flag: "max-subscription-bytes",
    key: "maxSubscriptionBytes",
    arg: "<b>",
    default: 16_384,
    shown: "16384",
    help: "bytes of one connection's subscription set",
    readme: "bytes of one connection's subscription set (its group prefixes and sensor ids)",
    parse: int("max-subscription-bytes", 256, 64 << 20),
  }),
  option({
    flag: "max-views",
    key: "maxViews",
    arg: "<n>",
    default: 256,
    shown: "256",
    help: "distinct viewport views (topic, sort, filter) served at once",
    readme:
      "distinct viewport views (topic, sort and filter; shared by their windows) served at once",
    parse: int("max-views", 1, 100_000),
  }),
  option({
    flag: "views-per-client",
    key: "viewsPerClient",
    arg: "<n>",
    default: null,
    shown: "max(4, max-views/16)",
    help: "views one client address or token may hold",
    readme: "views one client address, or one token, may hold and still make another",
    parse: int("views-per-client", 1, 100_000),
  }),
  option({
    flag: "max-windows",
    key: "maxWindows",
    arg: "<n>",
    default: 20_000,
    shown: "20000",
    help: "viewport windows (one per connection) served at once",
    readme: "viewport windows (one per connection at most) served at once",
    parse: int("max-windows", 1, 1_000_000),
  }),
  option({
    flag: "web",
    key: "webRoot",
    arg: "<dir>",
    default: new URL("../../web/build/", import.meta.url).pathname,
    shown: "`web/build`",
    help: "built dashboard to serve",
    readme: "the built dashboard to serve",
    parse: text,
  }),
  option({
    flag: "log-level",
    key: "logLevel",
    arg: "<l>",
    default: "info",
    shown: "info",
    help: "debug, info, warn or error; logs are JSON lines on stderr",
    readme: "`debug`, `info`, `warn` or `error`; logs are JSON lines on stderr, secrets redacted",
    parse: (raw) => {
      if (raw === "debug" || raw === "info" || raw === "warn" || raw === "error") return raw;
      throw new TypeError(`--log-level must be debug, info, warn or error, got "${raw}"`);
    },
  }),
  option({
    flag: "allowed-origins",
    key: "allowedOrigins",
    arg: "<a,b>",
    default: null,
    shown: "(own origin)",
    help: "exact origins that may open /ws",
    readme:
      "comma-separated exact origins that may open `/ws` (checked before the upgrade; 403 otherwise)",
    parse: origins("allowed-origins"),
  }),
  option({
    flag: "allowed-hosts",
    key: "allowedHosts",
    arg: "<a,b>",
    default: [],
    shown: "(bound address)",
    help: "names the server answers to besides its address: host or host:port (421 otherwise)",
    readme:
      "names the server answers to: `host` (any port) or `host:port`; other `Host` headers get 421",
    parse: (raw) => list(raw).map(parseAllowedHost),
  }),
  option({
    flag: "cors-origins",
    key: "corsOrigins",
    arg: "<a,b>",
    default: null,
    shown: "(none)",
    help: "origins that may call /api/* from other sites",
    readme: "comma-separated origins that may call `/api/*` from other sites",
    parse: origins("cors-origins"),
  }),
  option({
    flag: "max-clients",
    key: "maxClients",
    arg: "<n>",
    default: null,
    shown: "(from memory)",
    help: "open feed connections in all (default: half of memory over --max-buffered each)",
    readme:
      "open feed connections in all, whatever their addresses (503 above); by default half of the memory (machine's or cgroup's) over what one stalled client may hold (`--max-buffered`), 64 to 100,000",
    parse: int("max-clients", 1, 10_000_000),
  }),
  option({
    flag: "max-connections-per-address",
    key: "maxConnectionsPerAddress",
    arg: "<n>",
    default: 64,
    shown: "64",
    help: "open feed connections per client address",
    readme: "open feed connections per client address (429 above)",
    parse: int("max-connections-per-address", 1, 1_000_000),
  }),
  option({
    flag: "view-rows-per-connection",
    key: "viewRowsPerConnection",
    arg: "<n>",
    default: 2_000,
    shown: "2000",
    help:
      "rows per second a feed connection's viewport requests may ask for (a burst of twice that)",
    readme:
      "rows per second a feed connection's viewport requests (ViewSubscribe) may ask for, each costing the rows of its window, with a burst of twice that; one over it waits, and a newer one replaces it",
    parse: int("view-rows-per-connection", 1, 100_000_000),
  }),
  option({
    flag: "view-rows-per-address",
    key: "viewRowsPerAddress",
    arg: "<n>",
    default: 5_000,
    shown: "5000",
    help: "the same for all the feed connections of one client address together",
    readme:
      "the same for all the feed connections of one client address together (a burst of twice that)",
    parse: int("view-rows-per-address", 1, 100_000_000),
  }),
  option({
    flag: "trusted-proxies",
    key: "trustedProxies",
    arg: "<a,b>",
    default: [],
    shown: "(none)",
    help: "load balancers whose X-Forwarded-For names the client: addresses, CIDRs, loopback, " +
      "linklocal or uniquelocal",
    readme: "load balancers whose `X-Forwarded-For` names the client (see SECURITY.md)",
    parse: (raw) => {
      const entries = list(raw);
      compileProxyTrust(entries); // throws a TypeError naming the bad entry
      return entries;
    },
  }),
  option({
    flag: "cert",
    key: "certFile",
    arg: "<file>",
    default: null,
    shown: "(none)",
    help: "PEM certificate: serve HTTPS and WSS (with --key)",
    readme: "PEM certificate file: serve HTTPS and WSS (with `--key`)",
    parse: text,
  }),
  option({
    flag: "key",
    key: "keyFile",
    arg: "<file>",
    default: null,
    shown: "(none)",
    help: "PEM private key of that certificate",
    readme: "PEM private key file of that certificate (with `--cert`)",
    parse: text,
  }),
  option({
    flag: "insecure",
    key: "insecure",
    default: false,
    shown: "off",
    help: "allow a non-loopback --host without dashboard and ingest authentication",
    readme: "allow a non-loopback `--host` without dashboard JWTs and ingest keys",
  }),
  option({
    flag: "jwt-issuer",
    key: "jwtIssuer",
    arg: "<iss>",
    default: null,
    shown: "(none)",
    help: "the dashboard JWTs' issuer",
    readme: "verify dashboard JWTs: their `iss` (see SECURITY.md)",
    parse: text,
  }),
  option({
    flag: "jwt-audience",
    key: "jwtAudience",
    arg: "<aud>",
    default: null,
    shown: "(none)",
    help: "the dashboard JWTs' audience",
    readme: "verify dashboard JWTs: their `aud`",
    parse: text,
  }),
  option({
    flag: "jwt-public-key",
    key: "jwtPublicKeyFile",
    arg: "<pem file>",
    default: null,
    shown: "(none)",
    help: "their public key (or an HS256 secret of 32+ characters in PULSEBOARD_JWT_SECRET)",
    readme:
      "the key that signs them, a PEM file (or set `PULSEBOARD_JWT_SECRET` for HS256, 32+ characters)",
    parse: text,
  }),
  option({
    flag: "metrics-config",
    key: "metricsConfigFile",
    arg: "<file>",
    default: null,
    shown: "(the demo's)",
    help: "JSON or YAML metric metadata: names, units, precision, thresholds",
    readme:
      "JSON or YAML file of metric metadata: display name, unit, precision and warn/critical thresholds with a hold time (README, Metric metadata); default: the demo's temperature, humidity and pressure",
    parse: text,
  }),
  option({
    flag: "stale-intervals",
    key: "staleIntervals",
    arg: "<n>",
    default: 5,
    shown: "`5`",
    help: "a sensor is stale after this many of its usual intervals without a reading",
    readme:
      "a sensor is stale after this many of its usual intervals (an average of its gaps between readings) without a reading, and not before 2 s",
    parse: int("stale-intervals", 2, 1000),
  }),
  option({
    flag: "offline-after",
    key: "offlineAfterMs",
    arg: "<dur>",
    default: 60_000,
    shown: "`1m`",
    help: "a sensor is offline after this long without a reading",
    readme:
      "a sensor is offline after this long without a reading (silence since a restart counts from the restart)",
    parse: timeout("offline-after"),
  }),
  option({
    flag: "windows",
    key: "windowSizesMs",
    arg: "<list>",
    default: [1_000, 10_000, 60_000],
    shown: "`1s,10s,1m`",
    help: "event-time window sizes, or none",
    readme:
      "event-time tumbling window sizes, each a multiple of the previous; `none` turns windows off",
    parse: (raw) =>
      raw.trim() === "none" ? [] : raw.split(",").map((w) => duration("windows", w.trim())),
  }),
  option({
    flag: "grace",
    key: "graceMs",
    arg: "<dur>",
    default: 5_000,
    shown: "`5s`",
    help: "how far the watermark trails the newest event time",
    readme:
      "how far the watermark trails the newest event time; later readings are dropped and counted",
    parse: durationOf("grace", true),
  }),
  option({
    flag: "max-future",
    key: "maxFutureMs",
    arg: "<dur>",
    default: 10_000,
    shown: "`10s`",
    help: "refuse readings stamped further ahead of the server clock",
    readme: "readings stamped further ahead of the server clock are refused",
    parse: durationOf("max-future", true),
  }),
  option({
    flag: "retention",
    key: "retentionMs",
    arg: "<dur>",
    default: 86_400_000,
    shown: "`24h`",
    help: "how long the raw log is kept",
    readme: "how long the raw log (the raw history) is kept",
    parse: durationOf("retention"),
  }),
  option({
    flag: "rollups",
    key: "rollups",
    arg: "<list>",
    default: [[1_000, 86_400_000], [60_000, 30 * 86_400_000]],
    shown: "`1s=24h,1m=30d`",
    help: "window sizes kept as rollups, with retention, or none",
    readme: "window sizes stored as rollups, with their retention; `none` keeps none",
    parse: (raw) =>
      raw.trim() === "none" ? [] : list(raw).map((entry): [number, number] => {
        const [size, keep] = entry.split("=");
        if (keep === undefined) {
          throw new TypeError(
            `--rollups takes size=retention pairs like 1s=24h,1m=30d, got "${entry}"`,
          );
        }
        return [duration("rollups", size.trim()), duration("rollups", keep.trim())];
      }),
  }),
  option({
    flag: "rollup-flush",
    key: "rollupFlushMs",
    arg: "<dur>",
    default: 10_000,
    shown: "`10s`",
    help: "how often finished rollup chunks are written (a window waits at most 3 times that)",
    readme: "how often finished rollup chunks are written; a closed window waits at most 3× that",
    parse: durationOf("rollup-flush"),
  }),
  option({
    flag: "idempotency-ttl",
    key: "idempotencyTtlMs",
    arg: "<dur>",
    default: 86_400_000,
    shown: "`24h`",
    help: "how long an ingest batch's Idempotency-Key is remembered",
    readme: "how long an ingest batch's idempotency key and first answer are remembered",
    parse: durationOf("idempotency-ttl"),
  }),
  option({
    flag: "idempotency-lease",
    key: "idempotencyLeaseMs",
    arg: "<dur>",
    default: 30_000,
    shown: "`30s`",
    help: "how long a batch in progress holds its key before a retry may take it over",
    readme: "how long a batch in progress holds its key before a retry may take it over",
    parse: durationOf("idempotency-lease"),
  }),
  option({
    flag: "header-timeout",
    key: "headerTimeoutMs",
    arg: "<dur>",
    default: 10_000,
    shown: "`10s`",
    help: "time for a request's line and headers",
    readme: "time for a request's line and headers (and a TLS handshake); 408 and close after",
    parse: timeout("header-timeout"),
  }),
  option({
    flag: "body-timeout",
    key: "bodyTimeoutMs",
    arg: "<dur>",
    default: 30_000,
    shown: "`30s`",
    help: "longest pause in an ingest body before 408",
    readme: "longest pause in an ingest body; 408 with a JSON error and close after",
    parse: timeout("body-timeout"),
  }),
  option({
    flag: "idle-timeout",
    key: "idleTimeoutMs",
    arg: "<dur>",
    default: 5_000,
    shown: "`5s`",
    help: "how long an idle keep-alive connection is kept",
    readme: "how long an idle keep-alive connection is kept",
    parse: timeout("idle-timeout"),
  }),
  option({
    flag: "drain",
    key: "drainMs",
    arg: "<dur>",
    default: 2_000,
    shown: "`2s`",
    help: "at SIGTERM, how long requests in flight may finish before they are aborted",
    readme: "at SIGINT/SIGTERM, how long requests in flight may finish before they are aborted",
    parse: timeout("drain", true),
  }),
  option({
    flag: "source",
    key: "source",
    arg: "<kv|mongo>",
    env: "PULSEBOARD_SOURCE",
    default: "kv",
    shown: "`kv`",
    help: "source of truth: the embedded Deno KV log, or a MongoDB change stream",
    readme: "the source of truth: the Deno KV log, or a collection's change stream",
    section: "mongo",
    parse: (raw) => {
      if (raw === "kv" || raw === "mongo") return raw;
      throw new TypeError(`--source must be kv or mongo, got "${raw}"`);
    },
  }),
  option({
    flag: "mongo-uri",
    key: "mongoUri",
    arg: "<uri>",
    env: "PULSEBOARD_MONGO_URI",
    default: null,
    shown: "(required)",
    help: "mongodb:// or mongodb+srv:// URI (source mongo; needs a replica set)",
    readme: "`mongodb://` or `mongodb+srv://`; never logged",
    section: "mongo",
    parse: (raw) => {
      if (!/^mongodb(\+srv)?:\/\/[^/?#]+/.test(raw)) {
        // Not echoed: a malformed URI may still hold a password.
        throw new TypeError(
          "--mongo-uri must start with mongodb:// or mongodb+srv:// and name a host",
        );
      }
      return raw;
    },
  }),
  option({
    flag: "db",
    key: "mongoDb",
    arg: "<name>",
    env: "PULSEBOARD_MONGO_DB",
    default: "pulseboard",
    shown: "`pulseboard`",
    help: "MongoDB database",
    readme: "database",
    section: "mongo",
    parse: (raw) => {
      if (!/^[^/\\. "$*<>:|?]{1,63}$/.test(raw) || raw.includes("\0")) {
        throw new TypeError(
          `--db: "${raw}" is not a MongoDB database name (1-63 characters, none of /\\. "$*<>:|?)`,
        );
      }
      return raw;
    },
  }),
  option({
    flag: "collection",
    key: "mongoCollection",
    arg: "<name>",
    env: "PULSEBOARD_MONGO_COLLECTION",
    default: "readings",
    shown: "`readings`",
    help: "MongoDB collection",
    readme: "collection",
    section: "mongo",
    parse: (raw) => {
      if (
        raw === "" || raw.length > 200 || raw.includes("$") || raw.includes("\x00") ||
        raw.startsWith("system.") || raw.startsWith(".") || raw.endsWith(".")
      ) {
        throw new TypeError(
          `--collection: "${raw}" is not a usable collection name (no $, not system.*, at most 200 characters)`,
        );
      }
      return raw;
    },
  }),
  option({
    flag: "mqtt-port",
    key: "mqttPort",
    arg: "<n>",
    default: null,
    shown: "(off)",
    help: "embedded MQTT 3.1.1 listener on --host; 0 picks a free port",
    readme: "the embedded MQTT 3.1.1 listener's port, on `--host`; `0` picks a free one",
    section: "mqtt",
    parse: int("mqtt-port", 0, 65_535),
  }),
  option({
    flag: "mqtts-port",
    key: "mqttsPort",
    arg: "<n>",
    default: null,
    shown: "(off)",
    help: "the same over TLS, with --cert and --key",
    readme: "the same listener over TLS, with `--cert` and `--key`",
    section: "mqtt",
    parse: int("mqtts-port", 0, 65_535),
  }),
  option({
    flag: "mqtt-url",
    key: "mqttUrl",
    arg: "<url>",
    default: null,
    shown: "(off)",
    help: "bridge: subscribe to this broker (mqtt:// or mqtts://) with a persistent session",
    readme: "bridge: the broker to subscribe to, `mqtt://host[:port]` or `mqtts://host[:port]`, " +
      "no credentials in it",
    section: "mqtt",
    parse: (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        // Not echoed: a URL may hold a password.
        throw new TypeError(
          "--mqtt-url must be a URL like mqtt://broker:1883 or mqtts://broker:8883",
        );
      }
      if ((url.protocol !== "mqtt:" && url.protocol !== "mqtts:") || url.hostname === "") {
        throw new TypeError("--mqtt-url must be mqtt://host[:port] or mqtts://host[:port]");
      }
      if (url.username || url.password) {
        throw new TypeError(
          "--mqtt-url must not hold credentials: use --mqtt-username and PULSEBOARD_MQTT_PASSWORD",
        );
      }
      return raw;
    },
  }),
  option({
    flag: "mqtt-topic",
    key: "mqttTopic",
    arg: "<filter>",
    default: "pulseboard/#",
    shown: "`pulseboard/#`",
    help: "bridge: the topic filter it subscribes to, at QoS 1",
    readme: "bridge: the topic filter it subscribes to, at QoS 1",
    section: "mqtt",
    parse: (raw) => {
      if (!/^[^\0]+$/.test(raw) || raw.length > 1024) {
        throw new TypeError("--mqtt-topic must be an MQTT topic filter like pulseboard/#");
      }
      return raw;
    },
  }),
  option({
    flag: "mqtt-client-id",
    key: "mqttClientId",
    arg: "<id>",
    default: null,
    shown: "(random, kept in --data)",
    help: "bridge: client id",
    readme:
      "bridge: its client id (1–128 visible ASCII); the default is made once at random and kept in the `--data` store",
    section: "mqtt",
    parse: (raw) => {
      if (!/^[\x21-\x7e]{1,128}$/.test(raw)) {
        throw new TypeError("--mqtt-client-id must be 1 to 128 visible ASCII characters");
      }
      return raw;
    },
  }),
  option({
    flag: "mqtt-ca",
    key: "mqttCaFile",
    arg: "<file>",
    default: null,
    shown: "(system CAs)",
    help: "bridge: PEM CA certificate of an mqtts:// broker",
    readme: "bridge: PEM file of the CA that signed an `mqtts://` broker's certificate",
    section: "mqtt",
    parse: text,
  }),
  option({
    flag: "mqtt-username",
    key: "mqttUsername",
    arg: "<name>",
    default: null,
    shown: "(none)",
    help: "bridge: user name; the password is PULSEBOARD_MQTT_PASSWORD, never an option",
    readme: "bridge: user name; the password is read from `PULSEBOARD_MQTT_PASSWORD` only",
    section: "mqtt",
    parse: text,
  }),
  option({
    flag: "mqtt-max-packet",
    key: "mqttMaxPacketBytes",
    arg: "<bytes>",
    default: 65_536,
    shown: "65536",
    help:
      "largest MQTT packet accepted; the connection is dropped above (the bridge's broker drops them)",
    readme:
      "largest MQTT packet, in bytes: the listener drops the connection above, the bridge's broker the publish",
    section: "mqtt",
    parse: int("mqtt-max-packet", 256, 64 << 20),
  }),
  option({
    flag: "mqtt-max-connections",
    key: "mqttMaxConnections",
    arg: "<n>",
    default: 20_000,
    shown: "20000",
    help: "open MQTT listener connections",
    readme: "open listener connections in all (closed at accept above)",
    section: "mqtt",
    parse: int("mqtt-max-connections", 1, 1_000_000),
  }),
  option({
    flag: "mqtt-max-connections-per-address",
    key: "mqttMaxConnectionsPerAddress",
    arg: "<n>",
    default: 1_000,
    shown: "1000",
    help: "open MQTT listener connections per client address",
    readme: "open listener connections per client address (closed at accept above)",
    section: "mqtt",
    parse: int("mqtt-max-connections-per-address", 1, 1_000_000),
  }),
  option({
    flag: "mqtt-max-connections-per-key",
    key: "mqttMaxConnectionsPerKey",
    arg: "<n>",
    default: 10_000,
    shown: "10000",
    help: "open MQTT listener connections per API key",
    readme: "open listener connections per API key (CONNACK 3 above)",
    section: "mqtt",
    parse: int("mqtt-max-connections-per-key", 1, 1_000_000),
  }),
  option({
    flag: "mqtt-connect-rate",
    key: "mqttConnectRate",
    arg: "<n>",
    default: 200,
    shown: "200",
    help: "new MQTT connections per second per address and per key",
    readme: "new connections per second per client address and per key (a burst of 5 s worth)",
    section: "mqtt",
    parse: int("mqtt-connect-rate", 1, 1_000_000),
  }),
  option({
    flag: "mqtt-rate",
    key: "mqttPublishRate",
    arg: "<n>",
    default: 10_000,
    shown: "10000",
    help: "MQTT publishes per second per key and per address; more wait",
    readme: "publishes per second per key and per client address (a burst of 1 s worth); more wait",
    section: "mqtt",
    parse: int("mqtt-rate", 1, 10_000_000),
  }),
  option({
    flag: "mqtt-retry-ttl",
    key: "mqttRetryTtlMs",
    arg: "<dur>",
    default: 3_600_000,
    shown: "`1h`",
    help: "how long retry records of persistent MQTT sessions are kept",
    readme:
      "how long a persistent session's retry records (its committed QoS 1 packet ids) are kept",
    section: "mqtt",
    parse: durationOf("mqtt-retry-ttl"),
  }),
];

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze(
  Object.fromEntries(OPTIONS.map((o) => [o.key, o.default])) as unknown as Config,
);

/** Where --help's descriptions start. */
const HELP_COLUMN = 31;

/** `deno task start --help`. */
export const USAGE = [
  "Usage: deno task start [options]",
  ...OPTIONS.map((o) => {
    const name = `  --${o.flag}${o.arg ? ` ${o.arg}` : ""}`;
    return wrap(`${name.padEnd(HELP_COLUMN - 1)} ${o.help}${defaultNote(o)}`);
  }),
  "  Durations: a number with ms, s, m, h or d.",
  wrap(
    "  Environment: " + OPTIONS.filter((o) => o.env).map((o) => o.env).join(", ") +
      " stand in for their options; an option wins.",
    4,
  ),
].join("\n");

/** How --help states a default: `(default 8000)`, `(required)`, nothing for none. */
function defaultNote(o: Option): string {
  const shown = o.shown.replaceAll("`", "");
  if (!o.arg || shown === "(none)") return "";
  if (shown === "(required)") return " (required)";
  return shown.startsWith("(") ? ` (default: ${shown.slice(1, -1)})` : ` (default ${shown})`;
}

/** Wraps a --help line at 100 characters, going on under the help column (or `indent`). */
function wrap(line: string, indent = HELP_COLUMN): string {
  const lines: string[] = [];
  let rest = line;
  while (rest.length > 100) {
    const cut = rest.lastIndexOf(" ", 100);
    if (cut <= indent) break;
    lines.push(rest.slice(0, cut));
    rest = " ".repeat(indent) + rest.slice(cut + 1);
  }
  return [...lines, rest].join("\n");
}

/** The README's table of the options in `section`, as Markdown rows. */
export function readmeTable(section: "server" | "mongo" | "mqtt"): string[][] {
  const mongo = section === "mongo";
  const rows = OPTIONS.filter((o) => (o.section ?? "server") === section).map((o) => [
    `\`--${o.flag}\``,
    ...(mongo ? [o.env ? `\`${o.env}\`` : ""] : []),
    o.shown,
    o.readme,
  ]);
  return [
    mongo ? ["option", "environment", "default", "meaning"] : ["option", "default", "meaning"],
    ...rows,
  ];
}

/**
 * Parses command-line options (and the environment variables that stand in
 * for some); throws a TypeError that names the bad option.
 */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Config {
  const { values } = parseArgs({
    args,
    strict: true,
    options: Object.fromEntries(
      OPTIONS.map((o) => [o.flag, { type: o.parse ? "string" as const : "boolean" as const }]),
    ),
  });
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const given = new Set<keyof Config>();
  for (const o of OPTIONS) {
    const raw = values[o.flag] ?? (o.env ? env(o.env) : undefined);
    if (raw === undefined) continue;
    given.add(o.key);
    config[o.key] = o.parse ? o.parse(String(raw)) : raw;
  }
  return related(config as unknown as Config, given);
}

/** The rules between options, checked once each has been read. */
function related(config: Config, given: Set<keyof Config>): Config {
  try {
    slotsPerSize({ sizesMs: config.windowSizesMs, graceMs: config.graceMs });
  } catch (error) {
    throw new TypeError(`--windows/--grace: ${(error as Error).message}`);
  }
  if (!given.has("rollups")) {
    // Default rollups follow the windows: `--windows none` keeps none.
    config.rollups = DEFAULT_CONFIG.rollups.filter(([size]) => config.windowSizesMs.includes(size))
      .map(([size, keep]) => [size, keep]);
  }
  for (const [size] of config.rollups) {
    if (!config.windowSizesMs.includes(size)) {
      const name = OPTIONS.find((o) => o.key === "rollups")!;
      throw new TypeError(`--${name.flag}: ${label(size)} is not one of the --windows sizes`);
    }
  }
  if ((config.certFile === null) !== (config.keyFile === null)) {
    throw new TypeError("--cert and --key go together");
  }
  if (config.source === "kv") {
    if (given.has("mongoUri") || given.has("mongoDb") || given.has("mongoCollection")) {
      throw new TypeError("--mongo-uri, --db and --collection need --source mongo");
    }
  } else if (!config.mongoUri) {
    throw new TypeError(
      "--source mongo needs --mongo-uri (or PULSEBOARD_MONGO_URI), e.g. mongodb://localhost:27017/?replicaSet=rs0",
    );
  }
  mqttRules(config, given);
  return config;
}

/** MQTT ingest's rules between options (off loopback, keys are checked when it starts). */
function mqttRules(config: Config, given: Set<keyof Config>): void {
  if (config.mqttsPort !== null && config.certFile === null) {
    throw new TypeError("--mqtts-port needs --cert and --key");
  }
  if (config.mqttUrl === null) {
    const bridgeOnly = ["mqttTopic", "mqttClientId", "mqttCaFile", "mqttUsername"] as const;
    const stray = OPTIONS.find((o) =>
      (bridgeOnly as readonly string[]).includes(o.key) && given.has(o.key)
    );
    if (stray) throw new TypeError(`--${stray.flag} needs --mqtt-url`);
  }
  const asked = OPTIONS.find((o) =>
    (o.key === "mqttPort" || o.key === "mqttsPort" || o.key === "mqttUrl") && config[o.key] !== null
  );
  if (asked && config.source !== "kv") {
    throw new TypeError(
      `--${asked.flag} needs the Deno KV log (--source kv): MQTT's retry records commit with its readings`,
    );
  }
}

/** A size as it was given, for messages: 2s, 1m, 250ms. */
function label(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
