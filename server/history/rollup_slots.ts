import { rollupBucket } from "./rollup_block.ts";

/**
 * The (window size, sensor) slots and metric names that rollup rows refer
 * to by number, shared by a writer's row buffers so that a buffer taken for
 * a write and the fresh one filling meanwhile do not each rebuild them. A
 * slot's bucket of sensors (`rollupBucket`) is hashed once, when it is made.
 * Slots live as long as the writer: one per sensor and kept size seen.
 */
export class RollupSlots {
  readonly #bySize = new Map<number, Map<string, number>>();
  readonly ids: string[] = [];
  readonly sizes: number[] = [];
  /** Per slot, its bucket of sensors. */
  buckets = new Uint16Array(256);
  readonly #metricOf = new Map<string, number>();
  readonly metrics: string[] = [];

  get length(): number {
    return this.ids.length;
  }

  /** The slot of `sensorId`'s windows of `sizeMs`, made on first use. */
  slot(sizeMs: number, sensorId: string): number {
    let bySensor = this.#bySize.get(sizeMs);
    if (!bySensor) this.#bySize.set(sizeMs, bySensor = new Map());
    let slot = bySensor.get(sensorId);
    if (slot === undefined) {
      slot = this.ids.length;
      bySensor.set(sensorId, slot);
      this.ids.push(sensorId);
      this.sizes.push(sizeMs);
      if (slot === this.buckets.length) {
        const grown = new Uint16Array(slot * 2);
        grown.set(this.buckets);
        this.buckets = grown;
      }
      this.buckets[slot] = rollupBucket(sensorId);
    }
    return slot;
  }

  /** The number of a metric name, made on first use. */
  metric(name: string): number {
    let m = this.#metricOf.get(name);
    if (m === undefined) {
      if (this.metrics.length === 0xffff) {
        throw new RangeError("Cannot buffer a rollup: more than 65,535 metric names");
      }
      m = this.metrics.push(name) - 1;
      this.#metricOf.set(name, m);
    }
    return m;
  }

  /** The slot of `sensorId`'s windows of `sizeMs`, if one was made. */
  find(sizeMs: number, sensorId: string): number | undefined {
    return this.#bySize.get(sizeMs)?.get(sensorId);
  }

  /** The number of a metric name, if one was made. */
  findMetric(name: string): number | undefined {
    return this.#metricOf.get(name);
  }
}
