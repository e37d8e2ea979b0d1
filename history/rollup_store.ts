import { WINDOW_FINAL } from "../actors/event_windows.ts";
import type { WindowStates } from "../protocol/frames.ts";

const ROLLUP = "rollup";
/** Mutations per atomic commit (commits are capped at 1,000 and 800 KiB). */
const SETS_PER_COMMIT = 500;

/** One sensor's closed window of one size, over all its metrics. */
export interface RollupRecord {
  sizeMs: number;
  sensorId: string;
  startMs: number;
  /** Metric names; `values` holds count, sum, min, max for each, in order. */
  metrics: string[];
  values: Float64Array;
}

/** Stored value of a rollup key. */
interface StoredRollup {
  m: string[];
  v: Float64Array;
}

/**
 * Groups the final windows of the sizes kept as rollups into one record per
 * sensor, size and window start. Pure.
 */
export function rollupRecords(
  windows: WindowStates,
  sizesMs: readonly number[],
  keep: ReadonlySet<number>,
  sensorId: (index: number) => string | undefined,
  metricName: (index: number) => string | undefined,
): RollupRecord[] {
  const records = new Map<string, { record: RollupRecord; values: number[] }>();
  for (let i = 0; i < windows.length; i++) {
    if ((windows.flags[i] & WINDOW_FINAL) === 0) continue;
    const sizeMs = sizesMs[windows.size[i]];
    if (!keep.has(sizeMs)) continue;
    const id = sensorId(windows.sensor[i]);
    const name = metricName(windows.metric[i]);
    if (id === undefined || name === undefined) continue;
    const key = `${sizeMs}|${windows.startMs[i]}|${id}`;
    let entry = records.get(key);
    if (!entry) {
      entry = {
        record: {
          sizeMs,
          sensorId: id,
          startMs: windows.startMs[i],
          metrics: [],
          values: new Float64Array(),
        },
        values: [],
      };
      records.set(key, entry);
    }
    entry.record.metrics.push(name);
    entry.values.push(windows.count[i], windows.sum[i], windows.min[i], windows.max[i]);
  }
  return [...records.values()].map(({ record, values }) => ({
    ...record,
    values: Float64Array.from(values),
  }));
}

/**
 * Rollups in Deno KV under `["rollup", sizeMs, sensorId, startMs]`, each
 * expiring after its size's retention. Writing the same window again (after
 * a replay) stores the same numbers.
 */
export class RollupStore {
  readonly #kv: Deno.Kv;
  readonly #retentionMs: ReadonlyMap<number, number>;
  written = 0;

  /** `retentionMs`: window size → how long its rollups are kept. */
  constructor(kv: Deno.Kv, retentionMs: ReadonlyMap<number, number>) {
    this.#kv = kv;
    this.#retentionMs = retentionMs;
  }

  /** Sizes kept as rollups. */
  get sizes(): ReadonlySet<number> {
    return new Set(this.#retentionMs.keys());
  }

  async write(records: readonly RollupRecord[]): Promise<void> {
    for (let first = 0; first < records.length; first += SETS_PER_COMMIT) {
      const op = this.#kv.atomic();
      for (const r of records.slice(first, first + SETS_PER_COMMIT)) {
        const value: StoredRollup = { m: r.metrics, v: r.values };
        op.set([ROLLUP, r.sizeMs, r.sensorId, r.startMs], value, {
          expireIn: this.#retentionMs.get(r.sizeMs),
        });
      }
      if (!(await op.commit()).ok) throw new Error("Cannot write rollups: a commit was refused");
    }
    this.written += records.length;
  }

  /**
   * One metric's rollups of one size with starts in [fromMs, toMs), oldest
   * first, at most `limit` entries (`bounded` when more exist).
   */
  async read(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
    limit: number,
  ): Promise<
    {
      points: { t: number; count: number; sum: number; min: number; max: number }[];
      bounded: boolean;
    }
  > {
    const points = [];
    let seen = 0;
    const iter = this.#kv.list<StoredRollup>(
      { start: [ROLLUP, sizeMs, sensorId, fromMs], end: [ROLLUP, sizeMs, sensorId, toMs] },
      { limit: limit + 1, batchSize: Math.min(limit + 1, 500) },
    );
    for await (const entry of iter) {
      if (++seen > limit) return { points, bounded: true };
      const k = entry.value.m.indexOf(metric);
      if (k < 0) continue;
      const v = entry.value.v;
      points.push({
        t: entry.key[3] as number,
        count: v[4 * k],
        sum: v[4 * k + 1],
        min: v[4 * k + 2],
        max: v[4 * k + 3],
      });
    }
    return { points, bounded: false };
  }
}
