// The simulated feed as the hub sees it, in simulated time: the fleet's
// batches (as the simulator posts them) through the real ingest decoder,
// Router, ShardBehavior and FeedView, one merge per 100 ms tick. Used by
// bench/compact_bytes.ts and tests/compact_bytes_test.ts.
import { Fleet } from "../sim/fleet.ts";
import { BatchEncoder } from "../sim/batch_encoder.ts";
import { decodeIngestBatch } from "../protocol/ingest_codec.ts";
import type { MetricStates } from "../protocol/frames.ts";
import type { BaseValues } from "../protocol/compact_delta.ts";
import { Router } from "../actors/router.ts";
import { ShardBehavior } from "../actors/shard.ts";
import type { ShardChanges } from "../actors/shard_messages.ts";
import { FeedView } from "../actors/feed_view.ts";
import type { TickChanges } from "../actors/feed_view.ts";

export const TICK_MS = 100;
/** 2026-01-01: an ordinary epoch time. */
export const START_MS = 1_767_225_600_000;

export interface SimFeedOptions {
  sensors: number;
  /** Readings per second over the fleet. */
  rate: number;
  /** Shard actors. Default 16 (the server's default). */
  shards?: number;
  /** Readings in the count window. Default 50 (the server's default). */
  window?: number;
  /** Readings per posted batch. Default 1000 (the simulator's default). */
  batch?: number;
}

/**
 * The hub's mirror before a tick's merge, for the updates of that tick:
 * FeedView.apply overwrites values in place, so the previous values of the
 * slots a tick updates are copied into a shadow first, stamped with the
 * tick. (Removals move slots; this feed has none. The hub's own wiring
 * should take the previous values inside the merge instead.)
 */
export class PreMergeBase implements BaseValues {
  #shadow = {
    last: new Float64Array(0),
    avg: new Float64Array(0),
    min: new Float64Array(0),
    max: new Float64Array(0),
  };
  #stamp = new Int32Array(0);
  #tick = 0;
  readonly #view: FeedView;

  constructor(view: FeedView) {
    this.#view = view;
  }

  /** Call before `view.apply(changes)`. */
  capture(changes: readonly { updates: MetricStates }[]): void {
    this.#tick++;
    const v = this.#view.valueColumns;
    if (this.#stamp.length < v.last.length) {
      const n = v.last.length;
      this.#shadow = {
        last: new Float64Array(n),
        avg: new Float64Array(n),
        min: new Float64Array(n),
        max: new Float64Array(n),
      };
      this.#stamp = new Int32Array(n);
    }
    for (const { updates: u } of changes) {
      for (let i = 0; i < u.length; i++) {
        const slot = this.#view.valueSlot(u.sensor[i], u.metric[i]);
        if (slot < 0) continue;
        this.#shadow.last[slot] = v.last[slot];
        this.#shadow.avg[slot] = v.avg[slot];
        this.#shadow.min[slot] = v.min[slot];
        this.#shadow.max[slot] = v.max[slot];
        this.#stamp[slot] = this.#tick;
      }
    }
  }

  slot(sensor: number, metric: number): number {
    const slot = this.#view.valueSlot(sensor, metric);
    return slot >= 0 && slot < this.#stamp.length && this.#stamp[slot] === this.#tick ? slot : -1;
  }

  columns() {
    return this.#shadow;
  }
}

/** A simulated fleet feeding shards and the hub's mirror, tick by tick. */
export class SimFeed {
  readonly view = new FeedView();
  /** The mirror before the last tick's merge: the compact encoder's bases. */
  readonly base = new PreMergeBase(this.view);
  /** End of the last tick (simulated ms since epoch). */
  now = START_MS;
  readonly #encoder: BatchEncoder;
  readonly #router: Router;
  readonly #shards: ShardBehavior[];
  readonly #batch: number;
  readonly #batchEveryMs: number;
  #nextBatchMs = START_MS;

  constructor(options: SimFeedOptions) {
    this.#encoder = new BatchEncoder(new Fleet({ sensors: options.sensors, seed: 1 }));
    this.#router = new Router(options.shards ?? 16);
    this.#shards = Array.from(
      { length: this.#router.shardCount },
      () => new ShardBehavior({ window: options.window ?? 50 }),
    );
    this.#batch = options.batch ?? 1000;
    this.#batchEveryMs = (this.#batch / options.rate) * 1000;
  }

  /**
   * Feeds the batches due in the next tick (each stamped with its whole ms
   * of posting, as the simulator does), flushes the shards and merges.
   */
  tick(): { merged: TickChanges | null; readings: number } {
    const until = this.now + TICK_MS;
    let readings = 0;
    while (this.#nextBatchMs < until) {
      const body = this.#encoder.next(this.#batch, Math.floor(this.#nextBatchMs));
      const { block } = decodeIngestBatch(body.bytes as Uint8Array);
      this.#router.split(block).forEach((message, k) => {
        if (message) this.#shards[k].receive(message);
      });
      readings += block.length;
      this.#nextBatchMs += this.#batchEveryMs;
    }
    const changes = this.#shards.map((shard) => {
      let out: ShardChanges | null = null;
      shard.receive({ type: "flush", reply: (c) => (out = c) });
      return out!;
    });
    this.base.capture(changes);
    this.now = until;
    return { merged: this.view.apply(changes), readings };
  }
}
