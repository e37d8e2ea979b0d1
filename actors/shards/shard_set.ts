import type { Behavior, FailureReport } from "../runtime/mod.ts";
import type { HeldWindow, WindowSpec } from "./event_window_store.ts";
import { Router } from "./router.ts";
import type { ShardBehavior } from "./shard.ts";
import { fits } from "./shard_state.ts";
import { checkShardImage } from "./shard_image_check.ts";
import type { ShardImage } from "./shard_image.ts";
import type { ShardChanges, ShardMessage } from "./shard_messages.ts";
import { LocalShards } from "./local_shards.ts";
import { WorkerShards } from "./worker_shards.ts";
import type { ShardHealth, ShardHosts } from "./shard_hosts.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";
import type { MetricsMeta } from "../../protocol/metric_meta.ts";

export type { ShardHealth };

/** Everything a checkpoint holds of the shards: the router's indexes and each shard's state. */
export interface ShardSetState {
  router: { sensors: string[]; metrics: string[]; epoch?: number };
  shards: ShardImage[];
}

/** What the hub needs while the shards are emptied and refilled from scratch. */
export interface RebuildObserver {
  /** Before: stop taking the shards' flushes (resolves once none is being taken). */
  hold(): Promise<void>;
  /** After: take the refilled state in as a fresh start. */
  newEpoch(): Promise<void>;
}

/** The sensors and metric names the router has given an index (read on the main thread). */
export interface FleetNames {
  readonly sensorCount: number;
  readonly metricCount: number;
  /** Metric names past which the router drops values. */
  readonly maxMetrics: number;
  /** Values the router dropped because their metric name came past `maxMetrics`. */
  readonly droppedValues: number;
  hasSensor(id: string): boolean;
  /** The router's index of sensor `id` (-1: not known); where the names come from a router. */
  sensorIndex?(id: string): number;
  /** The id of the sensor the router gave index `index` (undefined: none). */
  sensorId?(index: number): string | undefined;
  hasMetric(name: string): boolean;
}

/** The fleet's names, and the group each sensor is in as its shard last reported (a flush behind the log). */
export interface FleetGroups extends FleetNames {
  groupOf(id: string): string | undefined;
  /** Whether a shard is being restored and replayed: its sensors' groups may be behind meanwhile. */
  readonly replaying: boolean;
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
  /** Worker threads the shards run on (`--workers`); 0 (the default): in this isolate. */
  workers?: number;
  /**
   * State to start from; used only when it was saved with the same shape
   * (see `fits`). The shard set takes its shards' pages (to a worker they are
   * transferred) and empties `checkpoint.shards`, so they are not kept twice.
   */
  checkpoint?: ShardSetState | null;
  /** The checkpoint generation that saved `checkpoint` (pages unchanged since are not saved again). */
  checkpointSeq?: number;
  /** Messages waiting per shard (in this isolate) or per worker. Default 64. */
  capacity?: number;
  /** Distinct metric names before further ones are dropped. Default 1024. */
  maxMetrics?: number;
  /** Told about every failure of a shard (e.g. to log it). */
  onFailure?: (report: FailureReport) => void;
  /** Told when `checkpoint` fits but is corrupt, so it is not used (`checkpointRefused`). */
  onCheckpointRefused?: (error: RangeError) => void;
  /**
   * Told when a restarted shard's image in the checkpoint fails its check
   * (`restore`): the shard then starts empty and is rebuilt from the log's
   * start, which holds only what `--retention` kept.
   */
  onShardImageRefused?: (shard: number, error: RangeError) => void;
  /** Restarts allowed per shard within `withinMs` (default 5 in 60 s). */
  maxRestarts?: number;
  withinMs?: number;
  /** Wraps each shard's behavior (tests inject failures or delays); in this isolate only. */
  wrap?: (behavior: ShardBehavior, shard: number) => Behavior<ShardMessage>;
}

/**
 * The shard stage as one parent: it owns the shards (in this isolate or on
 * worker threads, see `ShardHosts`) and their supervision, the router that
 * gives sensors and metrics their indexes and picks a shard per sensor, and
 * the restore from a checkpoint. Everything goes in and out as messages:
 * readings are delivered, flushes, states, checkpoints and held windows are
 * asked for, and answers come back with the router's names filled in. A
 * shard that throws (or whose worker dies) is restarted empty and waits for
 * its replay; whoever feeds the shards (the source) is told through
 * `onRestart` and replays it.
 */
export class ShardSet {
  readonly count: number;
  /** Worker threads the shards run on; 0: this isolate. */
  readonly workers: number;
  #restored: boolean;
  readonly #onShardImageRefused: ((shard: number, error: RangeError) => void) | undefined;
  #checkpointRefused: RangeError | null = null;
  readonly #router: Router;
  readonly #hosts: ShardHosts;
  readonly #restartHooks: ((shard: number) => void)[] = [];
  readonly #reportHooks: (() => void)[] = [];
  readonly #rebuildObservers: RebuildObserver[] = [];
  readonly #shape: { count: number; window: number; windowSpec: WindowSpec };
  /** Per shard: the last checkpoint asked for before it was last restored (it then needs a full save). */
  readonly #restoredAfter: number[];
  /** Shards restored whose replay has not ended (`replayed`). */
  readonly #replaying = new Set<number>();
  /**
   * Replaying shards whose replay is done, until a flush asked after it has
   * named their groups: by shard, a number for that replay (a shard restored
   * and replayed again while a flush is out must wait for the next) and the
   * answered flushes still to come. Two: a flush the hub gave up on before
   * the replay answers as the next one (`ShardHosts.flush`), so only the
   * second answer after the replay surely was asked after it.
   */
  readonly #flushDue = new Map<number, { replay: number; flushes: number }>();
  #replays = 0;
  #lastSeq = -1;

  /**
   * `images`: true, the shards start from the checkpoint's shards (checked
   * whole before any takes them); false, they start empty (the checkpoint's
   * router is restored when it fits: `open` restores the shards after).
   */
  private constructor(options: ShardSetOptions, images: boolean) {
    const { count, window, windowSpec } = options;
    let checkpoint = options.checkpoint && ShardSet.fits(options.checkpoint, options)
      ? options.checkpoint
      : null;
    this.count = count;
    this.#shape = { count, window, windowSpec };
    this.#restoredAfter = new Array(count).fill(-Infinity);
    this.#onShardImageRefused = options.onShardImageRefused;
    // The generation the state may start from counts as asked: a shard restored before this
    // process asks any (its pages then count as saved by none) is saved whole by the next.
    this.#lastSeq = options.checkpointSeq ?? -1;
    const routerOptions = { maxMetrics: options.maxMetrics, metrics: options.metrics };
    let router: Router | null = null;
    if (checkpoint) {
      // Checked whole before any shard takes it: a corrupt one is not used (the log is replayed).
      try {
        router = Router.restore(count, checkpoint.router, routerOptions);
        if (images) {
          for (let shard = 0; shard < count; shard++) {
            this.#check(checkpoint.shards[shard], shard, router);
          }
        }
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        this.#checkpointRefused = error;
        checkpoint = null;
        router = null;
        options.onCheckpointRefused?.(error);
      }
    }
    this.#restored = checkpoint !== null && images;
    this.#router = router ?? new Router(count, routerOptions);
    const common = {
      count,
      window,
      windowSpec,
      metrics: options.metrics ?? {},
      images: checkpoint && images ? [...checkpoint.shards] : new Array(count).fill(null),
      imageSeq: options.checkpointSeq ?? 0,
      capacity: options.capacity,
      onFailure: options.onFailure,
      onRestart: (shard: number) => {
        this.#restoredAfter[shard] = Infinity;
        for (const hook of this.#restartHooks) hook(shard);
      },
      maxRestarts: options.maxRestarts,
      withinMs: options.withinMs,
    };
    const workers = options.workers ?? 0;
    this.workers = workers > 0 && !options.wrap ? workers : 0;
    this.#hosts = this.workers > 0
      ? new WorkerShards(this.workers, common)
      : new LocalShards({ ...common, names: this.#router, wrap: options.wrap });
    // The shards hold the state now: the checkpoint's pages can go.
    if (checkpoint && images) checkpoint.shards.length = 0;
  }

  /** Starts the shards, from `options.checkpoint` when it fits. */
  static create(options: ShardSetOptions): ShardSet {
    return new ShardSet(options, true);
  }

  /**
   * Starts the shards from `options.checkpoint` when it fits, as `create`
   * does, but with each shard's pages given apart (`images`, in shard order:
   * the checkpoint's shards need their headers only), so one shard restores
   * while the next is still being read. A shard that cannot be read or fails
   * its check refuses the whole checkpoint: the shards restored before it
   * are emptied and the router starts over, as if it had been refused whole.
   * Resolves once every shard has been sent its state. It takes each shard's
   * pages (its entry in `images` is set to null), so each can go once restored.
   */
  static async open(
    options: ShardSetOptions,
    images: (Promise<ShardImage> | null)[] | null,
  ): Promise<ShardSet> {
    if (!images) return new ShardSet(options, true);
    const set = new ShardSet(options, false);
    const checkpoint = options.checkpoint;
    // Not fitting, or its router refused: the shards stay empty.
    if (!checkpoint || !ShardSet.fits(checkpoint, options) || set.#checkpointRefused) return set;
    const seq = options.checkpointSeq ?? 0;
    for (let shard = 0; shard < set.count; shard++) {
      try {
        const pending = images[shard];
        images[shard] = null;
        const image = await pending?.catch((error) => {
          throw new RangeError(`Cannot restore shard ${shard}: ${(error as Error).message}`, {
            cause: error,
          });
        });
        if (!image) throw new RangeError(`Cannot restore shard ${shard}: it was not given`);
        set.#check(image, shard, set.#router);
        await set.#hosts.restore(shard, image, seq);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        for (let before = 0; before < shard; before++) await set.#hosts.restore(before, null);
        set.#router.clear();
        set.#checkpointRefused = error;
        options.onCheckpointRefused?.(error);
        return set;
      }
    }
    set.#restored = true;
    return set;
  }

  /** Whether the shards and router started from the checkpoint given. */
  get restored(): boolean {
    return this.#restored;
  }

  /** Why the checkpoint given was not used though it fits (it is corrupt); null if not refused. */
  get checkpointRefused(): RangeError | null {
    return this.#checkpointRefused;
  }

  /**
   * Whether a checkpoint was saved by shards of this shape (count, moving
   * window, event-time windows and their layout); one that does not fit is
   * not used: the state is rebuilt by reading the source from its start.
   */
  static fits(
    checkpoint: ShardSetState,
    shape: { count: number; window: number; windowSpec: WindowSpec },
  ): boolean {
    return checkpoint.shards.length === shape.count &&
      checkpoint.shards.every((s) => fits(s.header, shape));
  }

  /** Calls `hook(shard)` each time a shard is restarted (it then awaits its replay). */
  onRestart(hook: (shard: number) => void): void {
    this.#restartHooks.push(hook);
  }

  /**
   * Calls `hook` each time the router has noted a flush's (or state's) groups,
   * before the next: whoever keeps its own view of them (ingest's claims) sees
   * every group reported, not only the last.
   */
  onGroupsReported(hook: () => void): void {
    this.#reportHooks.push(hook);
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

  /** The sensors and metric names the fleet holds, for the limits ingest keeps to. */
  get names(): FleetGroups {
    const router = this.#router;
    const replaying = this.#replaying;
    return {
      get sensorCount() {
        return router.sensorCount;
      },
      get metricCount() {
        return router.metricCount;
      },
      get maxMetrics() {
        return router.maxMetrics;
      },
      get droppedValues() {
        return router.droppedValues;
      },
      hasSensor: (id) => router.hasSensor(id),
      sensorIndex: (id) => router.indexOf(id),
      sensorId: (index) => router.sensorId(index),
      hasMetric: (name) => router.metricIndex(name) !== undefined,
      groupOf: (id) => router.groupOf(id),
      get replaying() {
        return replaying.size > 0;
      },
    };
  }

  /**
   * Routes blocks of readings (in log order) and sends each host its rows,
   * one message per host, waiting while one is full (backpressure). With
   * `only`, only those shards' rows go (a replay). A shard that failed for
   * good loses its readings.
   */
  async deliver(
    blocks: ReadingBlock | readonly ReadingBlock[],
    options: { only?: ReadonlySet<number> } = {},
  ): Promise<void> {
    const parts = this.#router.split(blocks, { hosts: this.#hosts.hosts, only: options.only });
    for (let host = 0; host < parts.length; host++) {
      const part = parts[host];
      if (part) await this.#hosts.deliver(host, part);
    }
  }

  /** The sensor's source document was deleted: its shard drops it, in order with its readings. */
  async remove(sensorId: string): Promise<void> {
    const at = this.#router.lookup(sensorId);
    if (at) await this.#hosts.remove(at.shard, at.local);
  }

  /**
   * Gives a (restarted) shard its state from `checkpoint` if that fits these
   * shards, else an empty one; readings after it count again. Returns
   * whether the checkpoint was used (the replay then starts at its cursor).
   */
  async restore(shard: number, checkpoint: ShardSetState | null): Promise<boolean> {
    let fits = checkpoint !== null && ShardSet.fits(checkpoint, this.#shape);
    if (fits) {
      try {
        this.#check(checkpoint!.shards[shard], shard, this.#router);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        fits = false;
        this.#onShardImageRefused?.(shard, error);
      }
    }
    this.#restoredAfter[shard] = this.#lastSeq;
    this.#replaying.add(shard);
    this.#flushDue.delete(shard);
    await this.#hosts.restore(shard, fits ? checkpoint!.shards[shard] : null);
    return fits;
  }

  /**
   * The shards `restore`d have been given the log (or a rebuild's refill)
   * again up to where the others are. They count as replaying until their
   * next flush has come back: only then does the router know their
   * sensors' groups (`#named`).
   */
  replayed(shards: Iterable<number>): void {
    for (const shard of shards) {
      if (this.#replaying.has(shard)) {
        this.#flushDue.set(shard, { replay: ++this.#replays, flushes: 2 });
      }
    }
  }

  /**
   * The source will `rebuild` before the shards hold it (a MongoDB first
   * start): they count as replaying from now, not only once the rebuild
   * empties them, so nothing judges by the empty router meanwhile (the
   * source may be down, or connecting, for a while first).
   */
  rebuildDue(): void {
    for (let shard = 0; shard < this.count; shard++) this.#replaying.add(shard);
  }

  /** Throws RangeError unless `image` can be restored into `shard` as `router` places its sensors. */
  #check(image: ShardImage, shard: number, router: Router): void {
    const { window, windowSpec } = this.#shape;
    checkShardImage(image, { window, spec: windowSpec }, {
      owns: (global, local) => router.isAt(global, shard, local),
    });
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
    // The refill is the whole state again: every shard has had its "replay".
    this.replayed(Array.from({ length: this.count }, (_, shard) => shard));
    for (const observer of this.#rebuildObservers) await observer.newEpoch();
    return refilled;
  }

  /** Every shard's changes since its last flush; null for a shard that did not answer in time. */
  async flushAll(options: { timeoutMs?: number } = {}): Promise<(ShardChanges | null)[]> {
    const due = [...this.#flushDue].map(([shard, d]) => [shard, d.replay] as [number, number]);
    return this.#named(await this.#hosts.flush(options.timeoutMs ?? 2_000), due);
  }

  /**
   * Everything each shard holds, in the shape of a flush, for a fresh mirror
   * (a restarted hub); null for a shard that cannot answer. What the next
   * flush hands over is not cleared.
   */
  async stateAll(options: { timeoutMs?: number } = {}): Promise<(ShardChanges | null)[]> {
    const due = [...this.#flushDue].map(([shard, d]) => [shard, d.replay] as [number, number]);
    return this.#named(await this.#hosts.state(options.timeoutMs ?? 10_000), due);
  }

  /**
   * The state as of everything delivered so far, for checkpoint `seq`; null
   * when a shard has none to give (failed, or waiting for its replay). The
   * caller delivers nothing meanwhile, so every shard answers as of the same
   * input. With `since` (the last checkpoint stored), a shard gives only the
   * pages that changed after it was taken, unless it was restored since.
   */
  async checkpointAll(
    options: { seq?: number; since?: number; timeoutMs?: number } = {},
  ): Promise<ShardSetState | null> {
    const seq = options.seq ?? this.#lastSeq + 1;
    const since = options.since ?? -1;
    const perShard = this.#restoredAfter.map((after) => (since >= 0 && after < since ? since : -1));
    this.#lastSeq = Math.max(this.#lastSeq, seq);
    const router = this.#router.save();
    const shards = await this.#hosts.checkpoint(seq, perShard, options.timeoutMs ?? 10_000);
    if (shards.some((s) => s === null)) return null;
    return { router, shards: shards as ShardImage[] };
  }

  /**
   * One shard's state as of everything delivered so far, for checkpoint
   * `seq` (a round asks the shards one by one, delivering between them);
   * null when it has none to give. `since` as in `checkpointAll`. The
   * round's router is taken after its last shard (`routerState`): ids are
   * only appended, so it places every sensor an earlier image holds.
   */
  async checkpointShard(
    shard: number,
    options: { seq: number; since?: number; timeoutMs?: number },
  ): Promise<ShardImage | null> {
    const since = options.since ?? -1;
    const after = this.#restoredAfter[shard];
    this.#lastSeq = Math.max(this.#lastSeq, options.seq);
    return await this.#hosts.checkpointOne(
      shard,
      options.seq,
      since >= 0 && after < since ? since : -1,
      options.timeoutMs ?? 10_000,
    );
  }

  /** The router's indexes as a checkpoint holds them. */
  routerState(): ShardSetState["router"] {
    return this.#router.save();
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
    const metricIndex = this.#router.metricIndex(metric);
    if (at === undefined || metricIndex === undefined) return [];
    return await this.#hosts.heldWindows(
      at.shard,
      { local: at.local, metric: metricIndex, size: options.size },
      options.timeoutMs ?? 2_000,
    );
  }

  /** Depth, restarts and failure of each shard. */
  health(): ShardHealth[] {
    return this.#hosts.health();
  }

  /** True when a shard has failed for good. */
  get failed(): boolean {
    return this.health().some((s) => s.failed);
  }

  /** Tests: kills the worker that hosts `shard` (no-op in this isolate). */
  crashWorker(shard: number, how: "throw" | "terminate" = "throw"): void {
    if (this.#hosts instanceof WorkerShards) this.#hosts.crashWorker(shard, how);
  }

  /** Tests: on a worker, `shard` throws when its next rows arrive. */
  poison(shard: number): void {
    if (this.#hosts instanceof WorkerShards) this.#hosts.poison(shard);
  }

  /** Stops every shard once what was sent to it is done. */
  async stop(): Promise<void> {
    await this.#hosts.stop();
  }

  /** Answers from workers name sensors and metrics by index only: the router's names go in. */
  /** Notes the changes' groups (and names, from workers); `due`: the replayed shards asked. */
  #named(
    changes: (ShardChanges | null)[],
    due: [shard: number, replay: number][],
  ): (ShardChanges | null)[] {
    const router = this.#router;
    const named = this.workers > 0;
    for (const c of changes) {
      if (!c) continue;
      // The router learns each sensor's group from its shard: ingest asks it whose a sensor is.
      for (const sensor of c.removed ?? []) router.noteGroup(sensor, null);
      const sensors = c.sensors;
      for (let j = 0; j < sensors.length; j++) {
        const s = sensors[j];
        if (named) s.id = router.sensorId(s.index) ?? "";
        router.noteGroup(s.index, s.group);
      }
      if (named) { for (const m of c.metrics) m.name = router.metricName(m.index) ?? ""; }
    }
    for (const hook of this.#reportHooks) hook();
    const health = due.length > 0 && changes.includes(null) ? this.#hosts.health() : null;
    for (const [shard, replay] of due) {
      const d = this.#flushDue.get(shard);
      if (d?.replay !== replay) continue; // restored again meanwhile: a later flush settles it
      // A shard failed for good never names its groups: waiting for it would hold every
      // scoped writer off for as long as the process lives.
      if (changes[shard] === null && !health?.[shard]?.failed) continue;
      if (changes[shard] !== null && --d.flushes > 0) continue;
      this.#flushDue.delete(shard);
      this.#replaying.delete(shard);
    }
    return changes;
  }
}
