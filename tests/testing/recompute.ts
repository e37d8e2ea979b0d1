// An independent, naive recomputation of what the feed should show after a
// list of readings in log order: used to check the whole pipeline. Per sensor
// and metric: avg, min and max of its last `window` readings in log order (late
// ones included), last = the newest event time (a tie goes to the later one).
import type { MetricState } from "./feed_client.ts";

export interface PlainReading {
  sensorId: string;
  group?: string;
  timeMs: number;
  values: Record<string, number>;
  /** "" or absent: the reading has no status. */
  status?: string;
  /** When the server accepted it (its log chunk's `accepted_ms`); absent: not recorded. */
  acceptedMs?: number;
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
      // avg, min and max describe the same readings: the last `window` in log order.
      min: Math.min(...recent),
      max: Math.max(...recent),
      timeMs: times[newest],
    };
  }
  return state;
}

/**
 * Each sensor's status: that of its reading with the newest event time among
 * those that had one (on a tie, the later arrival); null when none had one.
 */
export function recomputeStatus(readings: readonly PlainReading[]): Map<string, string | null> {
  const newest = new Map<string, { status: string; timeMs: number }>();
  const out = new Map<string, string | null>();
  for (const r of readings) {
    if (!out.has(r.sensorId)) out.set(r.sensorId, null);
    if (!r.status) continue;
    const seen = newest.get(r.sensorId);
    if (seen === undefined || r.timeMs >= seen.timeMs) {
      newest.set(r.sensorId, { status: r.status, timeMs: r.timeMs });
      out.set(r.sensorId, r.status);
    }
  }
  return out;
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

/** Polls `check` (which may ask over the network) until it is true or `timeoutMs` passes. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface WindowRecount {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Event-time windows recomputed naively: readings in log order, split by
 * shard (`shardOf`); per shard, a reading is late when its smallest window
 * ended at or before the shard's newest event time so far minus the grace,
 * each reading's time counted no later than when it was accepted.
 * Returns windows by "sensorId/metric/sizeMs/startMs" and late counts by sensor.
 */
export function recomputeWindows(
  readings: readonly PlainReading[],
  shardOf: (sensorId: string) => number,
  sizesMs: readonly number[] = [1_000, 10_000, 60_000],
  graceMs = 5_000,
): { windows: Map<string, WindowRecount>; late: Map<string, number> } {
  const newest = new Map<number, number>();
  const windows = new Map<string, WindowRecount>();
  const late = new Map<string, number>();
  for (const r of readings) {
    const shard = shardOf(r.sensorId);
    const top = newest.get(shard) ?? -Infinity;
    const smallest = sizesMs[0];
    if (Math.floor(r.timeMs / smallest) * smallest + smallest <= top - graceMs) {
      late.set(r.sensorId, (late.get(r.sensorId) ?? 0) + 1);
      continue;
    }
    for (const size of sizesMs) {
      const start = Math.floor(r.timeMs / size) * size;
      for (const [metric, value] of Object.entries(r.values)) {
        const key = `${r.sensorId}/${metric}/${size}/${start}`;
        const w = windows.get(key) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
        w.count++;
        w.sum += value;
        w.min = Math.min(w.min, value);
        w.max = Math.max(w.max, value);
        windows.set(key, w);
      }
    }
    newest.set(shard, Math.max(top, Math.min(r.timeMs, r.acceptedMs ?? Infinity)));
  }
  return { windows, late };
}
