import type { FailureReport } from "../runtime/mod.ts";
import type { HeldWindow, WindowSpec } from "./event_window_store.ts";
import type { MetricsMeta } from "../../protocol/metric_meta.ts";
import type { RoutedRows } from "./routed_rows.ts";
import type { ShardImage } from "./shard_image.ts";
import type { ShardChanges } from "./shard_messages.ts";

/** Health figures of one shard. */
export interface ShardHealth {
  /** Messages waiting for it (on a worker: for the worker that hosts it). */
  depth: number;
  restarts: number;
  /** Stopped for good: it failed too often. */
  failed: boolean;
}

/** What every host of shards is made from. */
export interface ShardHostsOptions {
  count: number;
  window: number;
  windowSpec: WindowSpec;
  /** Metric metadata: its thresholds judge readings (the router's judges index them). */
  metrics: MetricsMeta;
  /** Per shard, the state to start from (null: empty), saved by checkpoint `imageSeq`. */
  images: (ShardImage | null)[];
  imageSeq: number;
  /** Messages waiting per shard (in this isolate) or per worker before senders wait. Default 64. */
  capacity?: number;
  /** Told about every failure of a shard (e.g. to log it). */
  onFailure?: (report: FailureReport) => void;
  /** A shard was restarted empty: it waits for its restore and replay. */
  onRestart: (shard: number) => void;
  /** Restarts allowed per shard within `withinMs` (default 5 in 60 s). */
  maxRestarts?: number;
  withinMs?: number;
}

/**
 * Where the shards run: in this isolate (`LocalShards`, one actor each) or
 * on worker threads (`WorkerShards`). The shard set routes, names and
 * supervises through this face only; every answer is per shard, null for one
 * that did not answer (failed, restarting, or too slow).
 */
export interface ShardHosts {
  /** Hosts the router groups rows by: shard `s` is on host `s % hosts`. */
  readonly hosts: number;
  /** Hands a host its rows (grouped by shard), waiting while it is full (backpressure). */
  deliver(host: number, rows: RoutedRows): Promise<void>;
  remove(shard: number, local: number): Promise<void>;
  /**
   * Replaces a shard's state (empty when null), saved by checkpoint `seq`
   * (default 0); readings it dropped while waiting count again.
   */
  restore(shard: number, image: ShardImage | null, seq?: number): Promise<void>;
  flush(timeoutMs: number): Promise<(ShardChanges | null)[]>;
  state(timeoutMs: number): Promise<(ShardChanges | null)[]>;
  /** Each shard's image for checkpoint `seq`, pages changed since `since[shard]` (-1: all). */
  checkpoint(seq: number, since: number[], timeoutMs: number): Promise<(ShardImage | null)[]>;
  /** One shard's image for checkpoint `seq` (a round asks them one by one); null if none. */
  checkpointOne(
    shard: number,
    seq: number,
    since: number,
    timeoutMs: number,
  ): Promise<ShardImage | null>;
  heldWindows(
    shard: number,
    query: { local: number; metric: number; size: number },
    timeoutMs: number,
  ): Promise<HeldWindow[] | null>;
  health(): ShardHealth[];
  /** Stops every shard once what was sent to it is done. */
  stop(): Promise<void>;
}
