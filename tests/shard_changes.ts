// Builds one shard flush by hand, for tests that feed a FeedView (and what
// hangs off its TickChanges) without running shards.
import { allocateStates, allocateWindowStates } from "../protocol/columns.ts";
import type { ShardChanges } from "../actors/shards/shard_messages.ts";
import type { SensorEntry } from "../protocol/server_frames.ts";

/** One metric state: `last` is also avg, min and max unless given. */
export interface StateRow {
  sensor: number;
  metric: number;
  last: number;
  avg?: number;
  min?: number;
  max?: number;
  timeMs: number;
}

export function shardChanges(
  parts: {
    sensors?: SensorEntry[];
    metrics?: string[];
    updates?: StateRow[];
    removed?: number[];
  },
): ShardChanges {
  const rows = parts.updates ?? [];
  const updates = allocateStates(rows.length);
  rows.forEach((r, i) => {
    updates.sensor[i] = r.sensor;
    updates.metric[i] = r.metric;
    updates.last[i] = r.last;
    updates.avg[i] = r.avg ?? r.last;
    updates.min[i] = r.min ?? r.last;
    updates.max[i] = r.max ?? r.last;
    updates.timeMs[i] = r.timeMs;
  });
  return {
    sensors: parts.sensors ?? [],
    metrics: (parts.metrics ?? []).map((name, index) => ({ index, name })),
    updates,
    windows: allocateWindowStates(0),
    late: [],
    statuses: [],
    removed: parts.removed ?? [],
  };
}
