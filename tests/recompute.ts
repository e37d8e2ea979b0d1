// An independent, naive recomputation of what the feed should show after a
// list of readings in log order: used to check the whole pipeline.
import type { MetricState } from "./feed_client.ts";

export interface PlainReading {
  sensorId: string;
  group?: string;
  timeMs: number;
  values: Record<string, number>;
}

export function recompute(
  readings: readonly PlainReading[],
  window = 50,
): Record<string, MetricState> {
  const history = new Map<string, { values: number[]; times: number[] }>();
  for (const r of readings) {
    for (const [metric, value] of Object.entries(r.values)) {
      const key = `${r.sensorId}/${metric}`;
      const h = history.get(key) ?? { values: [], times: [] };
      h.values.push(value);
      h.times.push(r.timeMs);
      history.set(key, h);
    }
  }
  const state: Record<string, MetricState> = {};
  for (const key of [...history.keys()].sort()) {
    const { values, times } = history.get(key)!;
    let newest = 0;
    for (let i = 1; i < times.length; i++) if (times[i] >= times[newest]) newest = i;
    const recent = values.slice(-window);
    state[key] = {
      last: values[newest],
      avg: recent.reduce((a, b) => a + b, 0) / recent.length,
      min: Math.min(...values),
      max: Math.max(...values),
      timeMs: times[newest],
    };
  }
  return state;
}

/** True when two states agree, with a relative tolerance for the average. */
export function sameState(a: Record<string, MetricState>, b: Record<string, MetricState>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = a[k], y = b[k];
    return y !== undefined && x.last === y.last && x.min === y.min && x.max === y.max &&
      x.timeMs === y.timeMs && Math.abs(x.avg - y.avg) <= 1e-9 * Math.max(1, Math.abs(y.avg));
  });
}

/** Polls `check` until it is true or `timeoutMs` passes. */
export async function eventually(
  check: () => boolean,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
