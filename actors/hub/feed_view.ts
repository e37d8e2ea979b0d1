import type { ShardChanges } from "../shards/shard_messages.ts";
import {
  allocateWindowStates,
  copyStatesAt,
  copyWindowStatesAt,
  viewWindowStates,
} from "../../protocol/columns.ts";
import type {
  MetricEntry,
  MetricStates,
  SensorEntry,
  WindowStates,
} from "../../protocol/columns.ts";
import { AttentionBoard } from "./attention_board.ts";
import { SlotIndex } from "./slot_index.ts";
import { ValueRecords } from "./value_records.ts";
import {
  packedPrevious,
  packedStates,
  previousBuffer,
  statesBuffer,
  windowsBuffer,
} from "./packed_columns.ts";
import type { PreviousColumns } from "./packed_columns.ts";
export type { PreviousColumns };
import type { AttentionOptions } from "./attention_board.ts";
import { grownCapacity } from "./capacity.ts";

/** What changed in one tick, over all shards. */
export interface TickChanges {
  sensors: SensorEntry[];
  metrics: MetricEntry[];
  /**
   * The tick's updates. This, `previous` and `windows` are the view's own
   * buffers, used in turn: valid until the second `apply` after this one
   * (copy what must be kept longer).
   */
  updates: MetricStates;
  /** The values each update replaced, aligned with `updates`. */
  previous: PreviousColumns;
  /** `[sensor, status]` for sensors whose status changed in the tick. */
  statuses: [number, string][];
  /** Windows published this tick (provisional, revised or final). */
  windows: WindowStates;
  /** `[sensor, late readings so far]` for sensors whose count grew. */
  late: [number, number][];
  /** Sensors removed this tick (and not re-added in it). */
  removed: number[];
  /**
   * Sensors removed and re-added in this tick: they start over. The view
   * holds only what came after the removal (their entries are in `sensors`,
   * their values in `updates`, fresh: `previous.has` 0); whatever a consumer
   * keeps of a sensor must be dropped for these first, as for a removal,
   * then taken from this tick as for a sensor that is new.
   */
  restarted: number[];
  /** `[sensor, attention code]` for sensors whose attention state changed this tick (`judge`). */
  attention?: [number, number][];
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
  /** (sensor, metric) → slot in `#values`. */
  readonly #slots = new SlotIndex();
  readonly #values = new ValueRecords(1024);
  #used = 0;
  /** Window sizes a key makes room for (`windowSizes`, at most 8). */
  readonly #sizes: number;
  /** (sensor, metric * `#sizes` + size) → slot in `#windows`: the latest ended window. */
  // Direct for up to 4 metrics of every size: a restart's 700,000 windows are then not hashed
  // (the table rehashed 16 times on its way there). 4 × 8 sizes when 3 are used was 13 MB of
  // zeros at 100,000 sensors; 4 × 3 is 4.8 MB.
  readonly #windowSlots: SlotIndex;
  #windows: WindowStates = allocateWindowStates(1024);
  #windowsUsed = 0;
  #late = new Float64Array(1024);
  /** The tick's merged columns, two buffers in turn (see `TickChanges`). */
  readonly #updates = statesBuffer();
  readonly #previous = previousBuffer();
  readonly #merged = windowsBuffer();
  /** Sum of `#late`. */
  lateTotal = 0;
  readonly #status: string[] = [];
  /** Each sensor's attention state (the shards' levels, and silence at the tick). */
  readonly attention: AttentionBoard;

  /** `windowSizes`: how many window sizes the shards publish (default 8, the most they may). */
  constructor(options: { attention?: AttentionOptions; windowSizes?: number } = {}) {
    this.attention = new AttentionBoard(options.attention);
    const sizes = options.windowSizes ?? 8;
    if (!(Number.isInteger(sizes) && sizes >= 0 && sizes <= 8)) {
      throw new RangeError(`Cannot keep windows of ${sizes} sizes: 0 to 8`);
    }
    this.#sizes = Math.max(1, sizes);
    this.#windowSlots = new SlotIndex(16, { directWidth: 4 * this.#sizes });
  }

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
    const late: [number, number][] = [];
    const removed: number[] = [];
    const statuses: [number, string][] = [];
    let total = 0;
    let windowTotal = 0;
    let levelsChanged = false;
    // The tick's highest sensor first: a restart's first tick grows every table once, to hold all.
    let sensorTop = 0;
    for (const change of changes) {
      const entered = change?.sensors ?? [];
      for (let j = 0; j < entered.length; j++) {
        if (entered[j].index >= sensorTop) sensorTop = entered[j].index + 1;
      }
    }
    this.#slots.reserve(sensorTop);
    this.#windowSlots.reserve(sensorTop);
    this.attention.reserve(sensorTop);
    for (const change of changes) {
      if (!change) continue;
      // Removals first: a sensor removed and re-added in one flush is listed in both.
      for (const sensor of change.removed ?? []) {
        if (!this.#remove(sensor)) continue;
        removed.push(sensor);
        // Before the flush's levels: a re-added sensor's level is its own.
        this.attention.remove(sensor);
      }
      total += change.updates.length;
      windowTotal += change.windows.length;
      const levels = change.levels;
      if (levels && levels.sensor.length > 0) {
        for (let j = 0; j < levels.sensor.length; j++) {
          this.attention.setLevel(levels.sensor[j], levels.level[j]);
        }
        levelsChanged = true;
      }
      // Indexed loops, entries passed on as they are: a restart's first tick
      // runs these over 100,000 sensors with the code still cold, where
      // for-of with destructuring and a new pair each took several times as long.
      const st = change.statuses;
      for (let j = 0; j < st.length; j++) {
        const entry = st[j];
        const sensor = entry[0];
        if (this.#status[sensor] === entry[1]) continue;
        this.#status[sensor] = entry[1];
        statuses.push(entry);
      }
      for (const entry of change.late) {
        this.#setLate(entry[0], entry[1]);
        late.push(entry);
      }
      const entered = change.sensors;
      for (let j = 0; j < entered.length; j++) {
        const sensor = entered[j];
        const index = sensor.index;
        if (this.#sensors[index] === undefined) this.#sensorCount++;
        this.#sensors[index] = sensor;
        sensors.push(sensor);
      }
      for (const metric of change.metrics) {
        if (this.#metrics[metric.index] !== undefined) continue;
        this.#metrics[metric.index] = metric;
        metrics.push(metric);
      }
    }
    if (
      total === 0 && sensors.length === 0 && metrics.length === 0 && windowTotal === 0 &&
      late.length === 0 && removed.length === 0 && statuses.length === 0 && !levelsChanged
    ) return null;
    const updates = this.#updates.next(total);
    let at = 0;
    for (const change of changes) {
      // A shard with nothing of a kind this tick costs no copies (seven calls per shard per tick).
      if (!change || change.updates.length === 0) continue;
      // A shard here hands out its reused columns whole: only `length` entries are copied.
      copyStatesAt(change.updates, updates, at);
      at += change.updates.length;
    }
    const previous = this.#previous.next(total);
    previous.has.fill(0);
    let i = this.#used === 0 ? this.#storeFresh(updates) : 0;
    for (; i < total; i++) this.#store(updates, i, previous, total - i);
    const windows = this.#merged.next(windowTotal);
    at = 0;
    for (const change of changes) {
      if (!change || change.windows.length === 0) continue;
      copyWindowStatesAt(change.windows, windows, at);
      at += change.windows.length;
    }
    if (this.#windowsUsed === 0) this.#storeFreshWindows(windows);
    else for (i = 0; i < windowTotal; i++) this.#storeWindow(windows, i, windowTotal - i);
    let gone = removed;
    let restarted: number[] = [];
    if (removed.length > 0) {
      // Back in the same flush: not gone, started over (downstream must forget the old one).
      const readded = new Set<number>();
      for (const s of sensors) if (this.#sensors[s.index] !== undefined) readded.add(s.index);
      gone = removed.filter((s) => !readded.has(s));
      if (gone.length < removed.length) restarted = removed.filter((s) => readded.has(s));
    }
    return {
      sensors,
      metrics,
      updates,
      previous,
      statuses,
      windows,
      late,
      removed: gone,
      restarted,
    };
  }

  /**
   * Judges attention at the tick: the merged changes' sensors and readings
   * arrive at `now`, then every sensor is judged. Returns the changes with
   * `attention` set (an otherwise empty change when only silence changed
   * something), or null when nothing changed at all.
   */
  judge(merged: TickChanges | null, now: number): TickChanges | null {
    if (merged) {
      for (const sensor of merged.removed) this.attention.remove(sensor);
      this.attention.enter(merged.sensors, now);
      this.attention.arrive(merged.updates, now);
    }
    const attention: [number, number][] = [];
    this.attention.evaluate(now, attention);
    if (merged) {
      merged.attention = attention;
      return merged;
    }
    if (attention.length === 0) return null;
    return {
      sensors: [],
      metrics: [],
      updates: packedStates(0),
      previous: packedPrevious(0),
      statuses: [],
      windows: allocateWindowStates(0),
      late: [],
      removed: [],
      restarted: [],
      attention,
    };
  }

  /** Drops a sensor with its values, windows, late count and status; false if unknown. */
  #remove(sensor: number): boolean {
    if (this.#sensors[sensor] === undefined) return false;
    delete this.#sensors[sensor];
    this.#sensorCount--;
    delete this.#status[sensor];
    if (sensor < this.#late.length) this.#setLate(sensor, 0);
    for (let metric = 0; metric < this.#metrics.length; metric++) {
      const slot = this.#slots.get(sensor, metric);
      if (slot >= 0) {
        // Move the last slot into the hole, so the columns stay dense.
        const last = --this.#used;
        const v = this.#values;
        if (slot !== last) {
          v.move(last, slot);
          this.#slots.set(v.sensor(slot), v.metric(slot), slot);
        }
        this.#slots.delete(sensor, metric);
      }
      const sizes = this.#sizes;
      for (let size = 0; size < sizes; size++) {
        const wslot = this.#windowSlots.get(sensor, metric * sizes + size);
        if (wslot < 0) continue;
        const last = --this.#windowsUsed;
        const w = this.#windows;
        if (wslot !== last) {
          copyWindow(w, last, w, wslot);
          this.#windowSlots.set(w.sensor[wslot], w.metric[wslot] * sizes + w.size[wslot], wslot);
        }
        this.#windowSlots.delete(sensor, metric * sizes + size);
      }
    }
    return true;
  }

  /** The status of the sensor's newest reading that had one, or null. */
  status(sensor: number): string | null {
    return this.#status[sensor] ?? null;
  }

  /** Readings of `sensor` dropped as late so far. */
  lateDropped(sensor: number): number {
    return sensor < this.#late.length ? this.#late[sensor] : 0;
  }

  /** Every sensor's late count that is not zero. */
  lateCounts(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.#late.length; i++) if (this.#late[i] > 0) out.push([i, this.#late[i]]);
    return out;
  }

  /** The latest ended window of every sensor, metric and size. */
  windows(): WindowStates {
    return viewWindowStates(this.#windows, this.#windowsUsed);
  }

  /** Slot of the latest ended window of one sensor's metric and size, or -1. */
  windowSlot(sensor: number, metric: number, size: number): number {
    return size < this.#sizes ? this.#windowSlots.get(sensor, metric * this.#sizes + size) : -1;
  }

  /** The columns `windowSlot` indexes into (valid until the next `apply`). */
  get windowColumns(): WindowStates {
    return this.#windows;
  }

  /** Every metric's latest value, a record per slot (`valueSlot`; read before the next `apply`). */
  get values(): ValueRecords {
    return this.#values;
  }

  /** Slot of a sensor metric's latest value, or -1. */
  valueSlot(sensor: number, metric: number): number {
    return this.#slots.get(sensor, metric);
  }

  metricName(index: number): string | undefined {
    return this.#metrics[index]?.name;
  }

  /** Every known metric. */
  metrics(): MetricEntry[] {
    return this.#metrics.filter((m) => m !== undefined);
  }

  #setLate(sensor: number, count: number): void {
    if (sensor >= this.#late.length) {
      const grown = new Float64Array(Math.max(sensor + 1, this.#late.length * 2));
      grown.set(this.#late);
      this.#late = grown;
    }
    this.lateTotal += count - this.#late[sensor];
    this.#late[sensor] = count;
  }

  /**
   * Into an empty view (the first tick after a restart: every state new),
   * the updates up to the first (sensor, metric) met twice take slots in
   * their own order and are copied column by column, not one by one.
   * Returns how many it stored; `#store` takes the rest.
   */
  #storeFresh(from: MetricStates): number {
    if (from.length > this.#values.capacity) this.#grow(from.length);
    let n = 0;
    while (n < from.length && this.#slots.claim(from.sensor[n], from.metric[n], n) < 0) n++;
    this.#values.fill(from, n);
    this.#used = n;
    return n;
  }

  /**
   * Stores every window into an empty view (a restart's 1,200,000, of
   * 900,000 keys: open and closed windows of the same size): first which row
   * each new slot keeps (the latest start; of equal starts the later row, as
   * `#storeWindow`), then the columns gathered one at a time.
   */
  #storeFreshWindows(from: WindowStates): void {
    const n = from.length;
    const sub = new Int32Array(n);
    const sizes = this.#sizes;
    for (let i = 0; i < n; i++) sub[i] = from.metric[i] * sizes + from.size[i];
    // Each row's slot (sub is reused for them), then which row each slot keeps.
    const used = this.#windowSlots.claimAll(from.sensor.subarray(0, n), sub, {
      into: sub,
      next: 0,
    });
    const rows = new Int32Array(used).fill(-1);
    const startMs = from.startMs;
    for (let i = 0; i < n; i++) {
      const slot = sub[i], kept = rows[slot];
      if (kept < 0 || !(startMs[kept] > startMs[i])) rows[slot] = i;
    }
    if (used > this.#windows.length) {
      this.#windows = allocateWindowStates(grownCapacity(this.#windows.length, used));
    }
    const to = this.#windows;
    // Each loop sees one array type: a loop over several (a shared helper) runs
    // several times slower on the first, cold, tick.
    for (let j = 0; j < used; j++) to.sensor[j] = from.sensor[rows[j]];
    for (let j = 0; j < used; j++) to.metric[j] = from.metric[rows[j]];
    for (let j = 0; j < used; j++) to.size[j] = from.size[rows[j]];
    for (let j = 0; j < used; j++) to.flags[j] = from.flags[rows[j]];
    gather(from.startMs, to.startMs, rows, used);
    gather(from.count, to.count, rows, used);
    gather(from.sum, to.sum, rows, used);
    gather(from.min, to.min, rows, used);
    gather(from.max, to.max, rows, used);
    gather(from.std, to.std, rows, used);
    this.#windowsUsed = used;
  }

  /** Stores window `i`; `left` windows (this one included) are still to come in this merge. */
  #storeWindow(from: WindowStates, i: number, left: number): void {
    const sensor = from.sensor[i], sub = from.metric[i] * this.#sizes + from.size[i];
    let slot = this.#windowSlots.get(sensor, sub);
    if (slot < 0) {
      if (this.#windowsUsed === this.#windows.length) {
        // As for values: a restart's 700,000 windows grow it once. Room for every size of each
        // sensor metric held: the longest size's first windows (300,000 at 100,000 sensors, at
        // the first minute's end) then need no copy of those held, which was 34 MB of garbage at
        // the run's highest memory. Pages not yet written cost no memory.
        const grown = allocateWindowStates(
          grownCapacity(
            this.#windows.length,
            Math.max(this.#windowsUsed + left, this.#used * this.#sizes),
          ),
        );
        copyWindowStatesAt(this.#windows, grown, 0);
        this.#windows = grown;
      }
      slot = this.#windowsUsed++;
      this.#windowSlots.set(sensor, sub, slot);
    } else if (this.#windows.startMs[slot] > from.startMs[i]) {
      return; // a revision of an older window: the latest stays
    }
    copyWindow(from, i, this.#windows, slot);
  }

  /** Every known sensor. */
  sensors(): SensorEntry[] {
    return this.#sensors.filter((s) => s !== undefined);
  }

  /** One past the highest sensor index the view has held (`sensor(i)` is undefined from here on). */
  get sensorLimit(): number {
    return this.#sensors.length;
  }

  /** The sensor with this index, if known. */
  sensor(index: number): SensorEntry | undefined {
    return this.#sensors[index];
  }

  /** The full state: dictionaries and every metric's latest values. */
  snapshot(): { sensors: SensorEntry[]; metrics: MetricEntry[]; values: MetricStates } {
    return {
      sensors: this.#sensors.filter((s) => s !== undefined),
      metrics: this.#metrics.filter((m) => m !== undefined),
      values: this.#values.columns(this.#used),
    };
  }

  /**
   * Stores update `i`, first copying the value it replaces into `previous`;
   * `left` updates (this one included) are still to come in this merge.
   */
  #store(from: MetricStates, i: number, previous: PreviousColumns, left: number): void {
    const sensor = from.sensor[i], metric = from.metric[i];
    const slot = this.#slots.get(sensor, metric);
    if (slot >= 0) {
      previous.has[i] = 1;
      this.#values.swap(slot, from, i, previous);
      return;
    }
    // Room for all that may still come at once: a restart's 300,000 states grow it once, not 9 times.
    if (this.#used === this.#values.capacity) this.#grow(this.#used + left);
    const taken = this.#used++;
    this.#slots.set(sensor, metric, taken);
    // A slot's sensor and metric are written when it is taken (or moved into, `#remove`) only:
    // each update writing them again touched two more cache lines of the mirror.
    this.#values.own(taken, sensor, metric);
    this.#values.store(taken, from, i);
  }

  #grow(needed: number): void {
    this.#values.grow(grownCapacity(this.#values.capacity, needed), this.#used);
  }
}

function copyWindow(from: WindowStates, i: number, to: WindowStates, j: number): void {
  to.sensor[j] = from.sensor[i];
  to.metric[j] = from.metric[i];
  to.size[j] = from.size[i];
  to.flags[j] = from.flags[i];
  to.startMs[j] = from.startMs[i];
  to.count[j] = from.count[i];
  to.sum[j] = from.sum[i];
  to.min[j] = from.min[i];
  to.max[j] = from.max[i];
  to.std[j] = from.std[i];
}

/** to[j] = from[rows[j]] for j below n. */
function gather(from: Float64Array, to: Float64Array, rows: Int32Array, n: number): void {
  for (let j = 0; j < n; j++) to[j] = from[rows[j]];
}
