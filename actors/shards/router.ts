import { shardFor } from "./shard_for.ts";
import type { ShardReadings } from "./shard_messages.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";

export interface RouterOptions {
  /** Distinct metric names before further ones are dropped (uint16 on the wire). Default 1024. */
  maxMetrics?: number;
}

/**
 * Splits log chunks into per-shard messages and gives every sensor id and
 * metric name a small, dense global index in order of first appearance in
 * the log (so a replay of the same log assigns the same indexes).
 * Owned by the source; works per distinct string, not per reading.
 */
export class Router {
  readonly shardCount: number;
  readonly #maxMetrics: number;
  readonly #sensors = new Map<string, number>();
  readonly #sensorShard: number[] = [];
  readonly #metrics = new Map<string, number>();
  /** Values dropped because the metric-name cap was reached. */
  droppedValues = 0;

  constructor(shardCount: number, options: RouterOptions = {}) {
    if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 1024) {
      throw new RangeError(`Cannot route to ${shardCount} shards: use 1 to 1024`);
    }
    this.shardCount = shardCount;
    this.#maxMetrics = Math.min(options.maxMetrics ?? 1024, 65_536);
  }

  /** Sensor ids and metric names in index order, for a checkpoint. */
  save(): { sensors: string[]; metrics: string[] } {
    return { sensors: [...this.#sensors.keys()], metrics: [...this.#metrics.keys()] };
  }

  /** Re-creates the indexes a router had when it was saved. */
  static restore(
    shardCount: number,
    saved: { sensors: string[]; metrics: string[] },
    options: RouterOptions = {},
  ) {
    const router = new Router(shardCount, options);
    for (const id of saved.sensors) router.#internSensor(id);
    for (const name of saved.metrics) router.#internMetric(name);
    return router;
  }

  /** A known sensor's global index and shard, or undefined. */
  lookup(id: string): { index: number; shard: number } | undefined {
    const index = this.#sensors.get(id);
    return index === undefined ? undefined : { index, shard: this.#sensorShard[index] };
  }

  /** Forgets every index (a rebuild from scratch assigns them again). */
  clear(): void {
    this.#sensors.clear();
    this.#sensorShard.length = 0;
    this.#metrics.clear();
  }

  get sensorCount(): number {
    return this.#sensors.size;
  }

  /** The per-shard messages for a block; `null` for shards it has no rows for. */
  split(block: ReadingBlock, onlyShard = -1): (ShardReadings | null)[] {
    const { strings } = block;
    const sensorIndex = new Int32Array(strings.length).fill(-1);
    const shardOf = new Int32Array(block.length);
    const counts = new Uint32Array(this.shardCount);
    for (let row = 0; row < block.length; row++) {
      const s = block.sensor[row];
      if (sensorIndex[s] < 0) sensorIndex[s] = this.#internSensor(strings[s]);
      const shard = this.#sensorShard[sensorIndex[s]];
      shardOf[row] = shard;
      counts[shard]++;
    }
    const metricIndex = new Int32Array(strings.length).fill(-1);
    const seen = new Uint8Array(strings.length);
    for (let v = 0; v < block.metric.length; v++) {
      const m = block.metric[v];
      if (seen[m] === 0) {
        seen[m] = 1;
        metricIndex[m] = this.#internMetric(strings[m]);
      }
    }
    const rows = Array.from(
      counts,
      (count, shard) =>
        count === 0 || (onlyShard >= 0 && shard !== onlyShard) ? null : new Uint32Array(count),
    );
    const filled = new Uint32Array(this.shardCount);
    for (let row = 0; row < block.length; row++) {
      const target = rows[shardOf[row]];
      if (target) target[filled[shardOf[row]]++] = row;
    }
    return rows.map((r) => r && { type: "readings", block, rows: r, sensorIndex, metricIndex });
  }

  #internSensor(id: string): number {
    let index = this.#sensors.get(id);
    if (index === undefined) {
      index = this.#sensors.size;
      this.#sensors.set(id, index);
      this.#sensorShard.push(shardFor(id, this.shardCount));
    }
    return index;
  }

  #internMetric(name: string): number {
    let index = this.#metrics.get(name);
    if (index === undefined) {
      if (this.#metrics.size >= this.#maxMetrics) {
        this.droppedValues++;
        return -1;
      }
      index = this.#metrics.size;
      this.#metrics.set(name, index);
    }
    return index;
  }
}
