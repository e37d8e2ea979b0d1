import type { ReadingBlock } from "../readings/block.ts";
import type { MetricEntry, MetricStates, SensorEntry } from "../protocol/frames.ts";

/** Readings for one shard: rows of a shared block, with global indexes per string. */
export interface ShardReadings {
  type: "readings";
  block: ReadingBlock;
  /** Rows of `block` that belong to this shard, in log order. */
  rows: Uint32Array;
  /** Per string of `block`: its global sensor index, or -1. */
  sensorIndex: Int32Array;
  /** Per string of `block`: its global metric index, or -1 (not a metric, or over the cap). */
  metricIndex: Int32Array;
}

/** Everything that changed in a shard since its previous flush. */
export interface ShardChanges {
  /** Sensors that are new or whose group changed. */
  sensors: SensorEntry[];
  /** Metric names this shard has not reported before. */
  metrics: MetricEntry[];
  updates: MetricStates;
}

/** Asks for the changes since the last flush, coalesced per sensor and metric. */
export interface ShardFlush {
  type: "flush";
  reply: (changes: ShardChanges) => void;
}

/**
 * Sent by the source after a restart of this shard, ahead of the replayed
 * log: readings queued before it are stale and dropped.
 */
export interface ShardReplayStart {
  type: "replay-start";
}

export type ShardMessage = ShardReadings | ShardFlush | ShardReplayStart;
