import { shardFor } from "./shard_for.ts";
import { allocateRows } from "./routed_rows.ts";
import type { RoutedRows } from "./routed_rows.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";
import type { MetricsMeta } from "../../protocol/metric_meta.ts";
import { ThresholdTable } from "./threshold_table.ts";

export interface RouterOptions {
  /** Distinct metric names before further ones are dropped (uint16 on the wire). Default 1024. */
  maxMetrics?: number;
  /** Metric metadata: each value carries the judge of its metric's thresholds. Default: none. */
  metrics?: MetricsMeta;
}

/** Which shards a split is for, and how they are grouped into hosts (workers). */
export interface SplitOptions {
  /** Hosts the shards are spread over: shard `s` lives on host `s % hosts`. Default 1. */
  hosts?: number;
  /** Only these shards' rows (a replay); default all. */
  only?: ReadonlySet<number>;
}

/**
 * Splits log chunks into columnar rows per host and gives every sensor id and
 * metric name a small, dense global index in order of first appearance in
 * the log (so a replay of the same log assigns the same indexes), and every
 * sensor a dense index within its shard (same rule). Owned by the shard set;
 * works per distinct string, not per reading, and keeps the ids: the shards
 * see indexes only.
 */
export class Router {
  readonly shardCount: number;
  readonly #maxMetrics: number;
  readonly #sensors = new Map<string, number>();
  readonly #ids: string[] = [];
  readonly #sensorShard: number[] = [];
  readonly #sensorLocal: number[] = [];
  readonly #shardSensors: number[];
  readonly #metrics = new Map<string, number>();
  readonly #metricNames: string[] = [];
  /** By sensor index: its group's number in `#groupNames` as the shards last told (-1: not told). */
  readonly #sensorGroup: number[] = [];
  #groupNames: string[] = [];
  #groupNumber = new Map<string, number>();
  readonly #thresholds: ThresholdTable;
  /** By metric index: its judge (`ThresholdTable.judge`). */
  readonly #metricJudge: number[] = [];
  // Per shard, reused by every split: rows and values counted, and where the next goes.
  readonly #rowsOf: Uint32Array;
  readonly #valuesOf: Uint32Array;
  readonly #rowAt: Uint32Array;
  readonly #valueAt: Uint32Array;
  /** Values dropped because the metric-name cap was reached. */
  droppedValues = 0;
  /** Counts the times the indexes started over (`clear`): ids of one epoch are only appended. */
  epoch = 0;

  constructor(shardCount: number, options: RouterOptions = {}) {
    if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 1024) {
      throw new RangeError(`Cannot route to ${shardCount} shards: use 1 to 1024`);
    }
    this.shardCount = shardCount;
    this.#shardSensors = new Array(shardCount).fill(0);
    this.#rowsOf = new Uint32Array(shardCount);
    this.#valuesOf = new Uint32Array(shardCount);
    this.#rowAt = new Uint32Array(shardCount);
    this.#valueAt = new Uint32Array(shardCount);
    this.#maxMetrics = Math.min(options.maxMetrics ?? 1024, 65_536);
    this.#thresholds = new ThresholdTable(options.metrics);
  }

  /** Sensor ids and metric names in index order, for a checkpoint. */
  save(): { sensors: string[]; metrics: string[]; epoch: number } {
    return { sensors: [...this.#ids], metrics: [...this.#metricNames], epoch: this.epoch };
  }

  /** Re-creates the indexes a router had when it was saved. */
  static restore(
    shardCount: number,
    saved: { sensors: readonly string[]; metrics: readonly string[]; epoch?: number },
    options: RouterOptions = {},
  ) {
    const { sensors, metrics } = saved ?? {};
    if (
      !Array.isArray(sensors) || !Array.isArray(metrics) ||
      !sensors.every((id) => typeof id === "string") ||
      !metrics.every((name) => typeof name === "string")
    ) {
      throw new RangeError(
        "Cannot restore a router: its sensor ids or metric names are not strings",
      );
    }
    const router = new Router(shardCount, options);
    router.epoch = saved.epoch ?? 0;
    // A restart interns every id: no lookup first (a repeat shows in the map's size).
    const index = router.#sensors, shardSensors = router.#shardSensors;
    for (let i = 0; i < sensors.length; i++) {
      const id = sensors[i];
      index.set(id, i);
      router.#ids.push(id);
      const shard = shardFor(id, shardCount);
      router.#sensorShard.push(shard);
      router.#sensorLocal.push(shardSensors[shard]++);
    }
    for (const name of metrics) router.#internMetric(name);
    // A repeated id or name would shift every index after it.
    if (index.size !== sensors.length || router.#metricNames.length !== metrics.length) {
      throw new RangeError("Cannot restore a router: a sensor id or metric name is there twice");
    }
    return router;
  }

  /** Whether sensor `index` is the one at index `local` of shard `shard`. */
  isAt(index: number, shard: number, local: number): boolean {
    return index < this.#ids.length && this.#sensorShard[index] === shard &&
      this.#sensorLocal[index] === local;
  }

  /** A known sensor's global index, shard and index in its shard, or undefined. */
  lookup(id: string): { index: number; shard: number; local: number } | undefined {
    const index = this.#sensors.get(id);
    return index === undefined
      ? undefined
      : { index, shard: this.#sensorShard[index], local: this.#sensorLocal[index] };
  }

  /**
   * The group sensor `id` is in as its shard last reported it (`noteGroup`),
   * or undefined for a sensor not known or not reported yet.
   */
  groupOf(id: string): string | undefined {
    const index = this.#sensors.get(id);
    if (index === undefined) return undefined;
    const g = this.#sensorGroup[index];
    return g === undefined || g < 0 ? undefined : this.#groupNames[g];
  }

  /** What a shard reported of sensor `index`'s group (null: the sensor was removed). */
  noteGroup(index: number, group: string | null): void {
    if (index >= this.#ids.length) return;
    while (this.#sensorGroup.length <= index) this.#sensorGroup.push(-1);
    if (group === null) {
      this.#sensorGroup[index] = -1;
      return;
    }
    let g = this.#groupNumber.get(group);
    if (g === undefined) {
      // A writer moving sensors through ever new groups must not grow the table without bound.
      if (this.#groupNames.length >= 2 * this.#ids.length + 1024) this.#compactGroups();
      g = this.#groupNames.push(group) - 1;
      this.#groupNumber.set(group, g);
    }
    this.#sensorGroup[index] = g;
  }

  /** Keeps only the groups some sensor is in. */
  #compactGroups(): void {
    const names: string[] = [];
    const numbers = new Map<string, number>();
    const sensorGroup = this.#sensorGroup;
    for (let i = 0; i < sensorGroup.length; i++) {
      if (sensorGroup[i] < 0) continue;
      const name = this.#groupNames[sensorGroup[i]];
      let g = numbers.get(name);
      if (g === undefined) numbers.set(name, g = names.push(name) - 1);
      sensorGroup[i] = g;
    }
    this.#groupNames = names;
    this.#groupNumber = numbers;
  }

  /** A metric name's global index, or undefined. */
  metricIndex(name: string): number | undefined {
    return this.#metrics.get(name);
  }

  /** The id of the sensor with global index `index`. */
  sensorId(index: number): string | undefined {
    return this.#ids[index];
  }

  /** The name of the metric with global index `index`. */
  metricName(index: number): string | undefined {
    return this.#metricNames[index];
  }

  /** Forgets every index (a rebuild from scratch assigns them again). */
  clear(): void {
    this.epoch++;
    this.#sensors.clear();
    this.#ids.length = 0;
    this.#sensorShard.length = 0;
    this.#sensorLocal.length = 0;
    this.#shardSensors.fill(0);
    this.#metrics.clear();
    this.#metricNames.length = 0;
    this.#metricJudge.length = 0;
    this.#sensorGroup.length = 0;
    this.#groupNames = [];
    this.#groupNumber = new Map();
  }

  get sensorCount(): number {
    return this.#sensors.size;
  }

  /** Distinct metric names given an index. */
  get metricCount(): number {
    return this.#metrics.size;
  }

  /** Distinct metric names past which values are dropped (`droppedValues`). */
  get maxMetrics(): number {
    return this.#maxMetrics;
  }

  /** Whether sensor `id` has an index. */
  hasSensor(id: string): boolean {
    return this.#sensors.has(id);
  }

  /** Sensor `id`'s global index, or -1. */
  indexOf(id: string): number {
    return this.#sensors.get(id) ?? -1;
  }

  /** Sensors `shard` has been given (its local indexes run below this). */
  sensorsOf(shard: number): number {
    return this.#shardSensors[shard];
  }

  /**
   * The rows of one or more blocks (in log order) for each host (null for a
   * host with none): indexes assigned, values of metrics over the cap
   * dropped, rows grouped by shard in log order. Several blocks make one
   * message per host, so a host gets fewer, larger messages.
   */
  split(
    blocks: ReadingBlock | readonly ReadingBlock[],
    options: SplitOptions = {},
  ): (RoutedRows | null)[] {
    const list = Array.isArray(blocks)
      ? blocks as readonly ReadingBlock[]
      : [blocks as ReadingBlock];
    const hosts = options.hosts ?? 1;
    const only = options.only;
    const shardCount = this.shardCount;
    const table: string[] = [""];
    const tableIndex = new Map<string, number>([["", 0]]);
    const rowsOf = this.#rowsOf.fill(0);
    const valuesOf = this.#valuesOf.fill(0);
    // Per block and distinct string: its sensor index, metric index, and place in the table.
    // Plain loops over methods, not closures made per call: those were compiled
    // again for every few splits.
    const maps: BlockIndexes[] = [];
    for (let b = 0; b < list.length; b++) {
      maps.push(this.#indexBlock(list[b], only, table, tableIndex));
    }
    // Per host: its shards with rows, and where each starts.
    const out: (RoutedRows | null)[] = new Array(hosts).fill(null);
    const rowAt = this.#rowAt;
    const valueAt = this.#valueAt;
    for (let h = 0; h < hosts; h++) {
      let rows = 0, values = 0, count = 0;
      for (let s = h; s < shardCount; s += hosts) {
        if (rowsOf[s] === 0) continue;
        rowAt[s] = rows;
        valueAt[s] = values;
        rows += rowsOf[s];
        values += valuesOf[s];
        count++;
      }
      if (count === 0) continue;
      const part = allocateRows(rows, values, count, table);
      let k = 0;
      for (let s = h; s < shardCount; s += hosts) {
        if (rowsOf[s] === 0) continue;
        part.shards[k] = s;
        part.shardStart[k++] = rowAt[s];
      }
      part.shardStart[k] = rows;
      part.valueStart[rows] = values;
      out[h] = part;
    }
    for (let b = 0; b < list.length; b++) this.#placeBlock(list[b], maps[b], only, hosts, out);
    return out;
  }

  /** One block's distinct strings as indexes (interned if new); counts its rows and values per shard. */
  #indexBlock(
    block: ReadingBlock,
    only: ReadonlySet<number> | undefined,
    table: string[],
    tableIndex: Map<string, number>,
  ): BlockIndexes {
    const ids = this.#ids, sensorShard = this.#sensorShard;
    const rowsOf = this.#rowsOf, valuesOf = this.#valuesOf;
    // Columns in locals: blocks come in several shapes (hints, stamps, table keys), and a
    // property load per row on a block of many shapes is a slow, megamorphic one.
    const { strings, sensorHints, sensor: sensors, metric, metricStart, group, status } = block;
    const sensorOf = new Int32Array(strings.length).fill(-1);
    const metricOf = new Int32Array(strings.length).fill(-2);
    const tableOf = new Int32Array(strings.length).fill(-1);
    const n = block.length;
    for (let row = 0; row < n; row++) {
      const s = sensors[row];
      let sensor = sensorOf[s];
      if (sensor < 0) {
        // Ingest's lookup, when it made one and it still names this id: no second one.
        const hint = sensorHints === undefined ? -1 : sensorHints[s];
        sensor = sensorOf[s] = hint >= 0 && ids[hint] === strings[s]
          ? hint
          : this.#internSensor(strings[s]);
      }
      const shard = sensorShard[sensor];
      if (only !== undefined && !only.has(shard)) continue;
      rowsOf[shard]++;
      for (let v = metricStart[row]; v < metricStart[row + 1]; v++) {
        const m = metric[v];
        if (metricOf[m] === -2) metricOf[m] = this.#internMetric(strings[m]);
        if (metricOf[m] >= 0) valuesOf[shard]++;
      }
      const g = group[row], st = status[row];
      if (tableOf[g] < 0) tableOf[g] = intern(table, tableIndex, strings[g]);
      if (tableOf[st] < 0) tableOf[st] = intern(table, tableIndex, strings[st]);
    }
    return new BlockIndexes(sensorOf, metricOf, tableOf);
  }

  /** Writes one block's rows into its hosts' parts, at each shard's next row (`#rowAt`). */
  #placeBlock(
    block: ReadingBlock,
    indexes: BlockIndexes,
    only: ReadonlySet<number> | undefined,
    hosts: number,
    out: (RoutedRows | null)[],
  ): void {
    const sensorShard = this.#sensorShard, sensorLocal = this.#sensorLocal;
    const metricJudge = this.#metricJudge, rowAt = this.#rowAt, valueAt = this.#valueAt;
    const { sensorOf, metricOf, tableOf } = indexes;
    const { sensor: sensors, group, status, timeMs, metricStart, metric: metrics, value } = block;
    const n = block.length;
    const acceptedMs = block.acceptedMs ?? Infinity;
    for (let row = 0; row < n; row++) {
      const sensor = sensorOf[sensors[row]];
      const shard = sensorShard[sensor];
      if (only !== undefined && !only.has(shard)) continue;
      const part = out[shard % hosts]!;
      const r = rowAt[shard]++;
      part.local[r] = sensorLocal[sensor];
      part.sensor[r] = sensor;
      part.group[r] = tableOf[group[row]];
      part.status[r] = tableOf[status[row]];
      part.timeMs[r] = timeMs[row];
      part.acceptedMs[r] = acceptedMs;
      let at = valueAt[shard];
      part.valueStart[r] = at;
      for (let v = metricStart[row]; v < metricStart[row + 1]; v++) {
        const metric = metricOf[metrics[v]];
        if (metric < 0) continue;
        part.metric[at] = metric;
        part.judge[at] = metricJudge[metric];
        part.value[at++] = value[v];
      }
      valueAt[shard] = at;
    }
  }

  #internSensor(id: string): number {
    let index = this.#sensors.get(id);
    if (index === undefined) {
      index = this.#ids.length;
      this.#sensors.set(id, index);
      this.#ids.push(id);
      const shard = shardFor(id, this.shardCount);
      this.#sensorShard.push(shard);
      this.#sensorLocal.push(this.#shardSensors[shard]++);
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
      index = this.#metricNames.length;
      this.#metrics.set(name, index);
      this.#metricNames.push(name);
      this.#metricJudge.push(this.#thresholds.judge(name));
    }
    return index;
  }
}

/** Per distinct string of one block: its sensor index, metric index and place in the table. */
class BlockIndexes {
  constructor(
    readonly sensorOf: Int32Array,
    readonly metricOf: Int32Array,
    readonly tableOf: Int32Array,
  ) {}
}

/** A string's place in a message's table, added if new. */
function intern(table: string[], index: Map<string, number>, s: string): number {
  let i = index.get(s);
  if (i === undefined) index.set(s, i = table.push(s) - 1);
  return i;
}
