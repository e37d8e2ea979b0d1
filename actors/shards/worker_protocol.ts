// The messages between the shard set (main thread) and a shard worker. Rows
// and answers carry their typed arrays' buffers in the transfer list.
import type { WindowSpec } from "./event_window_store.ts";
import type { MetricsMeta } from "../../protocol/metric_meta.ts";
import type { PackedRows } from "./routed_rows.ts";
import type { ShardImage } from "./shard_image.ts";

export type ToWorker =
  | {
    t: "init";
    /** The shards this worker hosts, ascending. */
    shards: number[];
    window: number;
    spec: WindowSpec;
    /** Metric metadata (JSON): its thresholds judge readings. */
    metrics: MetricsMeta;
    /** Per hosted shard: its state to start from, or null (empty). */
    images: (ShardImage | null)[];
    imageSeq: number;
    /** Start waiting for a restore (a worker that replaced a dead one). */
    awaitingReplay: boolean;
  }
  | { t: "rows"; packed: PackedRows }
  | { t: "remove"; shard: number; local: number }
  | { t: "restore"; shard: number; image: ShardImage | null; seq?: number }
  | { t: "flush"; id: number }
  | { t: "state"; id: number }
  /** `since` per hosted shard, in the order of `init.shards`; null: that shard is not asked. */
  | { t: "checkpoint"; id: number; seq: number; since: (number | null)[] }
  | { t: "held"; id: number; shard: number; local: number; metric: number; size: number }
  /** The shard failed too often: it drops everything and answers null from now on. */
  | { t: "failed"; shard: number }
  /** Answers once every message before it is done (a stop, a barrier). */
  | { t: "sync"; id: number }
  /** Tests: the worker throws an uncaught error (it dies), or a shard throws at its next rows. */
  | { t: "crash" }
  | { t: "poison"; shard: number };

export type FromWorker =
  /** One `rows` message is done (backpressure). */
  | { t: "ack" }
  | { t: "reply"; id: number; value: unknown }
  /** A shard threw; it was replaced by an empty one that waits for its restore. */
  | { t: "failure"; shard: number; message: string; stack?: string };
