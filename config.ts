import { parseArgs } from "node:util";
import { compileProxyTrust, parseAllowedHost } from "./http/mod.ts";
import {
  DEFAULT_MQTT_OPTIONS,
  MQTT_ARGS,
  MQTT_USAGE,
  parseMqttOptions,
} from "./server/ingest/mqtt/mod.ts";
import type { MqttOptions } from "./server/ingest/mqtt/mod.ts";

/** Everything `deno task start` can be told. */
export interface Config {
  port: number;
  host: string;
  /** Deno KV file path, or ":memory:". */
  data: string;
  tickMs: number;
  shards: number;
  window: number;
  maxBodyBytes: number;
  maxBatchReadings: number;
  /** Least time between checkpoints of the shard state. */
  checkpointEveryMs: number;
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
  maxConnectionsPerAddress: number;
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
  /** MQTT ingest: the embedded listener and the bridge (off by default). */
  mqtt: MqttOptions;
}

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze<Config>({
  port: 8000,
  host: "127.0.0.1",
  data: "./data/pulseboard.kv",
  tickMs: 100,
  shards: 16,
  window: 50,
  maxBodyBytes: 8 << 20,
  maxBatchReadings: 10_000,
  checkpointEveryMs: 30_000,
  maxBufferedBytes: 1 << 20,
  slowCloseMs: 10_000,
  ringMs: 30_000,
  ringBytes: 32 << 20,
  ringBudgetBytes: 256 << 20,
  maxTopics: 256,
  topicsPerClient: null,
  maxSubscriptions: 64,
  maxSubscriptionBytes: 16_384,
  pingIntervalMs: 15_000,
  silenceLimitMs: 45_000,
  webRoot: new URL("./web/build/", import.meta.url).pathname,
  logLevel: "info",
  allowedOrigins: null,
  allowedHosts: [],
  corsOrigins: null,
  maxConnectionsPerAddress: 64,
  trustedProxies: [],
  certFile: null,
  keyFile: null,
  insecure: false,
  jwtIssuer: null,
  jwtAudience: null,
  jwtPublicKeyFile: null,
  windowSizesMs: [1_000, 10_000, 60_000],
  graceMs: 5_000,
  maxFutureMs: 10_000,
  retentionMs: 86_400_000,
  rollups: [[1_000, 86_400_000], [60_000, 30 * 86_400_000]],
  rollupFlushMs: 10_000,
  idempotencyTtlMs: 86_400_000,
  idempotencyLeaseMs: 30_000,
  source: "kv",
  mongoUri: null,
  mongoDb: "pulseboard",
  mongoCollection: "readings",
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  drainMs: 2_000,
  mqtt: DEFAULT_MQTT_OPTIONS,
});

export const USAGE = `Usage: deno task start [options]
  --port <n>          HTTP port (default 8000; 0 picks a free one)
  --host <addr>       address to bind (default 127.0.0.1)
  --data <path>       Deno KV file, or :memory: (default ./data/pulseboard.kv)
  --tick <ms>         hub tick (default 100)
  --shards <n>        shard actors (default 16)
  --window <n>        last readings of a metric its avg, min and max cover (default 50)
  --max-body <bytes>  largest ingest body (default 8388608)
  --max-batch <n>     most readings per ingest batch (default 10000)
  --checkpoint <ms>   least time between state checkpoints (default 30000)
  --max-buffered <b>  unsent bytes per client before its deltas are skipped (default 1048576)
  --slow-close <ms>   time over that cap before a client is closed with 4008 (default 10000)
  --ping <ms>         how often clients are pinged (default 15000)
  --silence <ms>      silence before a client is dropped with 4001 (default 45000)
  --ring-ms <ms>      how far back a reconnecting client can resume (default 30000)
  --ring-bytes <b>    frames kept per topic for resuming, at most (default 33554432)
  --ring-budget <b>   frames kept by all topics together, at most (default 268435456)
  --max-topics <n>    distinct subscription sets served at once (default 256)
  --topics-per-client <n>  sets one client address or token may hold (default max(4, max-topics/16))
  --max-subscriptions <n>  subscriptions one connection may hold (default 64)
  --max-subscription-bytes <b>  bytes of one connection's subscription set (default 16384)
  --web <dir>         built dashboard to serve (default web/build)
  --log-level <l>     debug, info, warn or error (default info); logs are JSON lines on stderr
  --allowed-origins <a,b>  exact origins that may open /ws (default: only this server's own)
  --allowed-hosts <a,b>    names the server answers to besides its address (and localhost on
                      loopback): host (any port) or host:port; other Host headers get 421
  --cors-origins <a,b>     origins that may call /api/* from other sites (default: none)
  --max-connections-per-address <n>  open feed connections per client address (default 64)
  --trusted-proxies <a,b>  load balancers whose X-Forwarded-For names the client: addresses, CIDRs,
                      loopback, linklocal or uniquelocal (default: none; the peer is the client)
  --cert <file> --key <file>          serve HTTPS and WSS with this PEM certificate and key
  --insecure          allow a non-loopback --host without dashboard and ingest authentication
  --jwt-issuer <iss> --jwt-audience <aud>  verify dashboard JWTs (with --jwt-public-key <pem file>,
                      or an HS256 secret of 32+ characters in PULSEBOARD_JWT_SECRET)
  --windows <list>    event-time window sizes (default 1s,10s,1m), or none
  --grace <dur>       how far the watermark trails the newest event time (default 5s)
  --max-future <dur>  refuse readings stamped further ahead of the server clock (default 10s)
  --retention <dur>   how long the raw log is kept (default 24h)
  --rollups <list>    window sizes kept as rollups, with retention (default 1s=24h,1m=30d), or none
  --rollup-flush <dur> how often finished rollup chunks are written (default 10s); a window waits
                      at most 3 times that, and everything is written before each checkpoint
  --idempotency-ttl <dur>   how long an ingest batch's Idempotency-Key is remembered (default 24h)
  --idempotency-lease <dur> how long a batch in progress holds its key before a retry may take
                      it over (default 30s)
  --source <kv|mongo> source of truth: the embedded Deno KV log (default) or a MongoDB
                      collection read through a change stream (needs a replica set)
  --mongo-uri <uri>   mongodb:// or mongodb+srv:// URI (source mongo)
  --db <name>         MongoDB database (default pulseboard)
  --collection <name> MongoDB collection (default readings)
  --header-timeout <dur>  time for a request's line and headers (default 10s)
  --body-timeout <dur>    longest pause in an ingest body before 408 (default 30s)
  --idle-timeout <dur>    how long an idle keep-alive connection is kept (default 5s)
  --drain <dur>       at SIGTERM, how long requests in flight may finish before they are
                      aborted; then the final checkpoint is taken (default 2s)
${MQTT_USAGE}
  Durations: a number with ms, s, m, h or d.
  Environment: PULSEBOARD_SOURCE, PULSEBOARD_MONGO_URI, PULSEBOARD_MONGO_DB and
  PULSEBOARD_MONGO_COLLECTION stand in for the options above; an option wins.`;

/** Parses command-line options; throws a TypeError that names the bad option. */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Config {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      data: { type: "string" },
      tick: { type: "string" },
      shards: { type: "string" },
      window: { type: "string" },
      "max-body": { type: "string" },
      "max-batch": { type: "string" },
      checkpoint: { type: "string" },
      "max-buffered": { type: "string" },
      "slow-close": { type: "string" },
      "ring-ms": { type: "string" },
      ping: { type: "string" },
      silence: { type: "string" },
      "ring-bytes": { type: "string" },
      "ring-budget": { type: "string" },
      "max-topics": { type: "string" },
      "topics-per-client": { type: "string" },
      "max-subscriptions": { type: "string" },
      "max-subscription-bytes": { type: "string" },
      web: { type: "string" },
      "log-level": { type: "string" },
      "allowed-origins": { type: "string" },
      "allowed-hosts": { type: "string" },
      "cors-origins": { type: "string" },
      "max-connections-per-address": { type: "string" },
      "trusted-proxies": { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      insecure: { type: "boolean" },
      "jwt-issuer": { type: "string" },
      "jwt-audience": { type: "string" },
      "jwt-public-key": { type: "string" },
      windows: { type: "string" },
      grace: { type: "string" },
      "max-future": { type: "string" },
      retention: { type: "string" },
      rollups: { type: "string" },
      "rollup-flush": { type: "string" },
      "idempotency-ttl": { type: "string" },
      "idempotency-lease": { type: "string" },
      source: { type: "string" },
      "mongo-uri": { type: "string" },
      db: { type: "string" },
      collection: { type: "string" },
      "header-timeout": { type: "string" },
      "body-timeout": { type: "string" },
      "idle-timeout": { type: "string" },
      drain: { type: "string" },
      ...MQTT_ARGS,
    },
  });
  const int = (
    name: string,
    raw: string | undefined,
    fallback: number,
    min: number,
    max: number,
  ) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new TypeError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return n;
  };
  const d = DEFAULT_CONFIG;
  const windowSizesMs = values.windows === undefined
    ? [...d.windowSizesMs]
    : values.windows.trim() === "none"
    ? []
    : values.windows.split(",").map((w) => duration("windows", w.trim()));
  // Default rollups follow the windows: `--windows none` keeps none.
  const rollups = values.rollups === undefined
    ? d.rollups.filter(([size]) => windowSizesMs.includes(size)).map((
      [a, b],
    ): [number, number] => [a, b])
    : values.rollups.trim() === "none"
    ? []
    : values.rollups.split(",").filter((r) => r.trim() !== "").map((entry): [number, number] => {
      const [size, keep] = entry.split("=");
      if (keep === undefined) {
        throw new TypeError(
          `--rollups takes size=retention pairs like 1s=24h,1m=30d, got "${entry}"`,
        );
      }
      const sizeMs = duration("rollups", size.trim());
      if (!windowSizesMs.includes(sizeMs)) {
        throw new TypeError(`--rollups: ${size} is not one of the --windows sizes`);
      }
      return [sizeMs, duration("rollups", keep.trim())];
    });
  return {
    ...mongo(
      values.source ?? env("PULSEBOARD_SOURCE"),
      values["mongo-uri"] ?? env("PULSEBOARD_MONGO_URI"),
      values.db ?? env("PULSEBOARD_MONGO_DB"),
      values.collection ?? env("PULSEBOARD_MONGO_COLLECTION"),
    ),
    windowSizesMs,
    graceMs: values.grace === undefined ? d.graceMs : duration("grace", values.grace, true),
    maxFutureMs: values["max-future"] === undefined
      ? d.maxFutureMs
      : duration("max-future", values["max-future"], true),
    retentionMs: values.retention === undefined
      ? d.retentionMs
      : duration("retention", values.retention),
    rollups,
    rollupFlushMs: values["rollup-flush"] === undefined
      ? d.rollupFlushMs
      : duration("rollup-flush", values["rollup-flush"]),
    idempotencyTtlMs: values["idempotency-ttl"] === undefined
      ? d.idempotencyTtlMs
      : duration("idempotency-ttl", values["idempotency-ttl"]),
    idempotencyLeaseMs: values["idempotency-lease"] === undefined
      ? d.idempotencyLeaseMs
      : duration("idempotency-lease", values["idempotency-lease"]),
    port: int("port", values.port, d.port, 0, 65_535),
    host: values.host ?? d.host,
    data: values.data ?? d.data,
    tickMs: int("tick", values.tick, d.tickMs, 10, 10_000),
    shards: int("shards", values.shards, d.shards, 1, 1024),
    window: int("window", values.window, d.window, 1, 100_000),
    maxBodyBytes: int("max-body", values["max-body"], d.maxBodyBytes, 1024, 256 << 20),
    maxBatchReadings: int("max-batch", values["max-batch"], d.maxBatchReadings, 1, 1_000_000),
    checkpointEveryMs: int("checkpoint", values.checkpoint, d.checkpointEveryMs, 100, 3_600_000),
    maxBufferedBytes: int(
      "max-buffered",
      values["max-buffered"],
      d.maxBufferedBytes,
      4096,
      1 << 30,
    ),
    slowCloseMs: int("slow-close", values["slow-close"], d.slowCloseMs, 100, 600_000),
    ringMs: int("ring-ms", values["ring-ms"], d.ringMs, 0, 3_600_000),
    pingIntervalMs: int("ping", values.ping, d.pingIntervalMs, 10, 3_600_000),
    silenceLimitMs: int("silence", values.silence, d.silenceLimitMs, 10, 3_600_000),
    ringBytes: int("ring-bytes", values["ring-bytes"], d.ringBytes, 0, 1 << 30),
    ringBudgetBytes: int("ring-budget", values["ring-budget"], d.ringBudgetBytes, 0, 2 ** 36),
    maxTopics: int("max-topics", values["max-topics"], d.maxTopics, 1, 100_000),
    topicsPerClient: values["topics-per-client"] === undefined
      ? d.topicsPerClient
      : int("topics-per-client", values["topics-per-client"], 0, 1, 100_000),
    maxSubscriptions: int(
      "max-subscriptions",
      values["max-subscriptions"],
      d.maxSubscriptions,
      1,
      100_000,
    ),
    maxSubscriptionBytes: int(
      "max-subscription-bytes",
      values["max-subscription-bytes"],
      d.maxSubscriptionBytes,
      256,
      64 << 20,
    ),
    webRoot: values.web ?? d.webRoot,
    logLevel: level(values["log-level"] ?? d.logLevel),
    allowedOrigins: origins("allowed-origins", values["allowed-origins"]),
    allowedHosts: (values["allowed-hosts"] ?? "").split(",").map((h) => h.trim())
      .filter((h) => h !== "").map(parseAllowedHost),
    corsOrigins: origins("cors-origins", values["cors-origins"]),
    maxConnectionsPerAddress: int(
      "max-connections-per-address",
      values["max-connections-per-address"],
      d.maxConnectionsPerAddress,
      1,
      1_000_000,
    ),
    trustedProxies: proxies(values["trusted-proxies"]),
    ...tls(values.cert, values.key),
    insecure: values.insecure ?? false,
    jwtIssuer: values["jwt-issuer"] ?? null,
    jwtAudience: values["jwt-audience"] ?? null,
    jwtPublicKeyFile: values["jwt-public-key"] ?? null,
    headerTimeoutMs: timeout("header-timeout", values["header-timeout"], d.headerTimeoutMs),
    bodyTimeoutMs: timeout("body-timeout", values["body-timeout"], d.bodyTimeoutMs),
    idleTimeoutMs: timeout("idle-timeout", values["idle-timeout"], d.idleTimeoutMs),
    drainMs: timeout("drain", values.drain, d.drainMs, true),
    mqtt: parseMqttOptions(values, {
      duration,
      env,
      tls: values.cert !== undefined,
      source: values.source ?? env("PULSEBOARD_SOURCE") ?? d.source,
    }),
  };
}

/** A connection timeout: a duration of at most an hour (timers cannot wait for much longer). */
function timeout(name: string, raw: string | undefined, fallback: number, allowZero = false) {
  if (raw === undefined) return fallback;
  const ms = duration(name, raw, allowZero);
  if (ms > 3_600_000) throw new TypeError(`--${name}: "${raw}" is longer than 1h`);
  return ms;
}

function mongo(
  source: string | undefined,
  uri: string | undefined,
  db: string | undefined,
  collection: string | undefined,
): Pick<Config, "source" | "mongoUri" | "mongoDb" | "mongoCollection"> {
  const kind = source ?? DEFAULT_CONFIG.source;
  if (kind !== "kv" && kind !== "mongo") {
    throw new TypeError(`--source must be kv or mongo, got "${kind}"`);
  }
  if (kind === "kv") {
    if (uri !== undefined || db !== undefined || collection !== undefined) {
      throw new TypeError("--mongo-uri, --db and --collection need --source mongo");
    }
    return {
      source: "kv",
      mongoUri: null,
      mongoDb: DEFAULT_CONFIG.mongoDb,
      mongoCollection: DEFAULT_CONFIG.mongoCollection,
    };
  }
  if (uri === undefined || uri === "") {
    throw new TypeError(
      "--source mongo needs --mongo-uri (or PULSEBOARD_MONGO_URI), e.g. mongodb://localhost:27017/?replicaSet=rs0",
    );
  }
  if (!/^mongodb(\+srv)?:\/\/[^/?#]+/.test(uri)) {
    // Not echoed: a malformed URI may still hold a password.
    throw new TypeError("--mongo-uri must start with mongodb:// or mongodb+srv:// and name a host");
  }
  const dbName = db ?? DEFAULT_CONFIG.mongoDb;
  if (!/^[^/\\. "$*<>:|?]{1,63}$/.test(dbName) || dbName.includes("\0")) {
    throw new TypeError(
      `--db: "${dbName}" is not a MongoDB database name (1-63 characters, none of /\\. "$*<>:|?)`,
    );
  }
  const coll = collection ?? DEFAULT_CONFIG.mongoCollection;
  if (
    coll === "" || coll.length > 200 || coll.includes("$") || coll.includes("\x00") ||
    coll.startsWith("system.") || coll.startsWith(".") || coll.endsWith(".")
  ) {
    throw new TypeError(
      `--collection: "${coll}" is not a usable collection name (no $, not system.*, at most 200 characters)`,
    );
  }
  return { source: "mongo", mongoUri: uri, mongoDb: dbName, mongoCollection: coll };
}

function level(raw: string): Config["logLevel"] {
  if (raw === "debug" || raw === "info" || raw === "warn" || raw === "error") return raw;
  throw new TypeError(`--log-level must be debug, info, warn or error, got "${raw}"`);
}

function origins(name: string, raw: string | undefined): string[] | null {
  if (raw === undefined) return null;
  const list = raw.split(",").map((o) => o.trim()).filter((o) => o !== "");
  for (const origin of list) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new TypeError(`--${name}: "${origin}" is not an origin like https://dash.example.com`);
    }
    if (url.origin !== origin) {
      throw new TypeError(
        `--${name}: "${origin}" is not an origin (scheme://host[:port], no path)`,
      );
    }
  }
  return list;
}

function tls(
  cert: string | undefined,
  key: string | undefined,
): { certFile: string | null; keyFile: string | null } {
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError("--cert and --key go together");
  }
  return { certFile: cert ?? null, keyFile: key ?? null };
}

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

function proxies(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const entries = raw.split(",").map((p) => p.trim()).filter((p) => p !== "");
  compileProxyTrust(entries); // throws a TypeError naming the bad entry
  return entries;
}
