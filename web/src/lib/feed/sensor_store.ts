// The dashboard's state, indexed by the server's dense sensor and metric
// indexes: typed arrays, not a reactive object per sensor. Pure.
import type {
  BaseValues,
  MetricEntry,
  MetricStates,
  SensorEntry,
  ServerFrame,
} from "@pulseboard/protocol";
import { SparkRings } from "./spark_rings.ts";
import type { SparkRingsOptions } from "./spark_rings.ts";

/** Per metric, one column per field, indexed by sensor. */
export interface MetricColumns {
  name: string;
  has: Uint8Array;
  last: Float64Array;
  avg: Float64Array;
  min: Float64Array;
  max: Float64Array;
  timeMs: Float64Array;
  /** Recent last values per sensor, for sparklines (bounded rings). */
  spark: SparkRings;
}

/** Widens a metric's columns to `capacity` sensors, keeping what they hold. */
export function growMetricColumns(m: MetricColumns, capacity: number): void {
  const f = (from: Float64Array) => {
    const to = new Float64Array(capacity);
    to.set(from);
    return to;
  };
  const has = new Uint8Array(capacity);
  has.set(m.has);
  m.has = has;
  m.last = f(m.last);
  m.avg = f(m.avg);
  m.min = f(m.min);
  m.max = f(m.max);
  m.timeMs = f(m.timeMs);
  m.spark.grow(capacity);
}

/** Receives every update of the followed sensor, for a live chart. */
export type FollowSink = (metric: string, timeMs: number, value: number) => void;

export interface SensorStoreOptions {
  /** Shape of the per-sensor sparkline rings. */
  spark?: SparkRingsOptions;
}

export type ApplyResult = "applied" | "gap";

const collator = new Intl.Collator("en", { numeric: true });

/**
 * The state of the sensors a topic subscription carries (the dashboard's
 * followed sensor; API-style clients: every sensor), by the server's dense
 * indexes. Its columns are what compact frames are coded against.
 */
export class SensorStore implements BaseValues {
  epoch = -1;
  /** Sequence number of the last applied frame; -1 before the first snapshot. */
  seq = -1;
  capacity = 0;
  ids: (string | undefined)[] = [];
  groups: (string | undefined)[] = [];
  /** Metric index → columns (dense; undefined where unknown). */
  metrics: (MetricColumns | undefined)[] = [];
  /** Local receive time of the last update per sensor, for highlights and ages. */
  changedAt = new Float64Array(0);
  /** Sensor indexes sorted by id (numeric-aware). */
  order: number[] = [];
  sensorCount = 0;
  /**
   * How many of a metric's last readings (in arrival order) its avg, min and
   * max cover, as the last snapshot said; 0 when it did not say.
   */
  countWindow = 0;
  /** Metric updates applied from deltas since creation (snapshots not counted). */
  updatesApplied = 0;
  #orderStale = false;
  readonly #sparkOptions: SparkRingsOptions;
  /**
   * Sparkline rings by metric name and the sensor id each slot belongs to.
   * They outlive a fresh snapshot (a resync, another group): sensor indexes
   * are the server's, stable for an id, so the recent past stays drawn.
   */
  readonly #sparks = new Map<string, SparkRings>();
  #sparkOwner: (string | undefined)[] = [];
  #followId: string | null = null;
  #followIndex = -1;
  #followSink: FollowSink | null = null;

  constructor(options: SensorStoreOptions = {}) {
    this.#sparkOptions = options.spark ?? {};
  }

  /**
   * Sends every later update of sensor `id` (by id, so it survives a fresh
   * snapshot) to `sink`; `follow(null)` stops. The current values are not
   * replayed: read them from the columns.
   */
  follow(id: string | null, sink: FollowSink | null = null): void {
    this.#followId = id;
    this.#followSink = id === null ? null : sink;
    this.#followIndex = id === null ? -1 : this.ids.indexOf(id);
  }

  // BaseValues: compact deltas code changed values against these columns.
  slot(sensor: number, metric: number): number {
    const m = this.metrics[metric];
    return m && sensor < this.capacity && m.has[sensor] === 1 ? sensor : -1;
  }

  columns(metric: number): MetricColumns {
    return this.metrics[metric]!;
  }

  /** The dense index of sensor `id`, or -1. */
  indexOf(id: string): number {
    return this.ids.indexOf(id);
  }

  /**
   * Applies one frame. A delta that does not follow the last sequence number
   * (or comes from another epoch) is a gap: nothing is applied and the caller
   * must resubscribe for a fresh snapshot.
   */
  apply(event: ServerFrame, nowMs: number): ApplyResult {
    if (event.type === "snapshot") {
      this.#reset();
      this.epoch = event.epoch;
      this.seq = event.seq;
      this.countWindow = event.countWindow;
      this.#dictionaries(event.sensors, event.metrics);
      this.#updates(event.values, nowMs);
      this.#sortIfStale();
      return "applied";
    }
    if (event.type === "subscribed") {
      // Recovered: the missed deltas follow and continue from here.
      if (event.recovered && event.epoch === this.epoch && event.seq === this.seq) return "applied";
      if (event.recovered) return "gap";
      return "applied";
    }
    if (event.type !== "delta") return "applied";
    // A coalesced frame (a session sent less often) covers every tick since `sinceSeq`.
    const follows = event.coalesced
      ? (event.sinceSeq ?? 0) <= this.seq && event.seq >= this.seq
      : event.seq === this.seq + 1;
    if (event.epoch !== this.epoch || !follows) return "gap";
    this.seq = event.seq;
    // A sensor that started over (removed and re-added): the old one's values and points go
    // first; the frame brings it back as new.
    for (const index of event.restarted ?? []) this.#forget(index);
    this.#dictionaries(event.sensors, event.metrics);
    this.#updates(event.updates, nowMs);
    this.updatesApplied += event.updates.length;
    for (const index of event.removed) this.#forget(index);
    this.#sortIfStale();
    return "applied";
  }

  /** Drops a sensor with its values and sparkline points. */
  #forget(index: number): void {
    if (this.ids[index] === undefined) return;
    if (index === this.#followIndex) this.#followIndex = -1;
    for (const rings of this.#sparks.values()) rings.clear(index);
    // A sensor that comes back (same index) must not show the old values.
    for (const m of this.metrics) if (m && index < this.capacity) m.has[index] = 0;
    this.#sparkOwner[index] = undefined;
    this.ids[index] = undefined;
    this.groups[index] = undefined;
    this.sensorCount--;
    this.#orderStale = true;
  }

  /** Column names in metric index order. */
  metricNames(): string[] {
    return this.metrics.filter((m) => m !== undefined).map((m) => m!.name);
  }

  #reset(): void {
    this.ids = [];
    this.groups = [];
    this.metrics = [];
    this.capacity = 0;
    this.changedAt = new Float64Array(0);
    this.order = [];
    this.sensorCount = 0;
    this.#followIndex = -1;
  }

  #ensure(index: number): void {
    if (index < this.capacity) return;
    let capacity = Math.max(64, this.capacity);
    while (capacity <= index) capacity *= 2;
    const grow = <T extends Float64Array | Uint8Array>(from: T, to: T) => (to.set(from), to);
    this.changedAt = grow(this.changedAt, new Float64Array(capacity));
    for (const m of this.metrics) if (m) growMetricColumns(m, capacity);
    this.capacity = capacity;
  }

  #dictionaries(sensors: SensorEntry[], metrics: MetricEntry[]): void {
    for (const m of metrics) {
      if (this.metrics[m.index]) continue;
      const columns: MetricColumns = {
        name: m.name,
        has: new Uint8Array(0),
        last: new Float64Array(0),
        avg: new Float64Array(0),
        min: new Float64Array(0),
        max: new Float64Array(0),
        timeMs: new Float64Array(0),
        spark: this.#sparkFor(m.name),
      };
      growMetricColumns(columns, this.capacity);
      this.metrics[m.index] = columns;
    }
    for (const s of sensors) {
      this.#ensure(s.index);
      if (this.ids[s.index] === undefined) {
        this.sensorCount++;
        this.#orderStale = true;
      } else if (this.ids[s.index] !== s.id) this.#orderStale = true;
      this.ids[s.index] = s.id;
      this.groups[s.index] = s.group;
      if (this.#sparkOwner[s.index] !== s.id) {
        for (const rings of this.#sparks.values()) rings.clear(s.index);
        this.#sparkOwner[s.index] = s.id;
      }
      if (s.id === this.#followId) this.#followIndex = s.index;
      else if (s.index === this.#followIndex) this.#followIndex = -1;
    }
  }

  #updates(u: MetricStates, nowMs: number): void {
    for (let i = 0; i < u.length; i++) {
      const sensor = u.sensor[i];
      const m = this.metrics[u.metric[i]];
      if (!m || sensor >= this.capacity) continue;
      m.has[sensor] = 1;
      m.last[sensor] = u.last[i];
      m.avg[sensor] = u.avg[i];
      m.min[sensor] = u.min[i];
      m.max[sensor] = u.max[i];
      m.timeMs[sensor] = u.timeMs[i];
      m.spark.push(sensor, u.timeMs[i], u.last[i]);
      if (sensor === this.#followIndex) this.#followSink?.(m.name, u.timeMs[i], u.last[i]);
      this.changedAt[sensor] = nowMs;
    }
  }

  #sparkFor(name: string): SparkRings {
    let rings = this.#sparks.get(name);
    if (!rings) this.#sparks.set(name, rings = new SparkRings(this.#sparkOptions));
    return rings;
  }

  #sortIfStale(): void {
    if (!this.#orderStale) return;
    this.#orderStale = false;
    const order: number[] = [];
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] !== undefined) order.push(i);
    order.sort((a, b) => collator.compare(this.ids[a]!, this.ids[b]!));
    this.order = order;
  }
}
