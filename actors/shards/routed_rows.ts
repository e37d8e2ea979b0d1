/**
 * Readings routed to shards, by column, rows grouped by shard: what the
 * router hands a shard (or a worker hosting several). Every column lives in
 * one ArrayBuffer, so a message to a worker transfers it instead of copying;
 * group and status strings travel as one small table per message. Sensors
 * are named by index only: the router keeps their ids.
 */
export interface RoutedRows {
  /** Rows. */
  readonly length: number;
  /** Per row: the sensor's index in its shard (dense, in order of first appearance there). */
  readonly local: Uint32Array;
  /** Per row: the sensor's global index (the router's). */
  readonly sensor: Uint32Array;
  /** Per row: its group and status as indexes into `strings` (`strings[0]` is ""). */
  readonly group: Uint32Array;
  readonly status: Uint32Array;
  readonly timeMs: Float64Array;
  /**
   * Per row: when the server accepted it (its block's `acceptedMs`; Infinity
   * when not recorded): the shard's watermark does not move past it.
   */
  readonly acceptedMs: Float64Array;
  /** Per row: where its values start in `metric`/`value`; one more entry ends the last row. */
  readonly valueStart: Uint32Array;
  /** Per value: the metric's global index, and the value. */
  readonly metric: Uint16Array;
  readonly value: Float64Array;
  /** Per value: the thresholds that judge it (`ThresholdTable`; 0: none). */
  readonly judge: Uint16Array;
  readonly strings: readonly string[];
  /** Shards with rows here, and where each one's rows start; `shardStart[k + 1]` ends shard `shards[k]`'s. */
  readonly shards: Uint16Array;
  readonly shardStart: Uint32Array;
  /** The one buffer behind every column. */
  readonly buffer: ArrayBuffer;
}

/** What crosses to a worker: the buffer (transferred) and what is needed to see its columns again. */
export interface PackedRows {
  buffer: ArrayBuffer;
  rows: number;
  values: number;
  shardCount: number;
  strings: string[];
}

/** Byte offsets of each column in the buffer of `rows` rows, `values` values and `shardCount` shards. */
function layout(rows: number, values: number, shardCount: number) {
  // Float64 columns first (8-aligned), then 4-byte, then 2-byte columns.
  const timeMs = 0;
  const acceptedMs = timeMs + rows * 8;
  const value = acceptedMs + rows * 8;
  const local = value + values * 8;
  const sensor = local + rows * 4;
  const group = sensor + rows * 4;
  const status = group + rows * 4;
  const valueStart = status + rows * 4;
  const shardStart = valueStart + (rows + 1) * 4;
  const metric = shardStart + (shardCount + 1) * 4;
  const judge = metric + values * 2;
  const shards = judge + values * 2;
  const end = shards + shardCount * 2;
  return {
    timeMs,
    acceptedMs,
    value,
    local,
    sensor,
    group,
    status,
    valueStart,
    shardStart,
    metric,
    judge,
    shards,
    end,
  };
}

/** Empty columns over a fresh buffer, for the router to fill. */
export function allocateRows(
  rows: number,
  values: number,
  shardCount: number,
  strings: readonly string[],
): RoutedRows {
  const at = layout(rows, values, shardCount);
  return view(new ArrayBuffer(at.end), { rows, values, shardCount, strings });
}

/** The columns over a packed buffer (the receiving side of `pack`). */
export function unpackRows(packed: PackedRows): RoutedRows {
  return view(packed.buffer, {
    rows: packed.rows,
    values: packed.values,
    shardCount: packed.shardCount,
    strings: packed.strings,
  });
}

/** What to post: the buffer goes in the transfer list. */
export function packRows(rows: RoutedRows): PackedRows {
  return {
    buffer: rows.buffer,
    rows: rows.length,
    values: rows.metric.length,
    shardCount: rows.shards.length,
    strings: rows.strings as string[],
  };
}

function view(
  buffer: ArrayBuffer,
  n: { rows: number; values: number; shardCount: number; strings: readonly string[] },
): RoutedRows {
  const { rows, values, shardCount } = n;
  const at = layout(rows, values, shardCount);
  return {
    length: rows,
    timeMs: new Float64Array(buffer, at.timeMs, rows),
    acceptedMs: new Float64Array(buffer, at.acceptedMs, rows),
    value: new Float64Array(buffer, at.value, values),
    local: new Uint32Array(buffer, at.local, rows),
    sensor: new Uint32Array(buffer, at.sensor, rows),
    group: new Uint32Array(buffer, at.group, rows),
    status: new Uint32Array(buffer, at.status, rows),
    valueStart: new Uint32Array(buffer, at.valueStart, rows + 1),
    shardStart: new Uint32Array(buffer, at.shardStart, shardCount + 1),
    metric: new Uint16Array(buffer, at.metric, values),
    judge: new Uint16Array(buffer, at.judge, values),
    shards: new Uint16Array(buffer, at.shards, shardCount),
    strings: n.strings,
    buffer,
  };
}
