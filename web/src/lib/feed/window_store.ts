// The dashboard's viewport window: the rows of the server's ordered,
// filtered view that the table shows (plus overscan), and the state of only
// those rows' sensors, in typed-array columns by slot. A slot is given to a
// sensor when it enters the window and freed when it leaves, so memory
// follows the window, not the fleet. Pure.
import type { BaseValues, ViewEvent } from "@pulseboard/protocol";
import { SparkRings } from "./spark_rings.ts";
import type { SparkRingsOptions } from "./spark_rings.ts";
import type { FollowSink, MetricColumns } from "./sensor_store.ts";
import { growMetricColumns } from "./sensor_store.ts";

export type WindowApplyResult = "applied" | "gap";

const NO_ROWS = new Uint32Array(0);

export class WindowStore implements BaseValues {
  epoch = -1;
  seq = -1;
  /** The window equals its stream's state at (epoch, seq): a reconnect may resume from it. */
  onStream = false;
  /** Sensors in the view's topic, and of those the ones passing the filter (the table's length). */
  total = 0;
  matching = 0;
  /** The first row's position in the view. */
  offset = 0;
  /** The rows (server sensor indexes) in order. */
  rows: Uint32Array = NO_ROWS;
  /** The session's rate: ms between frames (0 before the first). */
  intervalMs = 0;
  /** Readings each value's avg, min and max cover; 0: unsaid. */
  countWindow = 0;
  /** The view's topic (not only the filter's rows) by attention code, as last told; null before. */
  attentionCounts: number[] | null = null;
  /** Metric updates applied, for the status bar's rate. */
  updatesApplied = 0;
  /** Rows that entered (sent whole), over all frames. */
  enteredRows = 0;
  /** Per slot: the sensor's id, group, status, when it last changed here (local ms), its newest event time. */
  ids: (string | undefined)[] = [];
  groups: (string | undefined)[] = [];
  statuses: (string | null)[] = [];
  /** Per slot: the attention code (protocol ATTENTION), and when it last changed here (local ms). */
  attention = new Uint8Array(0);
  attentionChangedAt = new Float64Array(0);
  changedAt = new Float64Array(0);
  eventMs = new Float64Array(0);
  /** Metric index → columns by slot (dense; undefined where unknown). */
  metrics: (MetricColumns | undefined)[] = [];
  capacity = 0;
  /** The server's clock minus this one's, at the last frame (for ages by event time). */
  clockOffsetMs = 0;
  readonly #slots = new Map<number, number>();
  #sensorOf: number[] = [];
  #free: number[] = [];
  readonly #sparkOptions: SparkRingsOptions;
  #followId: string | null = null;
  #followSink: FollowSink | null = null;

  /**
   * The step a metric is shown to: a row counts as changed (highlighted) only
   * when a last value moves to another step. Default 0: any change.
   */
  stepOf: (metric: string) => number;

  constructor(options: { spark?: SparkRingsOptions; stepOf?: (metric: string) => number } = {}) {
    this.#sparkOptions = options.spark ?? {};
    this.stepOf = options.stepOf ?? (() => 0);
  }

  /** The slot of a sensor in the window, or -1. */
  slotOf(sensor: number): number {
    return this.#slots.get(sensor) ?? -1;
  }

  /** The slot of the row at view position `position`, or -1 when it is not in the window. */
  slotAt(position: number): number {
    const i = position - this.offset;
    return i >= 0 && i < this.rows.length ? this.slotOf(this.rows[i]) : -1;
  }

  /** Sensors held (the window's rows). */
  get size(): number {
    return this.#slots.size;
  }

  // BaseValues: the values a view frame's staying rows are coded against.
  slot(sensor: number, metric: number): number {
    const slot = this.slotOf(sensor);
    const m = this.metrics[metric];
    return slot >= 0 && m && m.has[slot] === 1 ? slot : -1;
  }

  columns(metric: number): MetricColumns {
    return this.metrics[metric]!;
  }

  /** Column names in metric index order. */
  metricNames(): string[] {
    return this.metrics.filter((m) => m !== undefined).map((m) => m!.name);
  }

  /** Hands every later update of sensor `id` to `sink` while it is in the window; null stops. */
  follow(id: string | null, sink: FollowSink | null = null): void {
    this.#followId = id;
    this.#followSink = id === null ? null : sink;
  }

  /** Forgets everything (a new connection that could not resume). */
  reset(): void {
    this.#slots.clear();
    this.#sensorOf = [];
    this.#free = [];
    this.ids = [];
    this.groups = [];
    this.statuses = [];
    this.rows = NO_ROWS;
    this.capacity = 0;
    this.changedAt = new Float64Array(0);
    this.eventMs = new Float64Array(0);
    this.attention = new Uint8Array(0);
    this.attentionChangedAt = new Float64Array(0);
    this.metrics = [];
    this.attentionCounts = null;
    this.epoch = -1;
    this.seq = -1;
    this.onStream = false;
  }

  /** Applies one view frame received at local time `nowMs`. */
  apply(event: ViewEvent, nowMs: number): WindowApplyResult {
    if (event.kind === "whole") {
      for (const sensor of [...this.#slots.keys()]) this.#release(sensor);
    } else if (event.kind === "tick" && this.epoch !== -1 && event.epoch !== this.epoch) {
      return "gap"; // frames of a stream this window never joined
    }
    this.clockOffsetMs = event.serverTimeMs - nowMs;
    for (const m of event.metrics) {
      if (this.metrics[m.index]) continue;
      const columns: MetricColumns = {
        name: m.name,
        has: new Uint8Array(0),
        last: new Float64Array(0),
        avg: new Float64Array(0),
        min: new Float64Array(0),
        max: new Float64Array(0),
        timeMs: new Float64Array(0),
        spark: new SparkRings(this.#sparkOptions),
      };
      growMetricColumns(columns, this.capacity);
      this.metrics[m.index] = columns;
    }
    // Rows whose sensor started over: the old one's slot goes; they enter again, whole, below.
    for (const sensor of event.restarted ?? []) this.#release(sensor);
    const enteredSlots: number[] = [];
    for (const e of event.entered) {
      let slot = this.slotOf(e.index);
      if (slot < 0 || this.ids[slot] !== e.id) {
        if (slot >= 0) this.#release(e.index);
        slot = this.#take(e.index);
        this.enteredRows++;
      }
      this.ids[slot] = e.id;
      this.groups[slot] = e.group;
      enteredSlots.push(slot);
    }
    const u = event.updates;
    for (let i = 0; i < u.length; i++) {
      const slot = this.slotOf(u.sensor[i]);
      const m = this.metrics[u.metric[i]];
      if (slot < 0 || !m) continue;
      const step = this.stepOf(m.name);
      const before = m.last[slot];
      if (
        m.has[slot] === 1 &&
        (step > 0
          ? Math.round(before / step) !== Math.round(u.last[i] / step)
          : before !== u.last[i])
      ) this.changedAt[slot] = nowMs;
      m.has[slot] = 1;
      m.last[slot] = u.last[i];
      m.avg[slot] = u.avg[i];
      m.min[slot] = u.min[i];
      m.max[slot] = u.max[i];
      m.timeMs[slot] = u.timeMs[i];
      m.spark.push(slot, u.timeMs[i], u.last[i]);
      if (!(this.eventMs[slot] >= u.timeMs[i])) this.eventMs[slot] = u.timeMs[i];
      if (this.#followSink && this.ids[slot] === this.#followId) {
        this.#followSink(m.name, u.timeMs[i], u.last[i]);
      }
    }
    if (event.kind === "tick") this.updatesApplied += u.length;
    // Entering rows are not "changed" now: they only came into view.
    for (const slot of enteredSlots) this.changedAt[slot] = 0;
    // Rows whose newest event time came with metrics this page hides (not sent).
    for (const [sensor, ms] of event.seen) {
      const slot = this.slotOf(sensor);
      if (slot >= 0 && !(this.eventMs[slot] >= ms)) this.eventMs[slot] = ms;
    }
    for (const [sensor, status] of event.statuses) {
      const slot = this.slotOf(sensor);
      if (slot >= 0) this.statuses[slot] = status;
    }
    for (const [sensor, code] of event.attention ?? []) {
      const slot = this.slotOf(sensor);
      if (slot < 0 || this.attention[slot] === code) continue;
      // A row entering with its state is no change; a row whose state moved is.
      if (!enteredSlots.includes(slot)) this.attentionChangedAt[slot] = nowMs;
      this.attention[slot] = code;
    }
    for (const column of event.sparks) {
      const m = this.metrics[column.metric];
      let at = 0;
      event.entered.forEach((e, r) => {
        const count = column.counts[r];
        const slot = this.slotOf(e.index);
        if (m && slot >= 0 && count > 0) {
          m.spark.load(slot, column.points.subarray(at, at + count), column.newestBucket[r]);
        }
        at += count;
      });
    }
    if (event.rows) {
      this.rows = event.rows;
      const keep = new Set(event.rows);
      for (const sensor of [...this.#slots.keys()]) if (!keep.has(sensor)) this.#release(sensor);
    }
    this.epoch = event.epoch;
    this.seq = event.seq;
    this.onStream = event.onStream;
    this.total = event.total;
    this.matching = event.matching;
    this.offset = event.offset;
    this.intervalMs = event.intervalMs;
    if (event.countWindow) this.countWindow = event.countWindow;
    if (event.attentionCounts) this.attentionCounts = event.attentionCounts;
    return "applied";
  }

  #take(sensor: number): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#sensorOf.length;
      if (slot >= this.capacity) this.#grow(Math.max(64, this.capacity * 2));
    }
    this.#slots.set(sensor, slot);
    this.#sensorOf[slot] = sensor;
    this.statuses[slot] = null;
    this.attention[slot] = 0;
    this.attentionChangedAt[slot] = 0;
    this.eventMs[slot] = -Infinity;
    for (const m of this.metrics) {
      if (!m) continue;
      m.has[slot] = 0;
      m.spark.clear(slot);
    }
    return slot;
  }

  #release(sensor: number): void {
    const slot = this.#slots.get(sensor);
    if (slot === undefined) return;
    this.#slots.delete(sensor);
    this.ids[slot] = undefined;
    this.groups[slot] = undefined;
    this.#free.push(slot);
  }

  #grow(capacity: number): void {
    const changed = new Float64Array(capacity);
    changed.set(this.changedAt);
    this.changedAt = changed;
    const events = new Float64Array(capacity);
    events.set(this.eventMs);
    this.eventMs = events;
    const attention = new Uint8Array(capacity);
    attention.set(this.attention);
    this.attention = attention;
    const attentionAt = new Float64Array(capacity);
    attentionAt.set(this.attentionChangedAt);
    this.attentionChangedAt = attentionAt;
    for (const m of this.metrics) if (m) growMetricColumns(m, capacity);
    this.capacity = capacity;
  }
}
