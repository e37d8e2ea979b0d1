import type { ShardChanges } from "../../actors/shards/shard_messages.ts";
import type { SensorEntry } from "../../protocol/columns.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";

/**
 * A shard flush of one metric, "t": `values` are [sensor, last] (avg, min and
 * max equal to last), stamped `timeMs(last)` (default 1,000); no windows.
 */
export function metricFlush(o: {
  sensors?: SensorEntry[];
  values?: [number, number][];
  removed?: number[];
  late?: [number, number][];
  timeMs?: (last: number) => number;
  /** False: the flush names no metric (it was named before). */
  namesMetric?: boolean;
}): ShardChanges {
  const values = o.values ?? [];
  const updates = allocateStates(values.length);
  values.forEach(([sensor, last], i) => {
    updates.sensor[i] = sensor;
    updates.last[i] =
      updates.avg[i] =
      updates.min[i] =
      updates.max[i] =
        last;
    updates.timeMs[i] = o.timeMs ? o.timeMs(last) : 1_000;
  });
  return {
    sensors: o.sensors ?? [],
    metrics: o.namesMetric === false ? [] : [{ index: 0, name: "t" }],
    updates,
    windows: allocateWindowStates(0),
    late: o.late ?? [],
    statuses: [],
    removed: o.removed ?? [],
  };
}
