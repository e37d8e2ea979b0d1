// Composition root: wires the stages, serves HTTP and /ws.
import type { Config } from "./config/options.ts";
import { Actor, ask, HubBehavior, HubStats, ShardSet, slotsPerSize } from "../actors/mod.ts";
import type { SensorQuery, SensorSummary, WindowSpec } from "../actors/mod.ts";
import type { HubMessage, ShardCheckpoint } from "../actors/mod.ts";
import { LogRetention, openStore } from "./store/mod.ts";
import { createSource } from "./sources/mod.ts";
import type { Source } from "./sources/mod.ts";
import { heldWindowsReader, HistoryService, RollupStore, RollupWriter } from "./history/mod.ts";
import { openAuth } from "./auth/mod.ts";
import type { Auth } from "./auth/mod.ts";
import {
  allowedHosts,
  compileProxyTrust,
  createApp,
  feedSocketHandler,
  FeedSocketStats,
  NO_HOSTS,
  serve,
  staticFiles,
} from "./http/mod.ts";
import { IdempotencyStore, ingestHandler, IngestStats, ingestStatusHandler } from "./ingest/mod.ts";
import { aggregatesRoute, historyRoute, sensorsRoute } from "./queries/mod.ts";
import type { AllowedHosts } from "./http/mod.ts";
import { CloseCode } from "../protocol/close_codes.ts";
import { DEFAULT_READING_LIMITS } from "./ingest/readings/mod.ts";
import { PrometheusMetrics } from "./ops/metrics.ts";
import { healthReport, readiness } from "./ops/health.ts";
import { logActorFailure } from "./ops/actor_failures.ts";
import { logger } from "./ops/logger.ts";

export interface Pulseboard {
  /** Base URL, e.g. http://127.0.0.1:8000/ */
  url: URL;
  /** Epoch of the everything-topic: new at every start. */
  epoch: number;
  hubStats: HubStats;
  ingestStats: IngestStats;
  feedStats: FeedSocketStats;
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
  const store = await openStore<ShardCheckpoint>(config.data, {
    source: config.source === "mongo" ? "mongo" : "log",
  });
  const { kv, log } = store;
  let auth: Auth;
  let source: Source;
  const started = Date.now();
  const shards = ShardSet.create({
    count: config.shards,
    window: config.window,
    windowSpec,
    checkpoint: store.checkpoint,
    onFailure: logActorFailure,
  });
  try {
    auth = await openAuth(kv, config);
    source = await createSource(config, { store, shards });
  } catch (error) {
    await shards.stop();
    store.close();
    throw error;
  }
  const { tokens, apiKeys } = auth;
  const sourceKind = source.kind;
  const idempotency = new IdempotencyStore(kv, {
    ttlMs: config.idempotencyTtlMs,
    leaseMs: config.idempotencyLeaseMs,
  });
  // Every window closed up to the checkpoint is stored before it is saved: after
  // the hub has taken in the shards' last flushes, the buffered rollups are written.
  source.beforeCheckpoint(async () => {
    await ask<HubMessage, true>(hub, (reply) => ({ type: "barrier", reply }));
    // Captured now; written while the source goes on.
    return { durable: rollups.flush() };
  });
  shards.observeRebuilds({
    hold: async (): Promise<void> => {
      await ask<HubMessage, true>(hub, (reply) => ({ type: "hold", reply }));
    },
    newEpoch: async (): Promise<void> => {
      await ask<HubMessage, true>(hub, (reply) => ({ type: "newEpoch", reply }), {
        timeoutMs: 120_000,
      });
    },
  });
  const rollupSizes = new Map(config.rollups);
  const rollupStore = new RollupStore(kv, rollupSizes);
  const rollups = new RollupWriter(rollupStore, {
    sizesMs: config.windowSizesMs,
    maxDelayMs: 3 * config.rollupFlushMs,
  });
  const retention = new LogRetention(kv, { retentionMs: config.retentionMs });
  const history = new HistoryService(rollupStore, {
    log: source.log ?? undefined,
    rollupSizes,
    cursorAt: (timeMs) => retention.cursorAt(timeMs),
    chunksAfter: async (timeMs) => {
      const mark = await retention.markAt(timeMs);
      const head = await log.committedChunks();
      if (mark === null) return head;
      return mark.committedChunks === null ? null : head - mark.committedChunks;
    },
    // In mongo mode there is no raw log here: history comes from rollups only.
    rawRetentionMs: source.log ? config.retentionMs : 0,
    buffered: (sizeMs, sensorId, metric, fromMs, toMs) =>
      rollups.bufferedWindows(sizeMs, sensorId, metric, fromMs, toMs),
    // The newest grace period is in no rollup yet: the shards' open windows serve it.
    held: heldWindowsReader({
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
    source,
    shards,
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
    () => hub.depth === 0 && hub.offer({ type: "tick", sourceCaughtUp: source.caughtUp }),
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
    if (!source.log) return; // no log to keep in mongo mode
    housekeeping = housekeeping.then(async () => {
      const now = Date.now();
      await retention.mark(now, source.cursor, await log.committedChunks());
      if (++sinceCompaction >= 6) {
        sinceCompaction = 0;
        const deleted = await retention.compact(now, source.checkpointedCursor);
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
    return (await tokens.verify(token).catch((error: Error) => {
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
  const app = createApp({
    hosts: () => hosts,
    allowedOrigins: config.allowedOrigins,
    ingest: ingestHandler(source.sink, {
      maxBodyBytes: config.maxBodyBytes,
      maxBatchReadings: config.maxBatchReadings,
      limits: { ...DEFAULT_READING_LIMITS, maxFutureMs: config.maxFutureMs },
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
    ready: () =>
      readiness({ source, hub: { stats: hubStats, failure: hub.failure }, shards }, {
        startedAt: started,
        checkpointEveryMs: config.checkpointEveryMs,
        now: Date.now(),
      }),
    health: () =>
      healthReport({
        source,
        hub: { stats: hubStats, failure: hub.failure },
        shards,
        ingest: ingestStats,
        transport: () => ({
          connections: server.connections,
          feedSockets: feedStats.open,
          feedAborted: feedStats.aborted,
          feedTooBig: feedStats.tooBig,
        }),
        history: () => ({
          rollupChunksWritten: rollupStore.written,
          rollupChunksBuffered: rollups.buffered,
          rollupChunksFailed: rollups.failed,
          logChunksDeleted: retention.deleted,
        }),
      }),
  });

  const tls = config.certFile && config.keyFile
    ? {
      cert: await Deno.readTextFile(config.certFile),
      key: await Deno.readTextFile(config.keyFile),
    }
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
    ...source.describe(),
    shards: config.shards,
    tickMs: config.tickMs,
    epoch: hubStats.epoch,
    restoredFrom: source.health().startCursor,
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
      await source.stop();
      await hub.stop();
      await shards.stop();
      await housekeeping;
      await rollups.flush().catch(() => {});
      await source.close();
      kv.close();
      logger.info("stopped", { checkpointsSaved: source.health().checkpointsSaved });
    })();
  return {
    url,
    epoch: hubStats.epoch,
    hubStats,
    ingestStats,
    feedStats,
    shutdown,
    finished: server.finished,
    fatal: source.fatal,
  };
}

/** This machine's addresses, which a wildcard listener answers to as Hosts. */
function interfaceAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((i) => i.address);
  } catch {
    return []; // without --allow-sys: loopback names and --allowed-hosts only
  }
}
