// Which thresholds judge a metric, as a small number that can travel with
// every value in the routed columns: the router and every shard (on any
// worker) build the same table from the same metric metadata, so a worker
// needs no metric names to judge a reading.
import type { MetricsMeta, Thresholds } from "../../protocol/metric_meta.ts";

export class ThresholdTable {
  /** Thresholds in order of metric name; judge `j` (≥ 1) is `list[j - 1]`. */
  readonly list: readonly Thresholds[];
  readonly #judge = new Map<string, number>();

  constructor(meta: MetricsMeta = {}) {
    const list: Thresholds[] = [];
    for (const name of Object.keys(meta).sort()) {
      const thresholds = meta[name]?.thresholds;
      if (!thresholds) continue;
      list.push(thresholds);
      this.#judge.set(name, list.length);
    }
    if (list.length > 65_535) throw new RangeError("Cannot judge more than 65535 metrics");
    this.list = list;
  }

  /** The judge of a metric's values: 0 for none, else 1 + its index in `list`. */
  judge(name: string): number {
    return this.#judge.get(name) ?? 0;
  }
}
