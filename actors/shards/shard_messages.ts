import type { ReadingBlock } from "../../protocol/reading_block.ts";
import type { MetricEntry, MetricStates, SensorEntry } from "../../protocol/mod.ts";
import type { HeldWindow, WindowSpec, WindowStates } from "./event_window_store.ts";

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
  /** Event-time windows that ended, were revised by late readings, or closed. */
  windows: WindowStates;
  /** `[sensor, readings dropped as late so far]` for sensors whose count grew. */
  late: [sensor: number, lateDropped: number][];
  /** `[sensor, status]` for sensors whose status changed. */
  statuses: [sensor: number, status: string][];
  /**
   * `[sensor, level]` for sensors whose attention level from thresholds and
   * status changed (0 ok, 1 warn, 2 critical); absent from older shards.
   */
  levels?: [sensor: number, level: number][];
  /** Sensors removed since the last flush (a removed sensor may also be re-added in `sensors`). */
  removed: number[];
}

/**
 * Asks for everything the shard holds, in the shape of a flush (every
 * sensor, metric name, value, late count and status, and the ended windows
 * it still holds), without clearing what the next flush hands over: for a
 * fresh mirror (a restarted hub). Null while it waits for a restore.
 */
export interface ShardState {
  type: "state";
  reply: (state: ShardChanges | null) => void;
}

/** Asks for the changes since the last flush, coalesced per sensor and metric. */
export interface ShardFlush {
  type: "flush";
  reply: (changes: ShardChanges) => void;
}

/**
 * A shard's whole state: its sensors, the metric names it knows, and per
 * metric `[sensor, metric, ...MovingWindow.save record, ...event-time slots]`
 * numbers, with the event-window store's watermark state.
 */
export interface ShardCheckpoint {
  window: number;
  sensors: [index: number, id: string, group: string][];
  metrics: [index: number, name: string][];
  windows: Float64Array;
  events: {
    spec: WindowSpec;
    /** Numbers per window slot (the layout of the saved slots). */
    slotLength: number;
    /** Newest event time seen; null before the first reading (JSON has no -Infinity). */
    newestMs: number | null;
    lateDropped: number;
    late: [sensor: number, lateDropped: number][];
    /** Closed windows not yet flushed (EventWindowStore.savePending); absent in older checkpoints. */
    pending?: number[];
  };
  /** `[sensor, status, its event time]` of sensors with a status. */
  statuses?: [sensor: number, status: string, timeMs: number][];
  /**
   * Per metric with a window: `[sensor, metric, ...ThresholdLevels record]`
   * (NaN may come back as null from JSON).
   */
  thresholdLevels?: (number | null)[];
}

/** Asks for the shard's state; null while it waits for a restore. */
export interface ShardSave {
  type: "checkpoint";
  reply: (state: ShardCheckpoint | null) => void;
}

/**
 * Sent by the source after a restart of this shard, ahead of the log replayed
 * from the checkpoint's cursor: readings queued before it are stale and
 * dropped, and the state becomes `state` (empty when null).
 */
export interface ShardRestore {
  type: "restore";
  state: ShardCheckpoint | null;
}

/**
 * The sensor no longer exists (its source document was deleted): its
 * windows, late count and status are dropped, and the next flush says so.
 * Sent in order with the readings, so readings before it are counted first.
 */
export interface ShardRemove {
  type: "remove";
  /** Global sensor index (the router's). */
  sensor: number;
}

/**
 * Asks for the windows of one sensor's metric and size that the shard still
 * holds (open, or closed and not yet flushed), for history that reaches the
 * newest reading; `[]` for a sensor or metric it does not have, null while it
 * waits for a restore.
 */
export interface ShardHeldWindows {
  type: "heldWindows";
  /** Global sensor index (the router's). */
  sensor: number;
  metric: string;
  /** Index into `WindowSpec.sizesMs`. */
  size: number;
  reply: (windows: HeldWindow[] | null) => void;
}

export type ShardMessage =
  | ShardReadings
  | ShardFlush
  | ShardState
  | ShardSave
  | ShardRestore
  | ShardRemove
  | ShardHeldWindows;
