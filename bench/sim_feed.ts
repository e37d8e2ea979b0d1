// The simulated feed as the hub sees it, in simulated time: the fleet's
// batches (as the simulator posts them) through the real ingest decoder,
// Router, ShardBehavior and FeedView, one merge per 100 ms tick. Used by
// bench/compact_bytes.ts and tests/compact_bytes_test.ts.
import { Fleet } from "../sim/fleet.ts";
import { BatchEncoder } from "../sim/batch_encoder.ts";
import { decodeIngestBatch } from "../protocol/ingest_codec.ts";
import type { MetricStates } from "../protocol/server_frames.ts";
import type { PreviousValues } from "../protocol/compact_delta.ts";
import { Router } from "../actors/shards/router.ts";
import { ShardBehavior } from "../actors/shards/shard.ts";
import type { ShardChanges } from "../actors/shards/shard_messages.ts";
import { FeedView } from "../actors/hub/feed_view.ts";
import type { TickChanges } from "../actors/hub/feed_view.ts";

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
 * The hub's mirror before a tick's merge, aligned with the tick's updates
 * (FeedView.apply concatenates the shards' updates in order and overwrites
 * values in place, so they are copied first). The hub's own wiring would
 * take them inside the merge, where it already has each slot.
 */
export class PreMergeValues implements PreviousValues {
  has = new Uint8Array(0);
  last = new Float64Array(0);
  avg = new Float64Array(0);
  min = new Float64Array(0);
  max = new Float64Array(0);
  readonly #view: FeedView;

  constructor(view: FeedView) {
    this.#view = view;
  }

  /** Call before `view.apply(changes)`. */
  capture(changes: readonly ({ updates: MetricStates } | null)[]): void {
    let total = 0;
    for (const change of changes) total += change?.updates.length ?? 0;
    if (this.has.length < total) {
      const n = Math.max(total, this.has.length * 2);
      this.has = new Uint8Array(n);
      this.last = new Float64Array(n);
      this.avg = new Float64Array(n);
      this.min = new Float64Array(n);
      this.max = new Float64Array(n);
    }
    const v = this.#view.values;
    let at = 0;
    for (const change of changes) {
      if (!change) continue;
      const u = change.updates;
      for (let i = 0; i < u.length; i++, at++) {
        const slot = this.#view.valueSlot(u.sensor[i], u.metric[i]);
        this.has[at] = slot < 0 ? 0 : 1;
        if (slot < 0) continue;
        this.last[at] = v.last(slot);
        this.avg[at] = v.avg(slot);
        this.min[at] = v.min(slot);
        this.max[at] = v.max(slot);
      }
    }
  }
}

/** A simulated fleet feeding shards and the hub's mirror, tick by tick. */
export class SimFeed {
  readonly view = new FeedView();
  /** The mirror before the last tick's merge, aligned with its updates: the compact encoder's bases. */
  readonly previous = new PreMergeValues(this.view);
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
      () => new ShardBehavior({ window: options.window ?? 50, names: this.#router }),
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
      const rows = this.#router.split(block)[0];
      rows?.shards.forEach((shard, k) =>
        this.#shards[shard].receive({
          type: "readings",
          rows,
          from: rows.shardStart[k],
          to: rows.shardStart[k + 1],
        })
      );
      readings += block.length;
      this.#nextBatchMs += this.#batchEveryMs;
    }
    const changes = this.#shards.map((shard) => {
      let out: ShardChanges | null = null;
      shard.receive({ type: "flush", reply: (c) => (out = c) });
      return out!;
    });
    this.previous.capture(changes);
    this.now = until;
    return { merged: this.view.apply(changes), readings };
  }
}
