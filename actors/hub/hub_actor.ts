import type { GroupCount } from "./attention_counts.ts";
import { Actor, ask, Supervisor } from "../runtime/mod.ts";
import type { FailureReport } from "../runtime/mod.ts";
import type { ShardSet } from "../shards/shard_set.ts";
import { HubBehavior } from "./hub.ts";
import type { HubObserver, HubOptions, WindowNames } from "./hub.ts";
import { HubStats } from "./hub_stats.ts";
import type {
  HubAggregates,
  HubClientStats,
  HubJoin,
  HubLeave,
  HubMessage,
  HubSubscribe,
  HubUnsubscribe,
  HubView,
} from "./hub_messages.ts";
import type { SensorQuery, SensorSummary } from "./feed_queries.ts";
import type { WindowStates } from "../../protocol/columns.ts";

/** What the socket side sends the hub about its connections. */
export type SessionMessage =
  | HubJoin
  | HubSubscribe
  | HubUnsubscribe
  | HubView
  | HubClientStats
  | HubLeave;

export interface HubStartOptions
  extends Omit<HubOptions, "self" | "stats" | "recover" | "observer" | "onWindows"> {
  /** Told about every failure of the hub (e.g. to log it). */
  onFailure?: (report: FailureReport) => void;
  /** Restarts allowed within `withinMs` (default 5 in 60 s); then it stays failed. */
  maxRestarts?: number;
  withinMs?: number;
  /** Mailbox capacity. Default 1024. */
  capacity?: number;
}

/**
 * The hub actor, supervised, with a typed face for the rest of the server:
 * ticks, queries, the socket side's session messages, and listeners for the
 * windows each tick publishes. A hub that throws is restarted with a fresh
 * behavior that rebuilds its view from the shards' whole state in a new
 * epoch; its sessions are lost with it, and `onRestart` tells the socket
 * side so (it closes them with 1012, and clients reconnect).
 */
export class Hub {
  /** Written by the hub only (across restarts); read by health and metrics. */
  readonly stats = new HubStats();
  readonly #actor: Actor<HubMessage>;
  readonly #restartHooks: (() => void)[] = [];
  readonly #windowListeners: ((windows: WindowStates, names: WindowNames) => void)[] = [];
  readonly #observers: HubObserver[] = [];
  #ticker: ReturnType<typeof setInterval> | undefined;

  constructor(shards: ShardSet, options: HubStartOptions = {}) {
    const { onFailure, maxRestarts, withinMs, capacity, ...hubOptions } = options;
    const supervisor = new Supervisor({
      maxRestarts,
      withinMs,
      onFailure: (report) => {
        onFailure?.(report);
        if (report.restarted) { for (const hook of this.#restartHooks) hook(); }
      },
    });
    const observer: HubObserver = {
      tick: (ms, parts) => this.#observers.forEach((o) => o.tick(ms, parts)),
      sent: (updates, at) => this.#observers.forEach((o) => o.sent(updates, at)),
    };
    this.#actor = new Actor<HubMessage>(
      "hub",
      (restart, self) =>
        new HubBehavior(shards, {
          ...hubOptions,
          self,
          stats: this.stats,
          recover: restart > 0,
          observer,
          onWindows: (windows, names) => this.#windowListeners.forEach((l) => l(windows, names)),
        }),
      { capacity: capacity ?? 1024, supervisor },
    );
    // A rebuild of the shards (a Mongo resync) holds the ticks, then starts a new epoch.
    shards.observeRebuilds({
      hold: () => this.#ask((reply) => ({ type: "hold", reply })),
      newEpoch: () => this.#ask((reply) => ({ type: "newEpoch", reply }), 120_000),
    });
  }

  /** The error that stopped the hub for good, if any. */
  get failure(): Error | null {
    return this.#actor.failure;
  }

  get restarts(): number {
    return this.#actor.restarts;
  }

  /** Calls `hook` each time the hub is restarted (its sessions are gone). */
  onRestart(hook: () => void): void {
    this.#restartHooks.push(hook);
  }

  /** Tells `listener` the windows each tick publishes, with names for their indexes. */
  observeWindows(listener: (windows: WindowStates, names: WindowNames) => void): void {
    this.#windowListeners.push(listener);
  }

  /** Tells `observer` about every tick and every delta sent (histograms). */
  observe(observer: HubObserver): void {
    this.#observers.push(observer);
  }

  /** One tick: resolves once its flushes are in the view. */
  async tick(options: { sourceCaughtUp?: boolean; timeoutMs?: number } = {}): Promise<void> {
    await this.#ask(
      (reply) => ({ type: "tick", sourceCaughtUp: options.sourceCaughtUp, reply }),
      options.timeoutMs,
    );
  }

  /**
   * Offers a tick every `ms` (at most one waits: a hub that is behind gets no
   * pile of them), telling whether the source had caught up when it was sent.
   */
  tickEvery(ms: number, sourceCaughtUp: () => boolean): void {
    clearInterval(this.#ticker);
    this.#ticker = setInterval(
      () =>
        this.#actor.depth === 0 &&
        this.#actor.offer({ type: "tick", sourceCaughtUp: sourceCaughtUp() }),
      ms,
    );
  }

  /** Resolves once every flush asked for before now is merged (see HubBarrier). */
  async barrier(timeoutMs?: number): Promise<void> {
    await this.#ask((reply) => ({ type: "barrier", reply }), timeoutMs);
  }

  /** The sensor ids in listing order, encoded for a checkpoint (see `HubIdOrder`). */
  idOrder(timeoutMs?: number): Promise<Uint8Array> {
    return ask<HubMessage, Uint8Array>(
      this.#actor,
      (reply) => ({ type: "idOrder", reply }),
      { timeoutMs },
    );
  }

  /** A page of sensors from the view (GET /api/sensors). */
  sensors(query: SensorQuery): Promise<{ sensors: SensorSummary[]; more: boolean }> {
    return ask<HubMessage, { sensors: SensorSummary[]; more: boolean }>(
      this.#actor,
      (reply) => ({ type: "sensors", query, reply }),
    );
  }

  /** Every group path (under `scope`) with its sensor count. */
  groups(scope: string[] | null): Promise<GroupCount[]> {
    return ask<HubMessage, GroupCount[]>(
      this.#actor,
      (reply) => ({ type: "groups", scope, reply }),
    );
  }

  /** A group's aggregates for one window size (GET /api/aggregates). */
  aggregates(
    query: Omit<HubAggregates, "type" | "reply">,
  ): Promise<Parameters<HubAggregates["reply"]>[0]> {
    return ask<HubMessage, Parameters<HubAggregates["reply"]>[0]>(
      this.#actor,
      (reply) => ({ type: "aggregates", ...query, reply }),
    );
  }

  /** Sends a session message, waiting while the mailbox is full. */
  send(message: SessionMessage): Promise<void> {
    return this.#actor.send(message);
  }

  /** Sends a session message if the mailbox has room. */
  offer(message: SessionMessage): boolean {
    return this.#actor.offer(message);
  }

  /** Stops ticking and closes every session with `code` (the server is stopping). */
  async shutdown(code: number): Promise<void> {
    clearInterval(this.#ticker);
    await this.#actor.send({ type: "shutdown", code }).catch(() => {});
  }

  /** Stops ticking, then the actor once its mailbox is empty. */
  async stop(): Promise<void> {
    clearInterval(this.#ticker);
    await this.#actor.stop();
  }

  async #ask(request: (reply: (done: true) => void) => HubMessage, timeoutMs = 5_000) {
    await ask<HubMessage, true>(this.#actor, request, { timeoutMs });
  }
}
