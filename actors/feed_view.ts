import { allocateStates } from "./shard.ts";
import type { ShardChanges } from "./shard_messages.ts";
import type { MetricEntry, MetricStates, SensorEntry } from "../protocol/frames.ts";

/** What changed in one tick, over all shards. */
export interface TickChanges {
  sensors: SensorEntry[];
  metrics: MetricEntry[];
  updates: MetricStates;
}

/**
 * The hub's mirror of the latest state, fed only by shard flushes. It merges
 * the shards' changes into one set per tick and serves snapshots that are
 * exactly the state after the last merged tick. Pure: no clocks, no I/O.
 */
export class FeedView {
  readonly #sensors: SensorEntry[] = [];
  #sensorCount = 0;
  readonly #metrics: MetricEntry[] = [];
  /** (sensor << 16 | metric) → slot in `#values`. */
  readonly #slots = new Map<number, number>();
  #values: MetricStates = allocateStates(1024);
  #used = 0;

  get sensorCount(): number {
    return this.#sensorCount;
  }

  get valueCount(): number {
    return this.#used;
  }

  /** Merges one tick's shard changes; returns them combined, or null if nothing changed. */
  apply(changes: readonly (ShardChanges | null)[]): TickChanges | null {
    const sensors: SensorEntry[] = [];
    const metrics: MetricEntry[] = [];
    let total = 0;
    for (const change of changes) {
      if (!change) continue;
      total += change.updates.length;
      for (const sensor of change.sensors) {
        if (this.#sensors[sensor.index] === undefined) this.#sensorCount++;
        this.#sensors[sensor.index] = sensor;
        sensors.push(sensor);
      }
      for (const metric of change.metrics) {
        if (this.#metrics[metric.index] !== undefined) continue;
        this.#metrics[metric.index] = metric;
        metrics.push(metric);
      }
    }
    if (total === 0 && sensors.length === 0 && metrics.length === 0) return null;
    const updates = allocateStates(total);
    let at = 0;
    for (const change of changes) {
      if (!change) continue;
      const u = change.updates;
      updates.sensor.set(u.sensor, at);
      updates.metric.set(u.metric, at);
      updates.last.set(u.last, at);
      updates.avg.set(u.avg, at);
      updates.min.set(u.min, at);
      updates.max.set(u.max, at);
      updates.timeMs.set(u.timeMs, at);
      at += u.length;
    }
    for (let i = 0; i < total; i++) this.#store(updates, i);
    return { sensors, metrics, updates };
  }

  /** Every known sensor. */
  sensors(): SensorEntry[] {
    return this.#sensors.filter((s) => s !== undefined);
  }

  /** The full state: dictionaries and every metric's latest values. */
  snapshot(): { sensors: SensorEntry[]; metrics: MetricEntry[]; values: MetricStates } {
    const v = this.#values;
    const n = this.#used;
    return {
      sensors: this.#sensors.filter((s) => s !== undefined),
      metrics: this.#metrics.filter((m) => m !== undefined),
      values: {
        length: n,
        sensor: v.sensor.subarray(0, n),
        metric: v.metric.subarray(0, n),
        last: v.last.subarray(0, n),
        avg: v.avg.subarray(0, n),
        min: v.min.subarray(0, n),
        max: v.max.subarray(0, n),
        timeMs: v.timeMs.subarray(0, n),
      },
    };
  }

  #store(from: MetricStates, i: number): void {
    const key = from.sensor[i] * 65_536 + from.metric[i];
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      if (this.#used === this.#values.length) this.#grow();
      slot = this.#used++;
      this.#slots.set(key, slot);
    }
    const v = this.#values;
    v.sensor[slot] = from.sensor[i];
    v.metric[slot] = from.metric[i];
    v.last[slot] = from.last[i];
    v.avg[slot] = from.avg[i];
    v.min[slot] = from.min[i];
    v.max[slot] = from.max[i];
    v.timeMs[slot] = from.timeMs[i];
  }

  #grow(): void {
    const old = this.#values;
    const next = allocateStates(old.length * 2);
    next.sensor.set(old.sensor);
    next.metric.set(old.metric);
    next.last.set(old.last);
    next.avg.set(old.avg);
    next.min.set(old.min);
    next.max.set(old.max);
    next.timeMs.set(old.timeMs);
    this.#values = next;
  }
}
