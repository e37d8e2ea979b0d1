// Composition root: reads the config, wires the stages, serves HTTP and /ws.
import { parseConfig, USAGE } from "./config.ts";
import type { Config } from "./config.ts";
import {
  Actor,
  ask,
  HubBehavior,
  HubStats,
  LogSource,
  Router,
  ShardBehavior,
  SLOT_LENGTH,
  slotsPerSize,
  Supervisor,
} from "./actors/mod.ts";
import type { SensorQuery, SensorSummary, WindowSpec } from "./actors/mod.ts";
import type { HubMessage, ShardMessage } from "./actors/mod.ts";
import { CheckpointStore, KvLog, LogRetention } from "./log/mod.ts";
import { Checkpointer } from "./actors/mod.ts";
import { MongoClient } from "mongodb";
import {
  cursorToken,
  DocumentIds,
  MongoSink,
  MongoSource,
  STANDALONE_HINT,
} from "./sources/mongo/mod.ts";
import { heldWindowsReader, HistoryService, RollupStore, RollupWriter } from "./history/mod.ts";
import { ApiKeys, TokenVerifier } from "./auth/mod.ts";
import {
  aggregatesRoute,
  allowedHosts,
  compileProxyTrust,
  createApp,
  feedSocketHandler,
  FeedSocketStats,
  historyRoute,
  IdempotencyStore,
  ingestHandler,
  IngestStats,
  ingestStatusHandler,
  NO_HOSTS,
  sensorsRoute,
  serve,
  staticFiles,
} from "./http/mod.ts";
import type { AllowedHosts } from "./http/mod.ts";
import { CloseCode } from "./protocol/close_codes.ts";
import { DEFAULT_READING_LIMITS } from "./readings/mod.ts";
import { PrometheusMetrics } from "./metrics/mod.ts";
import { logger } from "./logging/mod.ts";
import { mqttEnabled, startMqttIngest } from "./server/ingest/mqtt/mod.ts";
import type { MqttIngest } from "./server/ingest/mqtt/mod.ts";

export interface Pulseboard {
  /** Base URL, e.g. http://127.0.0.1:8000/ */
  url: URL;
  /** Epoch of the everything-topic: new at every start. */
  epoch: number;
  hubStats: HubStats;
  ingestStats: IngestStats;
  feedStats: FeedSocketStats;
  /** MQTT ingest (listener and bridge), when configured. */
  mqtt: MqttIngest | null;
  /**
   * Stops accepting, closes sockets with 1001, aborts requests still running
   * after `--drain`, takes the final checkpoint, stops the actors, closes the store.
   */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  /** Resolves if the source fails for good (e.g. MongoDB is a standalone server). */
  fatal: Promise<Error>;
}

/** Starts a Pulseboard server with the given config. */
export async function startPulseboard(config: Config): Promise<Pulseboard> {
  logger.setLevel(config.logLevel);
  const windowSpec: WindowSpec = { sizesMs: config.windowSizesMs, graceMs: config.graceMs };
  try {
    slotsPerSize(windowSpec);
  } catch (error) {
    throw new TypeError(`--windows/--grace: ${(error as Error).message}`);
  }
  const tokens = await tokenVerifier(config);
  if (config.data !== ":memory:") {
    const dir = config.data.includes("/")
      ? config.data.slice(0, config.data.lastIndexOf("/"))
      : ".";
    await Deno.mkdir(dir || "/", { recursive: true });
  }
  const kv = await Deno.openKv(config.data);
  const log = new KvLog(kv);
  const apiKeys = new ApiKeys(kv);
  const idempotency = new IdempotencyStore(kv, {
    ttlMs: config.idempotencyTtlMs,
    leaseMs: config.idempotencyLeaseMs,
  });
  // Off loopback both dashboards (JWT) and ingest (API keys) must authenticate.
  if (!isLoopback(config.host) && !config.insecure && (!tokens || !(await apiKeys.inUse()))) {
    kv.close();
    throw new Deno.errors.PermissionDenied(
      `Refusing to listen on ${config.host}: ${
        !tokens ? "dashboard JWT authentication" : "an ingest API key"
      } ` +
        "is not configured. Configure it (see SECURITY.md), listen on 127.0.0.1 (the default), " +
        "or pass --insecure to accept the risk.",
    );
  }
  const mongo = config.source === "mongo" ? await connectMongo(config, kv) : null;
  const checkpoints = new CheckpointStore(kv);
  const checkpoint = await checkpoints.load().catch((error) => {
    logger.error("ignoring an unreadable checkpoint; replaying the log from the start", { error });
    return null;
  });
  const sourceKind = config.source === "mongo" ? "mongo" : "log";
  const usable = checkpoint && (checkpoint.source ?? "log") === sourceKind &&
      checkpoint.shards.length === config.shards &&
      checkpoint.shards.every((s) =>
        s.window === config.window && s.events?.slotLength === SLOT_LENGTH &&
        s.events.spec.graceMs === windowSpec.graceMs &&
        s.events.spec.sizesMs.join() === windowSpec.sizesMs.join()
      )
    ? checkpoint
    : null;
  const started = Date.now();

  let source: LogSource | MongoSource | null = null;
  const fatal = Promise.withResolvers<Error>();
  const supervisor = new Supervisor({
    onFailure: ({ actor, error, restarted, failures }) => {
      logger.error(restarted ? "actor failed, restarting" : "actor failed too often, stopped", {
        actor,
        failures,
        error,
      });
      const shard = Number(actor.replace("shard-", ""));
      if (restarted && Number.isInteger(shard)) source?.requestReplay(shard);
    },
  });
  const shards = Array.from({ length: config.shards }, (_, i) =>
    new Actor<ShardMessage>(
      `shard-${i}`,
      (restart) =>
        new ShardBehavior({
          window: config.window,
          windowSpec,
          awaitingReplay: restart > 0,
          state: restart === 0 ? usable?.shards[i] : null,
        }),
      { capacity: 64, supervisor },
    ));
  const router = usable ? Router.restore(config.shards, usable.router) : new Router(config.shards);
  // Every window closed up to the checkpoint is stored before it is saved: after
  // the hub has taken in the shards' last flushes, the buffered rollups are written.
  const beforeCheckpoint = async () => {
    await ask<HubMessage, true>(hub, (reply) => ({ type: "barrier", reply }));
    // Captured now; written while the source goes on.
    return { durable: rollups.flush() };
  };
  source = mongo
    ? new MongoSource(router, shards, {
      client: mongo.client,
      db: config.mongoDb,
      collection: config.mongoCollection,
      checkpointer: new Checkpointer(shards, router, {
        store: checkpoints,
        everyMs: config.checkpointEveryMs,
        beforeCheckpoint,
        source: "mongo",
        startCursor: usable?.cursor ?? null,
      }),
      startToken: usable ? cursorToken(usable.cursor) : null,
      documentIds: DocumentIds.restore(usable?.sourceState),
      limits: { ...DEFAULT_READING_LIMITS, maxFutureMs: config.maxFutureMs },
      hooks: {
        hold: async (): Promise<void> => {
          await ask<HubMessage, true>(hub, (reply) => ({ type: "hold", reply }));
        },
        newEpoch: async (): Promise<void> => {
          await ask<HubMessage, true>(hub, (reply) => ({ type: "newEpoch", reply }), {
            timeoutMs: 120_000,
          });
        },
      },
      onFatal: (error) => fatal.resolve(error),
      onHandOff: (handOff) => metrics.mongoHandOff(handOff),
    })
    : new LogSource(log, router, shards, {
      checkpoints,
      checkpointEveryMs: config.checkpointEveryMs,
      startCursor: usable?.cursor ?? null,
      beforeCheckpoint,
    });
  const rollupSizes = new Map(config.rollups);
  const rollupStore = new RollupStore(kv, rollupSizes);
  const rollups = new RollupWriter(rollupStore, {
    sizesMs: config.windowSizesMs,
    maxDelayMs: 3 * config.rollupFlushMs,
  });
  const retention = new LogRetention(kv, { retentionMs: config.retentionMs });
  const history = new HistoryService(kv, rollupStore, {
    rollupSizes,
    cursorAt: (timeMs) => retention.cursorAt(timeMs),
    chunksAfter: async (timeMs) => {
      const mark = await retention.markAt(timeMs);
      const head = await log.committedChunks();
      if (mark === null) return head;
      return mark.committedChunks === null ? null : head - mark.committedChunks;
    },
    // In mongo mode there is no raw log here: history comes from rollups only.
    rawRetentionMs: mongo ? 0 : config.retentionMs,
    buffered: (sizeMs, sensorId, metric, fromMs, toMs) =>
      rollups.bufferedWindows(sizeMs, sensorId, metric, fromMs, toMs),
    // The newest grace period is in no rollup yet: the shards' open windows serve it.
    held: heldWindowsReader({
      lookup: (sensorId) => router.lookup(sensorId),
      shards,
      sizesMs: config.windowSizesMs,
      barrier: () =>
        ask<HubMessage, true>(hub, (reply) => ({ type: "barrier", reply }), { timeoutMs: 2_000 }),
    }),
  });
  const hubStats = new HubStats();
  const ingestStats = new IngestStats();
  const feedStats = new FeedSocketStats();
  const metrics = new PrometheusMetrics({
    ingest: ingestStats,
    hub: hubStats,
    log,
    source,
    mongo: source instanceof MongoSource ? source : undefined,
    shards: () =>
      shards.map((s) => ({ depth: s.depth, restarts: s.restarts, failed: s.failure !== null })),
    history: () => ({
      rollupsWritten: rollupStore.written,
      rollupsDropped: rollups.failed,
      logChunksDeleted: retention.deleted,
    }),
  });
  const hub = new Actor<HubMessage>(
    "hub",
    () =>
      new HubBehavior(shards, {
        observer: metrics.hubObserver,
        ring: { ringMs: config.ringMs, ringBytes: config.ringBytes },
        ringBudgetBytes: config.ringBudgetBytes,
        maxTopics: config.maxTopics,
        topicsPerClient: config.topicsPerClient ?? undefined,
        maxSubscriptions: config.maxSubscriptions,
        maxSubscriptionBytes: config.maxSubscriptionBytes,
        pingIntervalMs: config.pingIntervalMs,
        windowSizesMs: config.windowSizesMs,
        countWindow: config.window,
        onWindows: (windows, names) => rollups.add(windows, names),
      }, hubStats),
    { capacity: 1024 },
  );
  // The restored state goes into the hub's view before anything can read it:
  // no client or API call ever sees the empty view of a fresh process.
  await ask<HubMessage, true>(hub, (reply) => ({ type: "tick", reply }), { timeoutMs: 60_000 });
  source.start();
  // A hub that is behind gets no pile of ticks: at most one waits.
  const ticker = setInterval(
    () => hub.depth === 0 && hub.offer({ type: "tick", sourceCaughtUp: source!.caughtUp }),
    config.tickMs,
  );
  const rollupFlusher = setInterval(
    () => rollups.flush({ completeOnly: true }).catch(() => {}),
    config.rollupFlushMs,
  );
  // Marks map wall time to log positions (raw history, retention); compaction keeps the log to its retention.
  let housekeeping: Promise<unknown> = Promise.resolve();
  let sinceCompaction = 0;
  const housekeeper = setInterval(() => {
    if (!(source instanceof LogSource)) return; // no log to keep in mongo mode
    const logSource = source;
    housekeeping = housekeeping.then(async () => {
      const now = Date.now();
      await retention.mark(now, logSource.cursor, await log.committedChunks());
      if (++sinceCompaction >= 6) {
        sinceCompaction = 0;
        const deleted = await retention.compact(now, logSource.checkpointedCursor);
        if (deleted > 0) logger.info("log compacted", { chunksDeleted: deleted });
      }
    }).catch((error) => logger.error("log housekeeping failed", { error }));
  }, 10_000);

  /** The viewer's group prefixes from `Authorization: Bearer <jwt>`; null without authentication. */
  const viewerScope = async (request: Request): Promise<string[] | null> => {
    if (!tokens) return null;
    const token = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
    if (!token) {
      throw new Deno.errors.PermissionDenied("Send a dashboard token: Authorization: Bearer <jwt>");
    }
    return (await tokens.verify(token).catch((error) => {
      throw new Deno.errors.PermissionDenied((error as Error).message);
    })).groups;
  };
  const queries = {
    scope: viewerScope,
    sensors: (query: SensorQuery) =>
      ask<HubMessage, { sensors: SensorSummary[]; more: boolean }>(
        hub,
        (reply) => ({ type: "sensors", query, reply }),
      ),
    aggregates: (
      group: string,
      size: number,
      metric: string | null,
      scope: readonly string[] | null,
    ) =>
      ask<HubMessage, unknown[]>(
        hub,
        (reply) => ({ type: "aggregates", group, size, metric, scope, reply }),
      ),
    history: (request: Parameters<HistoryService["query"]>[0]) =>
      history.query(request, Date.now()),
    windowSizesMs: config.windowSizesMs,
    countWindow: config.window,
    now: Date.now,
  };

  // Known once the listener is (port 0 picks one); until then nothing is allowed.
  let hosts: AllowedHosts = NO_HOSTS;
  const limits = { ...DEFAULT_READING_LIMITS, maxFutureMs: config.maxFutureMs };
  const app = createApp({
    hosts: () => hosts,
    allowedOrigins: config.allowedOrigins,
    ingest: ingestHandler(mongo ? new MongoSink(mongo.collection) : log, {
      maxBodyBytes: config.maxBodyBytes,
      maxBatchReadings: config.maxBatchReadings,
      limits,
      keys: apiKeys,
      idempotency,
      bodyTimeoutMs: config.bodyTimeoutMs,
    }, ingestStats),
    ingestStatus: ingestStatusHandler(idempotency, { keys: apiKeys }),
    corsOrigins: config.corsOrigins,
    feed: feedSocketHandler(hub, {
      tokens: tokens ?? undefined,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      proxyTrust: compileProxyTrust(config.trustedProxies),
      stats: feedStats,
      policy: {
        maxBufferedBytes: config.maxBufferedBytes,
        slowCloseMs: config.slowCloseMs,
        silenceLimitMs: config.silenceLimitMs,
      },
    }),
    files: staticFiles(config.webRoot),
    sensors: sensorsRoute(queries),
    history: historyRoute(queries),
    aggregates: aggregatesRoute(queries),
    groups: async (request) => {
      const scope = await viewerScope(request);
      return await ask<HubMessage, { group: string; sensors: number }[]>(
        hub,
        (reply) => ({ type: "groups", reply, scope }),
      );
    },
    metrics: async () =>
      new Response(await metrics.render(), { headers: { "content-type": metrics.contentType } }),
    ready: () => {
      const problems: string[] = [];
      if (!source!.caughtUp) problems.push(`the ${sourceKind} source is still catching up`);
      else if (!hubStats.viewCaughtUp) problems.push("the feed has not yet taken in the replay");
      if (source instanceof MongoSource && !source.connected) {
        problems.push(`MongoDB change stream is ${source.state}`);
      }
      if (hub.failure) problems.push("the hub has failed");
      if (shards.some((s) => s.failure)) problems.push("a shard has failed for good");
      const age = Date.now() - (source!.lastCheckpointAt || started);
      if (source!.checkpointBehind && age > 3 * config.checkpointEveryMs) {
        problems.push(`no checkpoint for ${Math.round(age / 1000)} s`);
      }
      return { ready: problems.length === 0, problems };
    },
    health: () => ({
      status: hub.failure || shards.some((s) => s.failure) ||
          (source instanceof MongoSource && !source.connected) || mqtt?.degraded
        ? "degraded"
        : "ok",
      ...(mqtt ? { mqtt: mqtt.health() } : {}),
      ...(source instanceof MongoSource
        ? {
          mongo: {
            state: source.state,
            connected: source.connected,
            lastError: source.lastError,
            caughtUp: source.caughtUp,
            events: { ...source.events },
            eventsRead: source.eventsRead,
            readingsRead: source.readingsRead,
            invalidDocuments: source.invalidDocuments,
            resumes: source.resumes,
            resyncs: source.resyncs,
            resumeToken: source.cursor,
            checkpointsSaved: source.checkpointsSaved,
            lastCheckpointAt: source.lastCheckpointAt,
            checkpointBehind: source.checkpointBehind,
          },
        }
        : {}),
      epoch: hubStats.epoch,
      seq: hubStats.seq,
      sensors: hubStats.sensors,
      sessions: hubStats.sessions,
      log: {
        caughtUp: source!.caughtUp,
        chunksRead: source!.chunksRead,
        readingsRead: source!.readingsRead,
        pendingReadings: log.pendingReadings,
        startCursor: source!.startCursor,
        checkpointsSaved: source!.checkpointsSaved,
        lastCheckpointAt: source!.lastCheckpointAt,
      },
      ingest: { ...ingestStats },
      // Counts only: topic keys name viewers' groups and sensors, and this page needs no token.
      hub: { ...hubStats, topics: hubStats.topicCount },
      transport: {
        connections: server.connections,
        feedSockets: feedStats.open,
        feedAborted: feedStats.aborted,
        feedTooBig: feedStats.tooBig,
      },
      history: {
        rollupChunksWritten: rollupStore.written,
        rollupChunksBuffered: rollups.buffered,
        rollupChunksFailed: rollups.failed,
        logChunksDeleted: retention.deleted,
      },
      shards: shards.map((s) => ({
        depth: s.depth,
        restarts: s.restarts,
        failed: s.failure !== null,
      })),
    }),
  });

  const tls = config.certFile && config.keyFile
    ? {
      cert: await Deno.readTextFile(config.certFile),
      key: await Deno.readTextFile(config.keyFile),
    }
    : null;
  // MQTT ingest: publishes go into the same log, with the same keys and reading rules.
  const mqtt = mqttEnabled(config.mqtt)
    ? await startMqttIngest({ sink: log, kv, keys: apiKeys, limits, registry: metrics.registry }, {
      ...config.mqtt,
      host: config.host,
      insecure: config.insecure,
      tls,
      connectTimeoutMs: config.headerTimeoutMs,
      maxBatchReadings: config.maxBatchReadings,
    })
    : null;
  const server = await serve(app, {
    port: config.port,
    hostname: config.host,
    tls,
    headerTimeoutMs: config.headerTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    onListen: (addr) => {
      // Set before the first request is served: the Host check never sees NO_HOSTS.
      hosts = allowedHosts(addr, {
        scheme: tls ? "https:" : "http:",
        names: config.allowedHosts,
        interfaces: interfaceAddresses(),
      });
    },
  });
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  const url = new URL(`${server.secure ? "https" : "http"}://${host}:${server.port}/`);
  if (!(await apiKeys.inUse())) {
    logger.warn("ingest is open: no API keys exist (create one with `deno task keys create`)");
  }
  if (!tokens) {
    logger.warn(
      `dashboards are not authenticated (no JWT configured): listening on ${config.host} only`,
    );
  }
  logger.info("started", {
    url: url.href,
    data: config.data,
    source: sourceKind,
    ...(mongo ? { mongo: `${mongo.hosts}/${config.mongoDb}.${config.mongoCollection}` } : {}),
    shards: config.shards,
    tickMs: config.tickMs,
    epoch: hubStats.epoch,
    restoredFrom: usable?.cursor ?? null,
  });

  let stopping: Promise<void> | null = null;
  const shutdown = () =>
    stopping ??= (async () => {
      clearInterval(ticker);
      clearInterval(housekeeper);
      clearInterval(rollupFlusher);
      await hub.send({ type: "shutdown", code: CloseCode.GoingAway }).catch(() => {});
      // Bounded: what has not finished within the drain is aborted, so the
      // final checkpoint below is always taken.
      await server.shutdown(config.drainMs);
      await mqtt?.stop();
      await source!.stop();
      await hub.stop();
      await Promise.all(shards.map((s) => s.stop()));
      await housekeeping;
      await rollups.flush().catch(() => {});
      await mongo?.client.close().catch(() => {});
      kv.close();
      logger.info("stopped", { checkpointsSaved: source!.checkpointsSaved });
    })();
  return {
    url,
    epoch: hubStats.epoch,
    hubStats,
    ingestStats,
    feedStats,
    mqtt,
    shutdown,
    finished: server.finished,
    fatal: fatal.promise,
  };
}

/**
 * The driver's client for mongo mode. A server that answers and is a
 * standalone is refused at once (change streams need a replica set); one
 * that does not answer yet is left to the source, which serves the last
 * state and retries.
 */
async function connectMongo(config: Config, kv: Deno.Kv) {
  const client = new MongoClient(config.mongoUri!, {
    appName: "pulseboard",
    monitorCommands: true,
    // The driver's 30 s would hold an ingest request (and an outage's first
    // report) that long; the URI may still say otherwise.
    ...(/[?&]serverSelectionTimeoutMS=/i.test(config.mongoUri!)
      ? {}
      : { serverSelectionTimeoutMS: 5_000 }),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hello = await Promise.race([
    client.db("admin").command({ hello: 1 }).catch(() => null),
    new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 5_000)),
  ]);
  clearTimeout(timer);
  if (hello && typeof hello.setName !== "string" && hello.msg !== "isdbgrid") {
    await client.close().catch(() => {});
    kv.close();
    throw new TypeError(STANDALONE_HINT);
  }
  const hosts = config.mongoUri!.replace(/^mongodb(\+srv)?:\/\/([^@/]*@)?/, "").split(/[/?]/)[0];
  return {
    client,
    collection: client.db(config.mongoDb).collection(config.mongoCollection),
    hosts,
  };
}

/** The dashboard token verifier the config asks for, or null for none. */
async function tokenVerifier(config: Config): Promise<TokenVerifier | null> {
  const secret = Deno.env.get("PULSEBOARD_JWT_SECRET");
  if (!config.jwtIssuer && !config.jwtAudience && !config.jwtPublicKeyFile && !secret) return null;
  return TokenVerifier.create({
    issuer: config.jwtIssuer ?? "",
    audience: config.jwtAudience ?? "",
    secret,
    publicKeyPem: config.jwtPublicKeyFile
      ? await Deno.readTextFile(config.jwtPublicKeyFile)
      : undefined,
  });
}

/** This machine's addresses, which a wildcard listener answers to as Hosts. */
function interfaceAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((i) => i.address);
  } catch {
    return []; // without --allow-sys: loopback names and --allowed-hosts only
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  let config: Config;
  try {
    config = parseConfig(Deno.args);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  const pulseboard = await startPulseboard(config).catch((error) => {
    console.error(
      error instanceof Deno.errors.PermissionDenied || error instanceof TypeError
        ? error.message
        : error,
    );
    Deno.exit(1);
  });
  console.log(`Pulseboard listening on ${pulseboard.url.href}`);
  if (pulseboard.mqtt?.urls.length) {
    console.log(`MQTT listening on ${pulseboard.mqtt.urls.join(" ")}`);
  }
  pulseboard.fatal.then(async (error) => {
    console.error(error.message);
    await pulseboard.shutdown().catch(() => {});
    Deno.exit(1);
  });
  const stop = () => {
    pulseboard.shutdown().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
