import type { MetricEntry, MetricStates, SensorEntry } from "../../protocol/mod.ts";
import type { HeldWindow, WindowStates } from "./event_window_store.ts";
import type { RoutedRows } from "./routed_rows.ts";
import type { ShardImage } from "./shard_image.ts";

/** Readings for one shard: rows `[from, to)` of columns the router filled. */
export interface ShardReadings {
  type: "readings";
  rows: RoutedRows;
  from: number;
  to: number;
}

/** Per sensor (global index): its attention level. */
export interface SensorLevels {
  sensor: Uint32Array;
  level: Uint8Array;
}

/**
 * Everything that changed in a shard since its previous flush. From a shard
 * in this isolate (`--workers 0`) it is one of two objects the shard fills
 * in turn, valid until the flush after next; read it (copy what is kept) at
 * once.
 */
export interface ShardChanges {
  /** Sensors that are new or whose group changed. */
  sensors: SensorEntry[];
  /** Metric names this shard has not reported before. */
  metrics: MetricEntry[];
  /**
   * The latest state of each metric that changed. Only the first `length`
   * entries count: a shard in this isolate hands out its reused columns
   * whole, so they may be longer (`copyStatesAt` copies them).
   */
  updates: MetricStates;
  /**
   * Event-time windows that ended, were revised by late readings, or
   * closed; the first `length` entries, as for `updates`.
   */
  windows: WindowStates;
  /** `[sensor, readings dropped as late so far]` for sensors whose count grew. */
  late: [sensor: number, lateDropped: number][];
  /** `[sensor, status]` for sensors whose status changed. */
  statuses: [sensor: number, status: string][];
  /**
   * Sensors whose attention level from thresholds and status changed (0 ok,
   * 1 warn, 2 critical), as columns (they travel from a worker by transfer);
   * absent from older shards.
   */
  levels?: SensorLevels;
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
 * Asks for the shard's state for checkpoint `seq`: every page, or with
 * `since` ≥ 0 only those changed after checkpoint `since` was taken. Null
 * while it waits for a restore.
 */
export interface ShardSave {
  type: "checkpoint";
  seq: number;
  since: number;
  reply: (image: ShardImage | null) => void;
}

/**
 * Sent after a restart of this shard (or to empty it), ahead of the log
 * replayed from the checkpoint's cursor: readings queued before it are
 * stale and dropped, and the state becomes `image` (empty when null).
 */
export interface ShardRestore {
  type: "restore";
  image: ShardImage | null;
  /** The checkpoint that saved `image` (its pages count as saved by it). Default 0. */
  seq?: number;
}

/**
 * The sensor no longer exists (its source document was deleted): its
 * windows, late count and status are dropped, and the next flush says so.
 * Sent in order with the readings, so readings before it are counted first.
 */
export interface ShardRemove {
  type: "remove";
  /** The sensor's index in this shard (the router's). */
  local: number;
}

/**
 * Asks for the windows of one sensor's metric and size that the shard still
 * holds (open, or closed and not yet flushed), for history that reaches the
 * newest reading; `[]` for a sensor or metric it does not have, null while it
 * waits for a restore.
 */
export interface ShardHeldWindows {
  type: "heldWindows";
  /** The sensor's index in this shard (the router's). */
  local: number;
  /** Global metric index (the router's). */
  metric: number;
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
