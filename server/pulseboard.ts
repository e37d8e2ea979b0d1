// The composition root: wires the stages in the order readings flow through
// them. Each stage makes its parts from the config; nothing here decides.
import { hubOptions, loadMetricsConfig, memoryLimitBytes, shardOptions } from "./config/mod.ts";
import type { Config } from "./config/mod.ts";
import { Hub, ID_ORDER_PART, ShardSet } from "../actors/mod.ts";
import type { HubStats, ShardImage } from "../actors/mod.ts";
import { openStoreFor } from "./store/mod.ts";
import type { Store } from "./store/mod.ts";
import { openAuth } from "./auth/mod.ts";
import { createSource } from "./sources/mod.ts";
import { History, ROLLUPS_PART } from "./history/mod.ts";
import { FleetLimit, ingestRoutes, SensorGroups } from "./ingest/mod.ts";
import type { IngestStats } from "./ingest/mod.ts";
import { startMqtt } from "./ingest/mqtt/mod.ts";
import { readApi } from "./queries/mod.ts";
import {
  defaultMaxClients,
  feedSocketHandler,
  listen,
  staticFiles,
  TransportStats,
} from "./http/mod.ts";
import {
  glibcTrim,
  HeapTrimmer,
  logActorFailure,
  logger,
  opsRoutes,
  PrometheusMetrics,
  threadCpuClock,
  threadWaitClock,
} from "./ops/mod.ts";
import { CloseCode } from "../protocol/close_codes.ts";

export interface Pulseboard {
  /** Base URL, e.g. http://127.0.0.1:8000/ */
  url: URL;
  /** Epoch of the everything-topic: new at every start. */
  epoch: number;
  hubStats: HubStats;
  ingestStats: IngestStats;
  /** Open connections and feed sockets. */
  transport: TransportStats;
  /** The MQTT listener's mqtt:// and mqtts:// URLs (none when it is off). */
  mqttUrls: string[];
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

/**
 * Starts a Pulseboard server with the given config. `store`, when given, is
 * the config's store already being opened (`openStoreFor`): `main.ts` starts
 * reading the checkpoint while this module's imports load.
 */
export async function startPulseboard(
  config: Config,
  options: { store?: Promise<Store<ShardImage>> } = {},
): Promise<Pulseboard> {
  logger.setLevel(config.logLevel);
  const startedAt = Date.now();
  const metricMeta = await loadMetricsConfig(config.metricsConfigFile);
  // 1. Store: the Deno KV file, its event log, and the source's last checkpoint.
  const store = await (options.store ?? openStoreFor<ShardImage>(config));
  // 2. Shards: restored from that checkpoint when it fits them, each as soon as its
  // pages are read, while the next ones are. They take the pages (to the workers).
  const shards = await ShardSet.open({
    ...shardOptions(config),
    metrics: metricMeta,
    checkpoint: store.checkpoint,
    checkpointSeq: store.checkpoint?.seq,
    onFailure: logActorFailure,
    onCheckpointRefused: (error) =>
      logger.error("ignoring a corrupt checkpoint; replaying the log from the start", { error }),
    onShardImageRefused: (shard, error) =>
      logger.error(
        "ignoring a restarted shard's corrupt checkpoint image; rebuilding it from the log's start " +
          "(only what --retention kept)",
        { shard, error },
      ),
  }, store.shards);
  // 3. Who may come in (first: it may refuse to start), then the source, which
  // takes ingest's readings and reads them back into the shards.
  const { auth, source } = await openAuth(store.kv, config)
    .then(async (auth) => ({ auth, source: await createSource(config, { store, shards }) }))
    .catch(async (error) => {
      await shards.stop();
      store.close();
      throw error;
    });
  // 4. Hub: the view, topics and sessions, fed by the shards' flushes each tick.
  // With the sensors' id order saved beside them, its first tick need not sort 100,000 ids.
  const cpuClock = threadCpuClock();
  const waitClock = threadWaitClock();
  const hub = new Hub(shards, {
    ...hubOptions(config),
    cpuNow: typeof cpuClock === "function" ? cpuClock : undefined,
    waitNow: typeof waitClock === "function" ? waitClock : undefined,
    onFailure: logActorFailure,
    savedIdOrder: shards.restored ? store.checkpoint?.extras?.[ID_ORDER_PART] : null,
  });
  source.beforeCheckpoint(async () => ({
    durable: Promise.resolve(),
    // Only a hint for the next start: a checkpoint is not lost for want of it.
    parts: { [ID_ORDER_PART]: await hub.idOrder().catch(() => new Uint8Array(0)) },
  }));
  // 5. History: rollups of the hub's windows, and the raw log's retention.
  const history = new History(store.kv, {
    source,
    shards,
    hub,
    config,
    resumed: shards.restored ? store.checkpoint?.extras?.[ROLLUPS_PART] : null,
  });
  store.releaseCheckpoint();
  // 6. Edges: ingest (HTTP, then MQTT) into the source, the feed from the hub, the read API, ops.
  const names = shards.names;
  // Whether the router's names may be behind the source: while a shard is replayed,
  // before a MongoDB first load and while a rebuild refills the router (`replaying`),
  // and until the feed has taken in what the log held past the checkpoint (or that
  // read found nothing). New names wait (503) meanwhile.
  const logRead = () =>
    hub.stats.viewCaughtUp || (source.kind === "log" && source.health().replayedReadings === 0);
  const fleetSettled = () => !names.replaying && (source.kind === "mongo" || logRead());
  const fleet = new FleetLimit(names, { maxSensors: config.maxSensors, settled: fleetSettled });
  // A sensor may have moved in any document read since the checkpoint: scoped keys wait
  // until the feed has taken in everything the source held at the start.
  const groups = new SensorGroups({
    groupOf: (id) => names.groupOf(id),
    settled: () => !names.replaying && logRead(),
  });
  shards.onGroupsReported(() => groups.reported());
  const ingest = ingestRoutes(source.sink, {
    kv: store.kv,
    keys: auth.apiKeys,
    config,
    fleet,
    groups,
  });
  const mqtt = await startMqtt(source.log, {
    kv: store.kv,
    keys: auth.apiKeys,
    config,
    fleet,
    groups,
  });
  const transport = new TransportStats();
  const maxClients = config.maxClients ??
    defaultMaxClients(memoryLimitBytes(), config.maxBufferedBytes);
  const metrics = new PrometheusMetrics({
    transport,
    ingest: ingest.stats,
    hub: hub.stats,
    source,
    shards,
    history: () => history.stats(),
    mqtt,
    fleet: () => fleet.stats(),
  });
  hub.observe(metrics.hubObserver);
  // The restored state is in the view before anything can read it; then the source goes on.
  await hub.tick({ timeoutMs: 60_000 });

  source.start();
  hub.tickEvery(config.tickMs, () => source.caughtUp);
  const heapTrim = new HeapTrimmer(glibcTrim(), config.trimMemoryMs);
  const { server, url } = await listen({
    ...ingest,
    feed: feedSocketHandler(hub, {
      tokens: auth.tokens ?? undefined,
      maxClients,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      viewRows: {
        perConnection: config.viewRowsPerConnection,
        perAddress: config.viewRowsPerAddress,
      },
      trustedProxies: config.trustedProxies,
      stats: transport,
    }),
    ...readApi({
      hub,
      history,
      tokens: auth.tokens,
      windowSizesMs: config.windowSizesMs,
      countWindow: config.window,
      metricMeta,
    }),
    ...opsRoutes(metrics, {
      source,
      hub,
      shards,
      transport,
      ingest: ingest.stats,
      history: () => history.stats(),
      mqtt,
      heapTrim: heapTrim.stats,
      fleet: () => fleet.stats(),
      startedAt,
      checkpointEveryMs: config.checkpointEveryMs,
    }),
    files: staticFiles(config.webRoot),
  }, { ...config, stats: transport });
  logger.info("started", {
    url: url.href,
    data: config.data,
    source: source.kind,
    ...source.describe(),
    shards: config.shards,
    tickMs: config.tickMs,
    epoch: hub.stats.epoch,
    restoredFrom: source.health().startCursor,
  });
  let stopping: Promise<void> | null = null;
  // In reverse: no new sessions, requests (bounded by --drain, so the final checkpoint
  // is always taken) or MQTT publishes (those taken commit), no rollup writes, then the
  // source's final checkpoint, the actors, the store.
  const shutdown = () =>
    stopping ??= (async () => {
      // Each step's ms go into the "stopped" line: where a slow stop spent its time.
      const ms: Record<string, number> = {};
      let at = performance.now();
      const step = async (name: string, run: () => Promise<unknown> | undefined) => {
        await run();
        ms[name] = Math.round(performance.now() - at);
        at = performance.now();
      };
      await step("sessions", () => hub.shutdown(CloseCode.GoingAway));
      await step("requests", () => server.shutdown(config.drainMs));
      await step("mqtt", () => mqtt?.stop());
      // Rollup writes stop first, so the final checkpoint has Deno KV to itself: the rows
      // not written stay buffered and go into that checkpoint.
      await step("history", () => history.stop());
      await step("source", () => source.stop());
      await step("hub", () => hub.stop());
      for (const clock of [cpuClock, waitClock]) if (typeof clock === "function") clock.close();
      await step("shards", () => shards.stop());
      await step("close", () => source.close());
      await heapTrim.stop();
      store.close();
      logger.info("stopped", { checkpointsSaved: source.health().checkpointsSaved, ms });
    })();
  return {
    url,
    epoch: hub.stats.epoch,
    hubStats: hub.stats,
    ingestStats: ingest.stats,
    transport,
    mqttUrls: mqtt?.urls ?? [],
    shutdown,
    finished: server.finished,
    fatal: source.fatal,
  };
}
