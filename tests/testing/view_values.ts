import type { FeedView } from "../../actors/hub/feed_view.ts";
import type { MetricState } from "./feed_client.ts";

/** A view's latest values by "sensorId/metric", as `recompute` gives them. */
export function viewValues(view: FeedView): Record<string, MetricState> {
  const snapshot = view.snapshot();
  const ids = new Map(snapshot.sensors.map((s) => [s.index, s.id]));
  const names = new Map(snapshot.metrics.map((m) => [m.index, m.name]));
  const out: Record<string, MetricState> = {};
  const v = snapshot.values;
  for (let i = 0; i < v.length; i++) {
    out[`${ids.get(v.sensor[i])}/${names.get(v.metric[i])}`] = {
      last: v.last[i],
      avg: v.avg[i],
      min: v.min[i],
      max: v.max[i],
      timeMs: v.timeMs[i],
    };
  }
  return out;
}
