/**
 * One shard's sensors in columns, by the dense index the router gives each
 * sensor in its shard: per sensor its global index, group, status and late
 * count; per sensor metric a slot (chained from its sensor) with its moving
 * window (`MovingWindows`) and event-time windows (`EventWindowStore`, the
 * slot is the owner). No object per sensor or metric: columns grow by fixed
 * pages, dirty sets are index stacks. Pure: no clocks, no I/O, no
 * allocation per reading.
 */
import { MovingWindows } from "./moving_windows.ts";
import { DEFAULT_WINDOW_SPEC, EventWindowStore, SLOT_LENGTH } from "./event_window_store.ts";
import type { HeldWindow, WindowSpec } from "./event_window_store.ts";
import { checkShardImage, RING_FORM, SAVED_LEVELS, SAVED_LIVE } from "./shard_image_check.ts";
import { allocatePage, IMAGE_FORMAT, SENSOR_PAGE, SENSOR_PAGE_BITS } from "./shard_image.ts";
import type { PageParts, ShardHeader, ShardImage } from "./shard_image.ts";
import type { RoutedRows } from "./routed_rows.ts";
import type { SensorLevels, ShardChanges } from "./shard_messages.ts";
import { statusLevel, ThresholdLevels } from "./threshold_levels.ts";
import type { Thresholds } from "../../protocol/metric_meta.ts";
import {
  allocateStates,
  allocateWindowStates,
  prefixStates,
  STATE_BYTES,
} from "../../protocol/columns.ts";
import type {
  MetricEntry,
  MetricStates,
  PrefixStates,
  SensorEntry,
  WindowStates,
} from "../../protocol/columns.ts";
import { DEFAULT_GROUP } from "../../protocol/reading_block.ts";

/** Names for indexes, where the shard's output carries them (ids and metric names stay with the router). */
export interface ShardNames {
  sensorId(index: number): string | undefined;
  metricName(index: number): string | undefined;
}

/** The levels of a flush that changed none (`reuseColumns` only: nothing transfers their buffers). */
const NO_LEVELS: SensorLevels = Object.freeze({
  sensor: new Uint32Array(0),
  level: new Uint8Array(0),
});

/** The columns of a reused changes object before its first flush fills it. */
const NO_UPDATES: MetricStates = Object.freeze(allocateStates(0));
const NO_WINDOWS: WindowStates = Object.freeze(allocateWindowStates(0));

const PAGE = SENSOR_PAGE;
const BITS = SENSOR_PAGE_BITS;
const MASK = PAGE - 1;
const SLOT_BITS = 10;
const SLOT_PAGE = 1 << SLOT_BITS;
const SLOT_MASK = SLOT_PAGE - 1;

/** Sensor flags. */
const LIVE = 1, INFO_DIRTY = 2, LATE_DIRTY = 4, STATUS_DIRTY = 8, LEVEL_DIRTY = 16;

class SensorPage {
  readonly global = new Uint32Array(PAGE);
  readonly group = new Int32Array(PAGE);
  readonly status = new Int32Array(PAGE);
  readonly statusTimeMs = new Float64Array(PAGE);
  readonly late = new Float64Array(PAGE);
  readonly firstSlot = new Int32Array(PAGE).fill(-1);
  readonly flags = new Uint8Array(PAGE);
  /** Attention level (0 ok, 1 warn, 2 critical): the highest of its slots' and its status's. */
  readonly level = new Uint8Array(PAGE);
  readonly statusLevel = new Uint8Array(PAGE);
}

/**
 * Per slot, side by side (one cache line for a reading, not four columns):
 * its sensor, its metric, the next slot of the same sensor (-1: none) and
 * whether it is dirty (`v[j * SLOT + ...]`).
 */
class SlotPage {
  readonly v = new Int32Array(SLOT_PAGE * SLOT);
}
const SLOT = 4;
const SENSOR = 0, METRIC = 1, NEXT = 2, DIRTY = 3;

/** Interned strings (groups, statuses): index 0 is "". */
class StringTable {
  readonly strings: string[] = [""];
  readonly #index = new Map<string, number>([["", 0]]);
  intern(s: string): number {
    let i = this.#index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.#index.set(s, i);
    }
    return i;
  }
}

export interface ShardStateOptions {
  /** Readings in the moving-average window. Default 50. */
  window?: number;
  /** Event-time window sizes and grace. Default 1 s, 10 s, 1 min; 5 s. */
  windowSpec?: WindowSpec;
  names?: ShardNames;
  /** The thresholds a value's `judge` names (`ThresholdTable.list`). Default: none. */
  thresholds?: readonly Thresholds[];
  /**
   * A flush's changes are one of two objects the shard fills in turn, and
   * its update and window columns are buffers the shard writes again two
   * flushes later, handed out whole (columns may be longer than `length`),
   * for a reader in this isolate that copies them at once. Default false:
   * fresh objects and columns of exactly `length` each flush (they are
   * transferred to another thread).
   */
  reuseColumns?: boolean;
}

/** What a shard holds: live sensors, metric slots, open event windows, and bytes by structure. */
export interface ShardCounts {
  sensors: number;
  slots: number;
  windows: number;
  bytes: number;
  parts: {
    moving: number;
    events: number;
    sensors: number;
    slots: number;
    levels: number;
    out: number;
  };
}

export class ShardState {
  readonly window: number;
  readonly #names?: ShardNames;
  readonly #moving: MovingWindows;
  readonly #events: EventWindowStore;
  readonly #sensors: SensorPage[] = [];
  /** Sensor indexes in use: one past the highest seen. */
  #sensorCount = 0;
  readonly #slots: SlotPage[] = [];
  #slotCount = 0;
  readonly #freeSlots: number[] = [];
  readonly #groups = new StringTable();
  readonly #statuses = new StringTable();
  /** By status string: its level (`statusLevel`). */
  readonly #statusLevels: number[] = [0];
  readonly #thresholds: readonly Thresholds[];
  /** Threshold state per slot (the slot is the cell). */
  readonly #levels = new ThresholdLevels();
  /** Per sensor page: the checkpoint mark of its last change (see `image`). */
  readonly #pageMarks: number[] = [];
  /** Marks pages changed from now on: one more than the last checkpoint taken (0 before any). */
  #mark = 0;
  readonly #knownMetrics = new Uint8Array(65_536);
  #metricList: number[] = [];
  #newMetrics: number[] = [];
  #dirtySlots: number[] = [];
  #dirtySensors: number[] = [];
  #lateSensors: number[] = [];
  #statusSensors: number[] = [];
  #levelSensors: number[] = [];
  #removed: number[] = [];
  readonly #reuse: boolean;
  /**
   * With `reuseColumns`: the update buffer written next, and the one the last flush handed out
   * (each with its `length` set by the flush that hands it out; its columns' length is its room).
   */
  #updates: PrefixStates | null = null;
  #updatesOut: PrefixStates | null = null;
  /** With `reuseColumns`: the changes object filled next, and the one the last flush handed out. */
  #changes: ShardChanges | null = null;
  #changesOut: ShardChanges | null = null;
  /** Scratch of `apply`: per string of the message, its group and status id here. */
  #groupOf = new Int32Array(64);
  #statusOf = new Int32Array(64);

  constructor(options: ShardStateOptions = {}) {
    this.window = options.window ?? 50;
    this.#moving = new MovingWindows(this.window);
    this.#reuse = options.reuseColumns ?? false;
    this.#events = new EventWindowStore(options.windowSpec ?? DEFAULT_WINDOW_SPEC, {
      reuse: this.#reuse,
    });
    this.#names = options.names;
    this.#thresholds = options.thresholds ?? [];
  }

  get spec(): WindowSpec {
    return this.#events.spec;
  }

  /** Live sensors, metric slots and open event windows (for health and memory accounting). */
  counts(): ShardCounts {
    let sensors = 0;
    for (let s = 0; s < this.#sensorCount; s++) {
      if (this.#sensors[s >>> BITS].flags[s & MASK] & LIVE) sensors++;
    }
    const parts = {
      moving: this.#moving.bytes,
      events: this.#events.bytes,
      sensors: this.#sensors.length * PAGE * 39,
      slots: this.#slots.length * SLOT_PAGE * SLOT * 4,
      levels: this.#levels.capacity * 32,
      out: ((this.#updates?.sensor.length ?? 0) + (this.#updatesOut?.sensor.length ?? 0)) *
        STATE_BYTES,
    };
    return {
      sensors,
      slots: this.#slotCount - this.#freeSlots.length,
      windows: this.#events.open,
      bytes: parts.moving + parts.events + parts.sensors + parts.slots + parts.levels + parts.out,
      parts,
    };
  }

  /** Applies the rows `[from, to)` of `rows` (this shard's, in log order). */
  apply(rows: RoutedRows, from: number, to: number): void {
    const strings = rows.strings;
    // Per string of the message: its id in this shard's tables (-1 until needed).
    if (this.#groupOf.length < strings.length) {
      this.#groupOf = new Int32Array(strings.length * 2);
      this.#statusOf = new Int32Array(strings.length * 2);
    }
    const groupOf = this.#groupOf.fill(-1, 0, strings.length);
    const statusOf = this.#statusOf.fill(-1, 0, strings.length);
    const events = this.#events;
    const moving = this.#moving;
    const levels = this.#levels;
    const thresholds = this.#thresholds;
    const mark = this.#mark;
    for (let r = from; r < to; r++) {
      const s = rows.local[r];
      const g = rows.group[r];
      let group = groupOf[g];
      if (group < 0) group = groupOf[g] = this.#groups.intern(strings[g] || DEFAULT_GROUP);
      const page = this.#sensor(s, rows.sensor[r], group);
      const i = s & MASK;
      this.#pageMarks[s >>> BITS] = mark;
      const timeMs = rows.timeMs[r];
      const st = rows.status[r];
      if (st !== 0 && timeMs >= page.statusTimeMs[i]) {
        let status = statusOf[st];
        if (status < 0) status = statusOf[st] = this.#internStatus(strings[st]);
        page.statusTimeMs[i] = timeMs;
        if (status !== page.status[i]) {
          page.status[i] = status;
          if (!(page.flags[i] & STATUS_DIRTY)) {
            page.flags[i] |= STATUS_DIRTY;
            this.#statusSensors.push(s);
          }
          page.statusLevel[i] = this.#statusLevels[status];
          this.#relevel(s);
        }
      }
      const late = events.isLate(timeMs);
      if (late) {
        events.lateDropped++;
        page.late[i]++;
        if (!(page.flags[i] & LATE_DIRTY)) {
          page.flags[i] |= LATE_DIRTY;
          this.#lateSensors.push(s);
        }
      }
      // Values of a reading usually come in the order of the sensor's slots: try the next one first.
      let hint = -1;
      for (let v = rows.valueStart[r]; v < rows.valueStart[r + 1]; v++) {
        const metric = rows.metric[v];
        let k = hint >= 0
          ? this.#slots[hint >>> SLOT_BITS].v[(hint & SLOT_MASK) * SLOT + NEXT]
          : page.firstSlot[i];
        if (k < 0 || this.#slots[k >>> SLOT_BITS].v[(k & SLOT_MASK) * SLOT + METRIC] !== metric) {
          k = this.#findSlot(page.firstSlot[i], metric);
          if (k < 0) k = this.#newSlot(s, metric);
        }
        hint = k;
        const slots = this.#slots[k >>> SLOT_BITS];
        if (slots.v[(k & SLOT_MASK) * SLOT + DIRTY] === 0) {
          slots.v[(k & SLOT_MASK) * SLOT + DIRTY] = 1;
          this.#dirtySlots.push(k);
        }
        moving.addFrom(k, rows.value, v, rows.timeMs, r);
        if (!late) events.addFrom(k, rows.value, v, rows.timeMs, r, rows.acceptedMs, r);
        // Judged in event time, late or not (a late reading is older than the newest: not judged).
        const judge = rows.judge[v];
        if (
          judge !== 0 && judge <= thresholds.length &&
          levels.observeFrom(k, thresholds[judge - 1], rows.value, v, rows.timeMs, r)
        ) this.#relevel(s);
      }
    }
  }

  /** Forgets a sensor (its source document was deleted); the next flush says so. */
  remove(s: number): void {
    if (s >= this.#sensorCount) return;
    const page = this.#sensors[s >>> BITS];
    const i = s & MASK;
    if (!(page.flags[i] & LIVE)) return;
    for (let k = page.firstSlot[i]; k >= 0;) {
      const slots = this.#slots[k >>> SLOT_BITS];
      this.#events.forget(k);
      this.#levels.clear(k);
      slots.v[(k & SLOT_MASK) * SLOT + DIRTY] = 0;
      this.#freeSlots.push(k);
      k = slots.v[(k & SLOT_MASK) * SLOT + NEXT];
    }
    page.firstSlot[i] = -1;
    page.flags[i] = 0;
    page.late[i] = 0;
    page.status[i] = 0;
    page.statusTimeMs[i] = -Infinity;
    page.level[i] = 0;
    page.statusLevel[i] = 0;
    this.#pageMarks[s >>> BITS] = this.#mark;
    this.#removed.push(page.global[i]);
  }

  /** The changes since the previous flush, latest values per sensor metric; clears them. */
  flush(): ShardChanges {
    const out = this.#reuse ? this.#nextChanges() : null;
    let removed = this.#removed;
    if (out) {
      // Copied into the reused list: this one keeps collecting.
      removed = out.removed;
      for (let j = 0; j < this.#removed.length; j++) removed.push(this.#removed[j]);
      this.#removed.length = 0;
    } else this.#removed = [];
    const sensors: SensorEntry[] = out ? out.sensors : [];
    for (const s of this.#dirtySensors) {
      const page = this.#sensors[s >>> BITS];
      const i = s & MASK;
      if ((page.flags[i] & (LIVE | INFO_DIRTY)) !== (LIVE | INFO_DIRTY)) continue;
      page.flags[i] &= ~INFO_DIRTY;
      sensors.push(this.#entry(page, i));
    }
    this.#dirtySensors.length = 0;
    const metrics: MetricEntry[] = out ? out.metrics : [];
    for (const index of this.#newMetrics) metrics.push(this.#metricEntry(index));
    this.#newMetrics.length = 0;
    // Keep each dirty slot once (a freed slot reused meanwhile can be listed twice).
    const dirty = this.#dirtySlots;
    let n = 0;
    for (const k of dirty) {
      const slots = this.#slots[k >>> SLOT_BITS];
      if (slots.v[(k & SLOT_MASK) * SLOT + DIRTY] !== 1) continue;
      slots.v[(k & SLOT_MASK) * SLOT + DIRTY] = 2;
      dirty[n++] = k;
    }
    const updates = this.#updateColumns(n);
    for (let j = 0; j < n; j++) {
      const k = dirty[j];
      this.#slots[k >>> SLOT_BITS].v[(k & SLOT_MASK) * SLOT + DIRTY] = 0;
      this.#writeState(updates, j, k);
    }
    dirty.length = 0;
    const late: [number, number][] = out ? out.late : [];
    for (const s of this.#lateSensors) {
      const page = this.#sensors[s >>> BITS];
      const i = s & MASK;
      if (!(page.flags[i] & LATE_DIRTY)) continue;
      page.flags[i] &= ~LATE_DIRTY;
      if (page.flags[i] & LIVE) late.push([page.global[i], page.late[i]]);
    }
    this.#lateSensors.length = 0;
    const statuses: [number, string][] = out ? out.statuses : [];
    for (const s of this.#statusSensors) {
      const page = this.#sensors[s >>> BITS];
      const i = s & MASK;
      if (!(page.flags[i] & STATUS_DIRTY)) continue;
      page.flags[i] &= ~STATUS_DIRTY;
      if (page.flags[i] & LIVE) {
        statuses.push([page.global[i], this.#statuses.strings[page.status[i]]]);
      }
    }
    this.#statusSensors.length = 0;
    const levels = this.#takeLevels();
    const windows = this.#events.take();
    if (out) {
      out.updates = updates;
      out.windows = windows;
      out.levels = levels;
      return out;
    }
    return { sensors, metrics, updates, windows, late, statuses, levels, removed };
  }

  /** With `reuseColumns`: the changes object not handed out last, emptied (lists kept, cleared). */
  #nextChanges(): ShardChanges {
    const next = this.#changes ?? {
      sensors: [],
      metrics: [],
      updates: NO_UPDATES,
      windows: NO_WINDOWS,
      late: [],
      statuses: [],
      levels: NO_LEVELS,
      removed: [],
    };
    next.sensors.length = 0;
    next.metrics.length = 0;
    next.late.length = 0;
    next.statuses.length = 0;
    next.removed.length = 0;
    this.#changes = this.#changesOut;
    this.#changesOut = next;
    return next;
  }

  /** Everything held, as a flush would list it; nothing is marked clean. */
  state(): ShardChanges {
    const sensors: SensorEntry[] = [];
    const late: [number, number][] = [];
    const statuses: [number, string][] = [];
    const leveled: number[] = [];
    const slots: number[] = [];
    for (let s = 0; s < this.#sensorCount; s++) {
      const page = this.#sensors[s >>> BITS];
      const i = s & MASK;
      if (!(page.flags[i] & LIVE)) continue;
      sensors.push(this.#entry(page, i));
      if (page.late[i] > 0) late.push([page.global[i], page.late[i]]);
      if (page.status[i] !== 0) {
        statuses.push([page.global[i], this.#statuses.strings[page.status[i]]]);
      }
      if (page.level[i] !== 0) leveled.push(s);
      for (
        let k = page.firstSlot[i];
        k >= 0;
        k = this.#slots[k >>> SLOT_BITS].v[(k & SLOT_MASK) * SLOT + NEXT]
      ) {
        slots.push(k);
      }
    }
    const updates = allocateStates(slots.length);
    slots.forEach((k, j) => this.#writeState(updates, j, k));
    return {
      sensors,
      metrics: this.#metricList.map((index) => this.#metricEntry(index)),
      updates,
      windows: this.#events.endedWindows(slots),
      late,
      statuses,
      levels: this.#levelsOf(leveled, leveled.length),
      removed: [],
    };
  }

  /** The windows of a sensor's metric and size the shard still holds; [] for one it does not have. */
  heldWindows(s: number, metric: number, size: number): HeldWindow[] {
    if (s >= this.#sensorCount) return [];
    const page = this.#sensors[s >>> BITS];
    if (!(page.flags[s & MASK] & LIVE)) return [];
    const k = this.#findSlot(page.firstSlot[s & MASK], metric);
    return k < 0 ? [] : this.#events.heldWindows(k, size);
  }

  /**
   * The state for checkpoint `seq`: the header and every page, or (with
   * `since` ≥ 0) only the pages changed after checkpoint `since` was taken
   * (null for the others). Pages changed from now on are marked for `seq + 1`.
   */
  image(seq: number, since: number): ShardImage {
    const pageCount = Math.ceil(this.#sensorCount / PAGE);
    const pages: (Uint8Array | null)[] = [];
    for (let p = 0; p < pageCount; p++) {
      pages.push(since < 0 || (this.#pageMarks[p] ?? 0) > since ? this.#savePage(p) : null);
    }
    this.#mark = seq + 1;
    return { header: this.#header(), pages, full: since < 0 };
  }

  /**
   * Adopts a saved state (into a fresh shard) and marks all of it changed,
   * so the hub learns it. Pages count as saved by checkpoint `seq`. An image
   * that does not fit this shard, or fails `checkShardImage`, is refused
   * (RangeError) before anything changes: the shard stays empty.
   */
  restore(image: ShardImage, seq = 0): void {
    const { header } = image;
    if (!fits(header, { window: this.window, windowSpec: this.spec })) {
      throw new RangeError(
        `Cannot restore a shard saved with window ${header?.window} and event windows ${
          JSON.stringify(header?.spec)
        } into window ${this.window} and ${JSON.stringify(this.spec)}`,
      );
    }
    if (this.#sensorCount > 0 || this.#slotCount > 0) {
      throw new RangeError("Cannot restore into a shard that holds sensors already");
    }
    const checked = checkShardImage(image, { window: this.window, spec: this.spec });
    // Sized once: the arenas do not grow page by page while millions of windows come in.
    this.#reserve(header.sensors - 1);
    while (this.#slots.length * SLOT_PAGE < checked.slots) this.#slots.push(new SlotPage());
    this.#moving.reserve(checked.slots);
    if (checked.levels > 0) this.#levels.ensure(checked.slots);
    this.#events.reserve(checked.windows, checked.slots);
    this.#events.newestMs = header.newestMs ?? -Infinity;
    this.#events.lateDropped = header.lateDropped;
    for (const metric of header.metrics) this.#knowMetric(metric);
    checked.pages.forEach((parts, p) => {
      this.#restorePage(p, parts);
      this.#pageMarks[p] = 0;
    });
    this.#sensorCount = Math.max(this.#sensorCount, header.sensors);
    this.#mark = seq + 1;
  }

  #header(): ShardHeader {
    return {
      format: IMAGE_FORMAT,
      window: this.window,
      spec: { sizesMs: [...this.spec.sizesMs], graceMs: this.spec.graceMs },
      slotLength: SLOT_LENGTH,
      pageSize: PAGE,
      sensors: this.#sensorCount,
      newestMs: Number.isFinite(this.#events.newestMs) ? this.#events.newestMs : null,
      lateDropped: this.#events.lateDropped,
      metrics: [...this.#metricList],
    };
  }

  // Page layout. Per sensor: u32 [flags, global, group, status, slots]; f64
  // [statusTimeMs, late]. Per slot of a live sensor, in chain order: u32
  // [metric, filled, windows, ring form | SAVED_LEVELS, ...ring if int32];
  // i16 [...ring if int16]; f64 [last, timeMs, ...ring if float64,
  // ...windows (2, 3 or SLOT_LENGTH numbers each,
  // `EventWindowStore.saveWindows`), ...ThresholdLevels record if judged].
  // The ring is in its page's form (`MovingWindows.ringForm`).
  #savePage(p: number): Uint8Array {
    const from = p * PAGE;
    const to = Math.min(this.#sensorCount, from + PAGE);
    const strings: string[] = [];
    const local = new Map<string, number>();
    const stringOf = (s: string) => {
      let i = local.get(s);
      if (i === undefined) local.set(s, i = strings.push(s) - 1);
      return i;
    };
    const page = this.#sensors[p];
    const moving = this.#moving;
    let f64 = 0, u32 = 0, i16 = 0;
    for (let s = from; s < to; s++) {
      u32 += 5;
      f64 += 2;
      for (
        let k = page.firstSlot[s & MASK];
        k >= 0;
        k = this.#slots[k >>> SLOT_BITS].v[(k & SLOT_MASK) * SLOT + NEXT]
      ) {
        const filled = moving.filled(k), form = moving.ringForm(k);
        u32 += 4 + (form > 5 ? filled : 0);
        i16 += form >= 1 && form <= 5 ? filled : 0;
        f64 += 2 + (form === 0 ? filled : 0) + this.#events.savedLength(k) +
          (this.#levels.held(k) ? ThresholdLevels.RECORD : 0);
      }
    }
    // Strings first (the header holds them), then the numbers.
    for (let s = from; s < to; s++) {
      const i = s & MASK;
      if (!(page.flags[i] & LIVE)) continue;
      stringOf(this.#groups.strings[page.group[i]]);
      stringOf(this.#statuses.strings[page.status[i]]);
    }
    const { parts, bytes } = allocatePage(to - from, strings, { f64, u32, i16 });
    let a = 0, b = 0, c = 0;
    for (let s = from; s < to; s++) {
      const i = s & MASK;
      const live = (page.flags[i] & LIVE) !== 0;
      let slots = 0;
      for (
        let k = page.firstSlot[i];
        k >= 0;
        k = this.#slots[k >>> SLOT_BITS].v[(k & SLOT_MASK) * SLOT + NEXT]
      ) slots++;
      parts.u32[b] = live ? SAVED_LIVE : 0;
      parts.u32[b + 1] = page.global[i];
      parts.u32[b + 2] = live ? stringOf(this.#groups.strings[page.group[i]]) : 0;
      parts.u32[b + 3] = live ? stringOf(this.#statuses.strings[page.status[i]]) : 0;
      parts.u32[b + 4] = slots;
      b += 5;
      parts.f64[a] = page.statusTimeMs[i];
      parts.f64[a + 1] = page.late[i];
      a += 2;
      for (
        let k = page.firstSlot[i];
        k >= 0;
        k = this.#slots[k >>> SLOT_BITS].v[(k & SLOT_MASK) * SLOT + NEXT]
      ) {
        const form = moving.ringForm(k), held = this.#levels.held(k);
        parts.u32[b] = this.#slots[k >>> SLOT_BITS].v[(k & SLOT_MASK) * SLOT + METRIC];
        parts.u32[b + 1] = moving.filled(k);
        parts.u32[b + 2] = this.#events.windowCount(k);
        parts.u32[b + 3] = form | (held ? SAVED_LEVELS : 0);
        b += 4;
        a = moving.saveHead(k, parts.f64, a);
        if (form === 0) a = moving.saveRing(k, parts.f64, a);
        else if (form <= 5) c = moving.saveRing(k, parts.i16, c);
        else b = moving.saveRing(k, parts.i32, b);
        a = this.#events.saveWindows(k, parts.f64, a);
        if (held) a = this.#levels.save(k, parts.f64, a);
      }
    }
    return bytes;
  }

  /** Restores a page `checkShardImage` passed (so no index below is out of range). */
  #restorePage(p: number, parts: PageParts): void {
    const { u32: u, f64, i32, i16 } = parts;
    // Per string of the page: its group and status id here (-1 until needed).
    const groupOf = new Int32Array(parts.strings.length).fill(-1);
    const statusOf = new Int32Array(parts.strings.length).fill(-1);
    const moving = this.#moving, events = this.#events, levels = this.#levels;
    let a = 0, b = 0, c = 0;
    for (let j = 0; j < parts.sensors; j++) {
      const s = p * PAGE + j;
      const flags = u[b], global = u[b + 1], g = u[b + 2], st = u[b + 3], slots = u[b + 4];
      b += 5;
      const statusTimeMs = f64[a], late = f64[a + 1];
      a += 2;
      if (!(flags & SAVED_LIVE)) {
        this.#reserve(s);
        this.#sensors[s >>> BITS].global[s & MASK] = global;
        continue;
      }
      let group = groupOf[g];
      if (group < 0) group = groupOf[g] = this.#groups.intern(parts.strings[g]);
      let status = statusOf[st];
      if (status < 0) status = statusOf[st] = this.#internStatus(parts.strings[st]);
      const page = this.#sensor(s, global, group);
      const i = s & MASK;
      page.status[i] = status;
      page.statusLevel[i] = this.#statusLevels[status];
      page.statusTimeMs[i] = statusTimeMs;
      page.late[i] = late;
      if (status !== 0) {
        page.flags[i] |= STATUS_DIRTY;
        this.#statusSensors.push(s);
      }
      if (late > 0) {
        page.flags[i] |= LATE_DIRTY;
        this.#lateSensors.push(s);
      }
      // A fresh shard: slots are numbered in order, a sensor's chained one to the next.
      let before = -1;
      for (let m = 0; m < slots; m++) {
        const metric = u[b], filled = u[b + 1], windows = u[b + 2];
        const form = u[b + 3] & RING_FORM, held = (u[b + 3] & SAVED_LEVELS) !== 0;
        b += 4;
        const k = this.#slotCount++;
        const slotPage = this.#slots[k >>> SLOT_BITS];
        const sj = k & SLOT_MASK;
        slotPage.v[sj * SLOT + SENSOR] = s;
        slotPage.v[sj * SLOT + METRIC] = metric;
        slotPage.v[sj * SLOT + NEXT] = -1;
        slotPage.v[sj * SLOT + DIRTY] = 1;
        if (before < 0) page.firstSlot[i] = k;
        else this.#slots[before >>> SLOT_BITS].v[(before & SLOT_MASK) * SLOT + NEXT] = k;
        before = k;
        events.windowsFor(global, metric, k);
        if (form === 0) {
          moving.restoreParts(k, f64, a, filled, f64, a + 2, 0);
          a += 2 + filled;
        } else if (form <= 5) {
          moving.restoreParts(k, f64, a, filled, i16, c, form);
          a += 2;
          c += filled;
        } else {
          moving.restoreParts(k, f64, a, filled, i32, b, form);
          a += 2;
          b += filled;
        }
        a = events.restoreWindows(k, f64, a, windows, true);
        if (held) a = levels.restore(k, f64, a);
        this.#dirtySlots.push(k);
        this.#knowMetric(metric);
      }
      // Restored levels are told, as restored statuses are.
      this.#relevel(s);
    }
  }

  /** Makes sensor index `s` addressable. */
  #reserve(s: number): void {
    while (s >= this.#sensors.length * PAGE) {
      this.#sensors.push(new SensorPage());
      this.#pageMarks.push(0);
    }
    if (s >= this.#sensorCount) this.#sensorCount = s + 1;
  }

  /** The sensor's page, making the sensor live (new: dirty) or noting a group change. */
  #sensor(s: number, global: number, group: number): SensorPage {
    this.#reserve(s);
    const page = this.#sensors[s >>> BITS];
    const i = s & MASK;
    const flags = page.flags[i];
    if (!(flags & LIVE)) {
      page.global[i] = global;
      page.group[i] = group;
      page.status[i] = 0;
      page.statusTimeMs[i] = -Infinity;
      page.late[i] = 0;
      page.firstSlot[i] = -1;
      page.level[i] = 0;
      page.statusLevel[i] = 0;
      page.flags[i] = LIVE | INFO_DIRTY;
      this.#dirtySensors.push(s);
    } else if (page.group[i] !== group) {
      page.group[i] = group;
      if (!(flags & INFO_DIRTY)) {
        page.flags[i] |= INFO_DIRTY;
        this.#dirtySensors.push(s);
      }
    }
    return page;
  }

  #findSlot(first: number, metric: number): number {
    let k = first;
    while (k >= 0) {
      const slots = this.#slots[k >>> SLOT_BITS];
      if (slots.v[(k & SLOT_MASK) * SLOT + METRIC] === metric) return k;
      k = slots.v[(k & SLOT_MASK) * SLOT + NEXT];
    }
    return -1;
  }

  /** A fresh slot for a sensor's metric, last in its chain. */
  #newSlot(s: number, metric: number): number {
    let k = this.#freeSlots.pop();
    if (k === undefined) {
      k = this.#slotCount++;
      if (k >>> SLOT_BITS === this.#slots.length) this.#slots.push(new SlotPage());
    }
    const slots = this.#slots[k >>> SLOT_BITS];
    const j = k & SLOT_MASK;
    slots.v[j * SLOT + SENSOR] = s;
    slots.v[j * SLOT + METRIC] = metric;
    slots.v[j * SLOT + NEXT] = -1;
    slots.v[j * SLOT + DIRTY] = 0;
    const page = this.#sensors[s >>> BITS];
    const first = page.firstSlot[s & MASK];
    if (first < 0) page.firstSlot[s & MASK] = k;
    else {
      let last = first;
      for (let n = this.#slots[last >>> SLOT_BITS].v[(last & SLOT_MASK) * SLOT + NEXT]; n >= 0;) {
        last = n;
        n = this.#slots[n >>> SLOT_BITS].v[(n & SLOT_MASK) * SLOT + NEXT];
      }
      this.#slots[last >>> SLOT_BITS].v[(last & SLOT_MASK) * SLOT + NEXT] = k;
    }
    this.#moving.reset(k);
    // Cleared, not grown: only a judged value makes its cell take room (`ThresholdLevels.held`).
    this.#levels.clear(k);
    this.#events.windowsFor(page.global[s & MASK], metric, k);
    this.#knowMetric(metric);
    return k;
  }

  #internStatus(status: string): number {
    const id = this.#statuses.intern(status);
    if (id === this.#statusLevels.length) this.#statusLevels.push(statusLevel(status));
    return id;
  }

  /** A slot's level or the status changed: the sensor's is the highest; marked if it moved. */
  #relevel(s: number): void {
    const page = this.#sensors[s >>> BITS];
    const i = s & MASK;
    let level = page.statusLevel[i];
    for (
      let k = page.firstSlot[i];
      k >= 0;
      k = this.#slots[k >>> SLOT_BITS].v[(k & SLOT_MASK) * SLOT + NEXT]
    ) {
      const l = this.#levels.level(k);
      if (l > level) level = l;
    }
    if (level === page.level[i]) return;
    page.level[i] = level;
    if (!(page.flags[i] & LEVEL_DIRTY)) {
      page.flags[i] |= LEVEL_DIRTY;
      this.#levelSensors.push(s);
    }
  }

  /** The sensors whose level changed since the last flush (live ones), as columns; clears them. */
  #takeLevels(): SensorLevels {
    const list = this.#levelSensors;
    let n = 0;
    for (const s of list) {
      const page = this.#sensors[s >>> BITS];
      const i = s & MASK;
      if (!(page.flags[i] & LEVEL_DIRTY)) continue;
      page.flags[i] &= ~LEVEL_DIRTY;
      if (page.flags[i] & LIVE) list[n++] = s;
    }
    // Most flushes change no level: in this isolate (read, never transferred) they share one
    // empty pair rather than allocate two arrays each.
    const levels = n === 0 && this.#reuse ? NO_LEVELS : this.#levelsOf(list, n);
    list.length = 0;
    return levels;
  }

  /** The levels of the first `n` sensors of `list`, as columns. */
  #levelsOf(list: readonly number[], n: number): SensorLevels {
    const sensor = new Uint32Array(n);
    const level = new Uint8Array(n);
    for (let j = 0; j < n; j++) {
      const s = list[j];
      sensor[j] = this.#sensors[s >>> BITS].global[s & MASK];
      level[j] = this.#sensors[s >>> BITS].level[s & MASK];
    }
    return { sensor, level };
  }

  /** Columns for `n` updates: fresh, or (`reuseColumns`) views of the buffer not handed out last. */
  #updateColumns(n: number): MetricStates {
    if (!this.#reuse) return allocateStates(n);
    let buffer = this.#updates;
    const room = buffer?.sensor.length ?? 0;
    // Grown to a power of two; a buffer far larger than the flush is let go.
    if (buffer === null || room < n || room > 8 * Math.max(256, n)) {
      buffer = prefixStates(
        allocateStates(Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, n))))),
      );
    }
    this.#updates = this.#updatesOut;
    this.#updatesOut = buffer;
    // Handed out whole: views of the first n entries were eight objects a flush.
    buffer.length = n;
    return buffer;
  }

  #knowMetric(metric: number): void {
    if (this.#knownMetrics[metric]) return;
    this.#knownMetrics[metric] = 1;
    this.#metricList.push(metric);
    this.#newMetrics.push(metric);
  }

  #writeState(updates: MetricStates, j: number, k: number): void {
    const slots = this.#slots[k >>> SLOT_BITS];
    const s = slots.v[(k & SLOT_MASK) * SLOT + SENSOR];
    this.#moving.writeState(k, updates, j);
    updates.sensor[j] = this.#sensors[s >>> BITS].global[s & MASK];
    updates.metric[j] = slots.v[(k & SLOT_MASK) * SLOT + METRIC];
  }

  #entry(page: SensorPage, i: number): SensorEntry {
    const index = page.global[i];
    return {
      index,
      id: this.#names?.sensorId(index) ?? "",
      group: this.#groups.strings[page.group[i]],
    };
  }

  #metricEntry(index: number): MetricEntry {
    return { index, name: this.#names?.metricName(index) ?? "" };
  }
}

/** Whether a header was saved by a shard of this shape (moving window, window sizes, grace, layout). */
export function fits(
  header: ShardHeader,
  shape: { window: number; windowSpec: WindowSpec },
): boolean {
  const { sizesMs, graceMs } = shape.windowSpec;
  return header?.format === IMAGE_FORMAT && header.window === shape.window &&
    header.slotLength === SLOT_LENGTH && header.pageSize === PAGE &&
    header.spec?.graceMs === graceMs && Array.isArray(header.spec.sizesMs) &&
    header.spec.sizesMs.join() === sizesMs.join();
}
