import { MovingWindow } from "./moving_window.ts";
import { DEFAULT_WINDOW_SPEC, EventWindowStore, SLOT_LENGTH } from "./event_window_store.ts";
import type { HeldWindow, WindowRegion, WindowSpec } from "./event_window_store.ts";
import type {
  ShardChanges,
  ShardCheckpoint,
  ShardHeldWindows,
  ShardMessage,
  ShardReadings,
} from "./shard_messages.ts";
import type { Behavior } from "../runtime/mod.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";
import type { MetricEntry, SensorEntry, WindowStates } from "../../protocol/columns.ts";
import { DEFAULT_GROUP } from "../../protocol/reading_block.ts";
import type { MetricsMeta, Thresholds } from "../../protocol/metric_meta.ts";
import { statusLevel, ThresholdLevels } from "./threshold_levels.ts";

export interface ShardOptions {
  /** Readings in the moving-average window. Default 50. */
  window?: number;
  /** Event-time window sizes and grace. Default 1 s, 10 s, 1 min; 5 s. */
  windowSpec?: WindowSpec;
  /** True after a restart: drop readings until a `restore` message. */
  awaitingReplay?: boolean;
  /** State to start from (a checkpoint). */
  state?: ShardCheckpoint | null;
  /** Metric metadata: readings are judged by its thresholds. Default: none. */
  metrics?: MetricsMeta;
}

interface TrackedMetric {
  sensor: number;
  metric: number;
  window: MovingWindow;
  events: WindowRegion;
  /** Its cell in the shard's `ThresholdLevels`. */
  cell: number;
}

interface SensorState {
  entry: SensorEntry;
  /** Readings of this sensor dropped from the event-time windows as late. */
  lateDropped: number;
  lateDirty: boolean;
  /** Status of its newest reading (by event time) that had one; "" for none yet. */
  status: string;
  statusTimeMs: number;
  statusDirty: boolean;
  /** Metric index → its window. */
  metrics: Map<number, TrackedMetric>;
  infoDirty: boolean;
  /** Its attention level from thresholds and status (0 ok, 1 warn, 2 critical). */
  level: number;
  statusLevel: number;
  levelDirty: boolean;
}

/**
 * One shard's actor: it owns the state of its sensors, and the only way in is
 * a message. Readings update windows and mark them dirty; a flush hands over
 * what changed since the previous one (latest state per metric) and clears it.
 */
export class ShardBehavior implements Behavior<ShardMessage> {
  readonly #window: number;
  #windows: EventWindowStore;
  #lateSensors: SensorState[] = [];
  #statusSensors: SensorState[] = [];
  #awaitingReplay: boolean;
  readonly #sensors = new Map<number, SensorState>();
  readonly #metricNames = new Map<number, string>();
  #newMetrics: MetricEntry[] = [];
  #dirtySensors: SensorState[] = [];
  #dirty: TrackedMetric[] = [];
  /** Sensors removed since the last flush. */
  #removed: number[] = [];
  // Threshold levels: one cell per tracked metric, reused after a removal.
  readonly #meta: MetricsMeta;
  readonly #levels = new ThresholdLevels();
  #cells = 0;
  #freeCells: number[] = [];
  /** By metric index: its thresholds, null for none, undefined before first asked. */
  #thresholds: (Thresholds | null | undefined)[] = [];
  #levelSensors: SensorState[] = [];

  constructor(options: ShardOptions = {}) {
    this.#window = options.window ?? 50;
    this.#windows = new EventWindowStore(options.windowSpec ?? DEFAULT_WINDOW_SPEC);
    this.#awaitingReplay = options.awaitingReplay ?? false;
    this.#meta = options.metrics ?? {};
    if (options.state) this.#restore(options.state);
  }

  receive(message: ShardMessage): void {
    switch (message.type) {
      case "readings":
        if (!this.#awaitingReplay) this.#apply(message);
        return;
      case "flush":
        message.reply(this.#flush());
        return;
      case "state":
        message.reply(this.#awaitingReplay ? null : this.#state());
        return;
      case "checkpoint":
        message.reply(this.#awaitingReplay ? null : this.#save());
        return;
      case "restore":
        this.#sensors.clear();
        this.#metricNames.clear();
        this.#newMetrics = [];
        this.#dirtySensors = [];
        this.#dirty = [];
        this.#lateSensors = [];
        this.#statusSensors = [];
        this.#removed = [];
        this.#levelSensors = [];
        this.#thresholds = [];
        this.#cells = 0;
        this.#freeCells = [];
        this.#windows = new EventWindowStore(this.#windows.spec);
        if (message.state) this.#restore(message.state);
        this.#awaitingReplay = false;
        return;
      case "remove":
        if (!this.#awaitingReplay) this.#remove(message.sensor);
        return;
      case "heldWindows":
        message.reply(this.#awaitingReplay ? null : this.#held(message));
        return;
      default: {
        const unknown: never = message;
        throw new TypeError(`Shard cannot handle ${JSON.stringify(unknown)}`);
      }
    }
  }

  #held({ sensor, metric, size }: ShardHeldWindows): HeldWindow[] {
    const metrics = this.#sensors.get(sensor)?.metrics;
    if (!metrics || size >= this.#windows.spec.sizesMs.length) return [];
    for (const [index, tracked] of metrics) {
      if (this.#metricNames.get(index) === metric) {
        return this.#windows.heldWindows(tracked.events, size);
      }
    }
    return [];
  }

  #apply({ block, rows, sensorIndex, metricIndex }: ShardReadings): void {
    const strings = block.strings;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      const sensor = this.#sensor(
        sensorIndex[block.sensor[row]],
        strings[block.sensor[row]],
        strings[block.group[row]],
      );
      const timeMs = block.timeMs[row];
      const status = strings[block.status[row]];
      if (status !== "" && timeMs >= sensor.statusTimeMs) {
        sensor.statusTimeMs = timeMs;
        if (status !== sensor.status) {
          sensor.status = status;
          sensor.statusLevel = statusLevel(status);
          this.#relevel(sensor);
          if (!sensor.statusDirty) {
            sensor.statusDirty = true;
            this.#statusSensors.push(sensor);
          }
        }
      }
      const late = this.#windows.isLate(timeMs);
      if (late) {
        this.#windows.lateDropped++;
        sensor.lateDropped++;
        if (!sensor.lateDirty) {
          sensor.lateDirty = true;
          this.#lateSensors.push(sensor);
        }
      }
      for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) {
        const metric = metricIndex[block.metric[v]];
        if (metric < 0) continue;
        let tracked = sensor.metrics.get(metric);
        if (tracked === undefined) {
          tracked = {
            sensor: sensor.entry.index,
            metric,
            window: new MovingWindow(this.#window),
            events: this.#windows.windowsFor(sensor.entry.index, metric),
            cell: this.#newCell(),
          };
          sensor.metrics.set(metric, tracked);
          if (!this.#metricNames.has(metric)) {
            const name = strings[block.metric[v]];
            this.#metricNames.set(metric, name);
            this.#newMetrics.push({ index: metric, name });
          }
        }
        if (!tracked.window.dirty) this.#dirty.push(tracked);
        tracked.window.add(block.value[v], timeMs);
        if (!late) this.#windows.add(tracked.events, block.value[v], timeMs);
        const known = this.#thresholds[metric];
        const thresholds = known === undefined ? this.#thresholdsOf(metric) : known;
        if (
          thresholds !== null &&
          this.#levels.observe(tracked.cell, thresholds, block.value[v], timeMs)
        ) {
          this.#relevel(sensor);
        }
      }
    }
  }

  /** Forgets a sensor; dirty lists are filtered by identity at the next flush. */
  #remove(index: number): void {
    const sensor = this.#sensors.get(index);
    if (!sensor) return;
    for (const tracked of sensor.metrics.values()) {
      this.#windows.forget(tracked.events);
      this.#levels.clear(tracked.cell);
      this.#freeCells.push(tracked.cell);
    }
    this.#sensors.delete(index);
    this.#removed.push(index);
  }

  #sensor(index: number, id: string, rawGroup: string): SensorState {
    const group = rawGroup === "" ? DEFAULT_GROUP : rawGroup;
    let state = this.#sensors.get(index);
    if (state === undefined) {
      state = this.#newSensor({ index, id, group });
    } else if (state.entry.group !== group) {
      state.entry = { index, id, group };
      if (!state.infoDirty) {
        state.infoDirty = true;
        this.#dirtySensors.push(state);
      }
    }
    return state;
  }

  /** A sensor seen for the first time (or restored): new, so its entry is dirty. */
  #newSensor(entry: SensorEntry): SensorState {
    const sensor: SensorState = {
      entry,
      metrics: new Map(),
      infoDirty: true,
      lateDropped: 0,
      lateDirty: false,
      status: "",
      statusTimeMs: -Infinity,
      statusDirty: false,
      level: 0,
      statusLevel: 0,
      levelDirty: false,
    };
    this.#sensors.set(entry.index, sensor);
    this.#dirtySensors.push(sensor);
    return sensor;
  }

  #newCell(): number {
    const cell = this.#freeCells.pop() ?? this.#cells++;
    this.#levels.ensure(cell + 1);
    return cell;
  }

  #thresholdsOf(metric: number): Thresholds | null {
    const name = this.#metricNames.get(metric);
    const thresholds = name === undefined ? null : this.#meta[name]?.thresholds ?? null;
    this.#thresholds[metric] = thresholds;
    return thresholds;
  }

  /** A metric's level or the status changed: the sensor's is the highest; dirty if it moved. */
  #relevel(sensor: SensorState): void {
    let level = sensor.statusLevel;
    for (const tracked of sensor.metrics.values()) {
      level = Math.max(level, this.#levels.level(tracked.cell));
    }
    if (level === sensor.level) return;
    sensor.level = level;
    if (!sensor.levelDirty) {
      sensor.levelDirty = true;
      this.#levelSensors.push(sensor);
    }
  }

  #save(): ShardCheckpoint {
    const slots = this.#windows.totalSlots * SLOT_LENGTH;
    const record = 2 + MovingWindow.recordLength(this.#window) + slots;
    let windows = 0;
    for (const sensor of this.#sensors.values()) windows += sensor.metrics.size;
    const data = new Float64Array(windows * record);
    const sensors: ShardCheckpoint["sensors"] = [];
    let at = 0;
    const late: [number, number][] = [];
    const statuses: [number, string, number][] = [];
    const levels = new Float64Array(windows * (2 + ThresholdLevels.RECORD));
    let levelAt = 0;
    for (const { entry, metrics, lateDropped, status, statusTimeMs } of this.#sensors.values()) {
      sensors.push([entry.index, entry.id, entry.group]);
      for (const tracked of metrics.values()) {
        levels[levelAt] = tracked.sensor;
        levels[levelAt + 1] = tracked.metric;
        levelAt = this.#levels.save(tracked.cell, levels, levelAt + 2);
      }
      if (status !== "") statuses.push([entry.index, status, statusTimeMs]);
      if (lateDropped > 0) late.push([entry.index, lateDropped]);
      for (const tracked of metrics.values()) {
        data[at] = tracked.sensor;
        data[at + 1] = tracked.metric;
        at = tracked.window.save(data, at + 2);
        data.set(this.#windows.slotsOf(tracked.events), at);
        at += slots;
      }
    }
    return {
      window: this.#window,
      sensors,
      metrics: [...this.#metricNames],
      windows: data,
      events: {
        spec: this.#windows.spec,
        slotLength: SLOT_LENGTH,
        newestMs: Number.isFinite(this.#windows.newestMs) ? this.#windows.newestMs : null,
        lateDropped: this.#windows.lateDropped,
        late,
        pending: this.#windows.savePending(),
      },
      statuses,
      // In the store's JSON header, where NaN becomes null (read back as NaN).
      thresholdLevels: Array.from(levels),
    };
  }

  /** Adopts a saved state and marks all of it changed, so the hub learns it. */
  #restore(state: ShardCheckpoint): void {
    if (state.window !== this.#window) {
      throw new RangeError(
        `Cannot restore a shard saved with window ${state.window} into window ${this.#window}`,
      );
    }
    if (
      !sameSpec(state.events.spec, this.#windows.spec) || state.events.slotLength !== SLOT_LENGTH
    ) {
      throw new RangeError(
        `Cannot restore a shard saved with event windows ${
          JSON.stringify(state.events.spec)
        } into ${JSON.stringify(this.#windows.spec)}`,
      );
    }
    this.#windows.newestMs = state.events.newestMs ?? -Infinity;
    this.#windows.lateDropped = state.events.lateDropped;
    for (const [index, id, group] of state.sensors) this.#newSensor({ index, id, group });
    for (const [index, status, timeMs] of state.statuses ?? []) {
      const sensor = this.#sensors.get(index);
      if (!sensor) throw new RangeError(`Cannot restore: status of unknown sensor ${index}`);
      sensor.status = status;
      sensor.statusLevel = statusLevel(status);
      sensor.statusTimeMs = timeMs;
      sensor.statusDirty = true;
      this.#statusSensors.push(sensor);
    }
    for (const [index, count] of state.events.late) {
      const sensor = this.#sensors.get(index);
      if (!sensor) throw new RangeError(`Cannot restore: late count for unknown sensor ${index}`);
      sensor.lateDropped = count;
      sensor.lateDirty = true;
      this.#lateSensors.push(sensor);
    }
    const pending = state.events.pending ?? [];
    for (const [index, name] of state.metrics) {
      this.#metricNames.set(index, name);
      this.#newMetrics.push({ index, name });
    }
    const data = state.windows;
    for (let at = 0; at < data.length;) {
      const sensor = this.#sensors.get(data[at]);
      if (!sensor) throw new RangeError(`Cannot restore: window for unknown sensor ${data[at]}`);
      const tracked = {
        sensor: data[at],
        metric: data[at + 1],
        window: new MovingWindow(this.#window),
        events: this.#windows.windowsFor(data[at], data[at + 1]),
        cell: this.#newCell(),
      };
      at = tracked.window.restore(data, at + 2);
      const slots = this.#windows.slotsOf(tracked.events);
      slots.set(data.subarray(at, at + slots.length));
      at += slots.length;
      this.#windows.adopt(tracked.events);
      tracked.window.dirty = true;
      sensor.metrics.set(tracked.metric, tracked);
      this.#dirty.push(tracked);
    }
    this.#windows.restorePending(pending);
    // Threshold state per metric (absent in checkpoints from before it was kept).
    const levels = Float64Array.from(state.thresholdLevels ?? [], (x) => x ?? NaN);
    for (let at = 0; at < levels.length;) {
      const tracked = this.#sensors.get(levels[at])?.metrics.get(levels[at + 1]);
      if (!tracked) {
        throw new RangeError(`Cannot restore: threshold level of unknown window ${levels[at]}`);
      }
      at = this.#levels.restore(tracked.cell, levels, at + 2);
    }
    for (const sensor of this.#sensors.values()) this.#relevel(sensor);
  }

  /** Everything held, as a flush would list it; nothing is marked clean. */
  #state(): ShardChanges {
    const sensors: SensorEntry[] = [];
    const late: [number, number][] = [];
    const statuses: [number, string][] = [];
    const levels: [number, number][] = [];
    const tracked: TrackedMetric[] = [];
    for (const sensor of this.#sensors.values()) {
      sensors.push(sensor.entry);
      if (sensor.lateDropped > 0) late.push([sensor.entry.index, sensor.lateDropped]);
      if (sensor.status !== "") statuses.push([sensor.entry.index, sensor.status]);
      if (sensor.level !== 0) levels.push([sensor.entry.index, sensor.level]);
      for (const metric of sensor.metrics.values()) tracked.push(metric);
    }
    const updates = allocateStates(tracked.length);
    tracked.forEach(({ sensor, metric, window }, i) => {
      updates.sensor[i] = sensor;
      updates.metric[i] = metric;
      updates.last[i] = window.last;
      updates.avg[i] = window.average;
      updates.min[i] = window.min;
      updates.max[i] = window.max;
      updates.timeMs[i] = window.timeMs;
    });
    return {
      sensors,
      metrics: [...this.#metricNames].map(([index, name]) => ({ index, name })),
      updates,
      windows: this.#windows.endedWindows(tracked.map((t) => t.events)),
      late,
      statuses,
      levels,
      removed: [],
    };
  }

  #flush(): ShardChanges {
    const removed = this.#removed;
    this.#removed = [];
    // After a removal, entries of the removed sensor (or its earlier self) are stale.
    const live = (s: SensorState) => removed.length === 0 || this.#sensors.get(s.entry.index) === s;
    const sensors = this.#dirtySensors.filter(live).map((s) => {
      s.infoDirty = false;
      return s.entry;
    });
    const metrics = this.#newMetrics;
    const dirty = removed.length === 0
      ? this.#dirty
      : this.#dirty.filter((t) => this.#sensors.get(t.sensor)?.metrics.get(t.metric) === t);
    this.#dirtySensors = [];
    this.#newMetrics = [];
    this.#dirty = [];
    const updates = allocateStates(dirty.length);
    for (let i = 0; i < dirty.length; i++) {
      const { sensor, metric, window } = dirty[i];
      updates.sensor[i] = sensor;
      updates.metric[i] = metric;
      updates.last[i] = window.last;
      updates.avg[i] = window.average;
      updates.min[i] = window.min;
      updates.max[i] = window.max;
      updates.timeMs[i] = window.timeMs;
      window.dirty = false;
    }
    const late = this.#lateSensors.filter(live).map((s): [number, number] => {
      s.lateDirty = false;
      return [s.entry.index, s.lateDropped];
    });
    this.#lateSensors = [];
    const statuses = this.#statusSensors.filter(live).map((s): [number, string] => {
      s.statusDirty = false;
      return [s.entry.index, s.status];
    });
    this.#statusSensors = [];
    let windows = this.#windows.take();
    if (removed.length > 0) {
      windows = keepWindows(windows, (i) => this.#sensors.has(windows.sensor[i]));
    }
    const levels = this.#levelSensors.filter(live).map((s): [number, number] => {
      s.levelDirty = false;
      return [s.entry.index, s.level];
    });
    this.#levelSensors = [];
    return { sensors, metrics, updates, windows, late, statuses, levels, removed };
  }
}

/** The windows for which `keep` is true (closed windows of removed sensors are dropped). */
function keepWindows(from: WindowStates, keep: (i: number) => boolean): WindowStates {
  const rows: number[] = [];
  for (let i = 0; i < from.length; i++) if (keep(i)) rows.push(i);
  if (rows.length === from.length) return from;
  const out = allocateWindowStates(rows.length);
  rows.forEach((i, j) => {
    out.sensor[j] = from.sensor[i];
    out.metric[j] = from.metric[i];
    out.size[j] = from.size[i];
    out.flags[j] = from.flags[i];
    out.startMs[j] = from.startMs[i];
    out.count[j] = from.count[i];
    out.sum[j] = from.sum[i];
    out.min[j] = from.min[i];
    out.max[j] = from.max[i];
    out.std[j] = from.std[i];
  });
  return out;
}

function sameSpec(a: WindowSpec, b: WindowSpec): boolean {
  return a.graceMs === b.graceMs && a.sizesMs.length === b.sizesMs.length &&
    a.sizesMs.every((size, k) => size === b.sizesMs[k]);
}
