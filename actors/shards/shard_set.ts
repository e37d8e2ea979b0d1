import type { MetricsMeta } from "../../protocol/metric_meta.ts";
import { Actor, ask, Supervisor } from "../runtime/mod.ts";
import type { Behavior, FailureReport } from "../runtime/mod.ts";
import { SLOT_LENGTH } from "./event_window_store.ts";
import type { HeldWindow, WindowSpec } from "./event_window_store.ts";
import { Router } from "./router.ts";
import { ShardBehavior } from "./shard.ts";
import type { ShardChanges, ShardCheckpoint, ShardMessage } from "./shard_messages.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";

/** Everything a checkpoint holds of the shards: the router's indexes and each shard's state. */
export interface ShardSetState {
  router: { sensors: string[]; metrics: string[] };
  shards: ShardCheckpoint[];
}

/** What the hub needs while the shards are emptied and refilled from scratch. */
export interface RebuildObserver {
  /** Before: stop taking the shards' flushes (resolves once none is being taken). */
  hold(): Promise<void>;
  /** After: take the refilled state in as a fresh start. */
  newEpoch(): Promise<void>;
}

export interface ShardSetOptions {
  /** Shard actors. */
  count: number;
  /** Readings each metric's moving window covers (`--window`). */
  window: number;
  /** Event-time window sizes and grace (`--windows`, `--grace`). */
  windowSpec: WindowSpec;
  /** Metric metadata (`--metrics-config`): readings are judged by its thresholds. */
  metrics?: MetricsMeta;
  /** State to start from; used only when it was saved with the same shape (see `fits`). */
  checkpoint?: ShardSetState | null;
  /** Mailbox capacity of each shard. Default 64. */
  capacity?: number;
  /** Distinct metric names before further ones are dropped. Default 1024. */
  maxMetrics?: number;
  /** Told about every failure of a shard (e.g. to log it). */
  onFailure?: (report: FailureReport) => void;
  /** Restarts allowed per shard within `withinMs` (default 5 in 60 s). */
  maxRestarts?: number;
  withinMs?: number;
  /** Wraps each shard's behavior (tests inject failures or delays). */
  wrap?: (behavior: ShardBehavior, shard: number) => Behavior<ShardMessage>;
}

/** Health figures of one shard. */
export interface ShardHealth {
  /** Messages waiting in its mailbox. */
  depth: number;
  restarts: number;
  /** Stopped for good: it failed too often. */
  failed: boolean;
}

/**
 * The shard stage as one parent: it owns the shard actors and their
 * supervision, the router that gives sensors and metrics their indexes and
 * picks a shard per sensor, and the restore from a checkpoint. Everything
 * goes in and out as messages (the seam that can move the shards onto
 * worker threads): readings are delivered, flushes, states, checkpoints and
 * held windows are asked for. A shard that throws is restarted empty and
 * waits for its replay; whoever feeds the shards (the source) is told
 * through `onRestart` and replays it.
 */
export class ShardSet {
  readonly count: number;
  /** Whether the shards and router started from the checkpoint given. */
  readonly restored: boolean;
  readonly #router: Router;
  readonly #shards: Actor<ShardMessage>[];
  readonly #restartHooks: ((shard: number) => void)[] = [];
  readonly #rebuildObservers: RebuildObserver[] = [];
  readonly #shape: { count: number; window: number; windowSpec: WindowSpec };

  private constructor(options: ShardSetOptions) {
    const { count, window, windowSpec } = options;
    const checkpoint = options.checkpoint && ShardSet.fits(options.checkpoint, options)
      ? options.checkpoint
      : null;
    this.count = count;
    this.#shape = { count, window, windowSpec };
    this.restored = checkpoint !== null;
    const routerOptions = { maxMetrics: options.maxMetrics };
    this.#router = checkpoint
      ? Router.restore(count, checkpoint.router, routerOptions)
      : new Router(count, routerOptions);
    this.#shards = Array.from({ length: count }, (_, i) => {
      // One supervisor per shard: its failures are told with the shard's index.
      const supervisor = new Supervisor({
        maxRestarts: options.maxRestarts,
        withinMs: options.withinMs,
        onFailure: (report) => {
          options.onFailure?.(report);
          if (report.restarted) { for (const hook of this.#restartHooks) hook(i); }
        },
      });
      return new Actor<ShardMessage>(
        `shard-${i}`,
        (restart) => {
          const behavior = new ShardBehavior({
            window,
            windowSpec,
            metrics: options.metrics,
            // Restarted empty: readings are dropped until the replay's restore.
            awaitingReplay: restart > 0,
            state: restart === 0 ? checkpoint?.shards[i] : null,
          });
          return options.wrap ? options.wrap(behavior, i) : behavior;
        },
        { capacity: options.capacity ?? 64, supervisor },
      );
    });
  }

  /** Starts the shards, from `options.checkpoint` when it fits. */
  static create(options: ShardSetOptions): ShardSet {
    return new ShardSet(options);
  }

  /**
   * Whether a checkpoint was saved by shards of this shape (count, moving
   * window, event-time windows and their slot layout); one that does not fit
   * is not used: the state is rebuilt by reading the source from its start.
   */
  static fits(
    checkpoint: ShardSetState,
    shape: { count: number; window: number; windowSpec: WindowSpec },
  ): boolean {
    const { sizesMs, graceMs } = shape.windowSpec;
    return checkpoint.shards.length === shape.count &&
      checkpoint.shards.every((s) =>
        s.window === shape.window && s.events?.slotLength === SLOT_LENGTH &&
        s.events.spec.graceMs === graceMs && s.events.spec.sizesMs.join() === sizesMs.join()
      );
  }

  /** Calls `hook(shard)` each time a shard is restarted (it then awaits its replay). */
  onRestart(hook: (shard: number) => void): void {
    this.#restartHooks.push(hook);
  }

  /** Tells `observer` before and after every `rebuild`. */
  observeRebuilds(observer: RebuildObserver): void {
    this.#rebuildObservers.push(observer);
  }

  /** Sensors the router has given an index. */
  get sensorCount(): number {
    return this.#router.sensorCount;
  }

  /** Values dropped because the metric-name cap was reached. */
  get droppedValues(): number {
    return this.#router.droppedValues;
  }

  /**
   * Routes a block of readings and sends each shard its rows, waiting while
   * a mailbox is full (backpressure). With `onlyShard`, only that shard's
   * rows go (a replay). A shard that failed for good loses its readings.
   */
  async deliver(block: ReadingBlock, options: { onlyShard?: number } = {}): Promise<void> {
    const parts = this.#router.split(block, options.onlyShard ?? -1);
    for (let shard = 0; shard < parts.length; shard++) {
      const part = parts[shard];
      if (part) await this.#send(shard, part);
    }
  }

  /** The sensor's source document was deleted: its shard drops it, in order with its readings. */
  async remove(sensorId: string): Promise<void> {
    const at = this.#router.lookup(sensorId);
    if (at) await this.#send(at.shard, { type: "remove", sensor: at.index });
  }

  /**
   * Gives a (restarted) shard its state from `checkpoint` if that fits these
   * shards, else an empty one; readings after it count again. Returns
   * whether the checkpoint was used (the replay then starts at its cursor).
   */
  async restore(shard: number, checkpoint: ShardSetState | null): Promise<boolean> {
    const fits = checkpoint !== null && ShardSet.fits(checkpoint, this.#shape);
    await this.#send(shard, { type: "restore", state: fits ? checkpoint.shards[shard] : null });
    return fits;
  }

  /**
   * Empties every shard and the router, runs `refill` (which delivers the
   * whole state again), and tells the rebuild observers before and after.
   * Resolves with what `refill` resolved with.
   */
  async rebuild<T>(refill: () => Promise<T>): Promise<T> {
    for (const observer of this.#rebuildObservers) await observer.hold();
    for (let shard = 0; shard < this.count; shard++) await this.restore(shard, null);
    this.#router.clear();
    const refilled = await refill();
    for (const observer of this.#rebuildObservers) await observer.newEpoch();
    return refilled;
  }

  /** Every shard's changes since its last flush; null for a shard that did not answer in time. */
  flushAll(options: { timeoutMs?: number } = {}): Promise<(ShardChanges | null)[]> {
    return Promise.all(
      this.#shards.map((shard) =>
        ask<ShardMessage, ShardChanges>(shard, (reply) => ({ type: "flush", reply }), {
          timeoutMs: options.timeoutMs ?? 2_000,
        }).catch(() => null)
      ),
    );
  }

  /**
   * Everything each shard holds, in the shape of a flush, for a fresh mirror
   * (a restarted hub); null for a shard that cannot answer. What the next
   * flush hands over is not cleared.
   */
  stateAll(options: { timeoutMs?: number } = {}): Promise<(ShardChanges | null)[]> {
    return Promise.all(
      this.#shards.map((shard) =>
        ask<ShardMessage, ShardChanges | null>(shard, (reply) => ({ type: "state", reply }), {
          timeoutMs: options.timeoutMs ?? 10_000,
        }).catch(() => null)
      ),
    );
  }

  /**
   * The state as of everything delivered so far, for a checkpoint; null when
   * a shard has none to give (failed, or waiting for its replay). The caller
   * delivers nothing meanwhile, so every shard answers as of the same input.
   */
  async checkpointAll(options: { timeoutMs?: number } = {}): Promise<ShardSetState | null> {
    const router = this.#router.save();
    const shards = await Promise.all(
      this.#shards.map((shard) =>
        ask<ShardMessage, ShardCheckpoint | null>(
          shard,
          (reply) => ({ type: "checkpoint", reply }),
          {
            timeoutMs: options.timeoutMs ?? 10_000,
          },
        ).catch(() => null)
      ),
    );
    if (shards.some((s) => s === null)) return null;
    return { router, shards: shards as ShardCheckpoint[] };
  }

  /**
   * The windows of one sensor's metric and size (an index into the window
   * sizes) that its shard still holds: [] for a sensor no reading reached,
   * null when the shard cannot answer (restarting, failed, or too busy).
   */
  async heldWindows(
    sensorId: string,
    metric: string,
    options: { size: number; timeoutMs?: number },
  ): Promise<HeldWindow[] | null> {
    const at = this.#router.lookup(sensorId);
    if (at === undefined) return [];
    try {
      return await ask<ShardMessage, HeldWindow[] | null>(
        this.#shards[at.shard],
        (reply) => ({ type: "heldWindows", sensor: at.index, metric, size: options.size, reply }),
        { timeoutMs: options.timeoutMs ?? 2_000 },
      );
    } catch {
      return null;
    }
  }

  /** Depth, restarts and failure of each shard. */
  health(): ShardHealth[] {
    return this.#shards.map((s) => ({
      depth: s.depth,
      restarts: s.restarts,
      failed: s.failure !== null,
    }));
  }

  /** True when a shard has failed for good. */
  get failed(): boolean {
    return this.#shards.some((s) => s.failure !== null);
  }

  /** Stops every shard once its mailbox is empty. */
  async stop(): Promise<void> {
    await Promise.all(this.#shards.map((s) => s.stop()));
  }

  async #send(shard: number, message: ShardMessage): Promise<void> {
    try {
      await this.#shards[shard].send(message);
    } catch (error) {
      // A shard that failed for good loses its messages; its failure is already reported.
      if (this.#shards[shard].failure === null) throw error;
    }
  }
}
