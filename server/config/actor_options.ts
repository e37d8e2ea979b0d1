import type { HubStartOptions } from "../../actors/hub/mod.ts";
import type { ShardSetOptions } from "../../actors/shards/mod.ts";
import type { Config } from "./options.ts";

/** The shard stage as the options configure it: count, workers, moving window, event-time windows. */
export function shardOptions(
  config: Config,
): Pick<ShardSetOptions, "count" | "window" | "windowSpec" | "workers"> {
  return {
    count: config.shards,
    workers: config.workers,
    window: config.window,
    windowSpec: { sizesMs: config.windowSizesMs, graceMs: config.graceMs },
  };
}

/** The hub as the options configure it: rings, topic limits, pings and the slow-client policy. */
export function hubOptions(config: Config): HubStartOptions {
  return {
    ring: { ringMs: config.ringMs, ringBytes: config.ringBytes },
    ringBudgetBytes: config.ringBudgetBytes,
    maxTopics: config.maxTopics,
    topicsPerClient: config.topicsPerClient ?? undefined,
    maxSubscriptions: config.maxSubscriptions,
    maxSubscriptionBytes: config.maxSubscriptionBytes,
    views: {
      maxViews: config.maxViews,
      viewsPerClient: config.viewsPerClient ?? undefined,
      maxWindows: config.maxWindows,
    },
    attention: { staleIntervals: config.staleIntervals, offlineAfterMs: config.offlineAfterMs },
    pingIntervalMs: config.pingIntervalMs,
    tickMs: config.tickMs,
    windowSizesMs: config.windowSizesMs,
    countWindow: config.window,
    session: {
      maxBufferedBytes: config.maxBufferedBytes,
      slowCloseMs: config.slowCloseMs,
      silenceLimitMs: config.silenceLimitMs,
    },
  };
}
