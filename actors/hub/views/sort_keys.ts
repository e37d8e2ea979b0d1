import type { TickChanges } from "../feed_view.ts";
import type { MetricStates, SensorEntry } from "../../../protocol/server_frames.ts";
import { CollationOrder } from "./collation_order.ts";
import { sortKeyName } from "./view_spec.ts";
import type { MetricField, SortKey } from "./view_spec.ts";
import { grownCapacity } from "../capacity.ts";
import type { ValueRecords } from "../value_records.ts";

/** Where the keys of a column made later come from: the hub's `FeedView`. */
export interface StateSource {
  sensors(): SensorEntry[];
  /** Every metric's latest state, a record per slot; the first `valueCount` slots. */
  readonly values: ValueRecords;
  readonly valueCount: number;
}

/** One sort key's value per sensor index (NaN: missing), and when a value last changed. */
export interface KeyColumn {
  readonly name: string;
  /** Replaced when the fleet outgrows it: read it through the column each time. */
  values: Float64Array;
  /** `SortKeys.serial` of the last tick that changed a value. */
  changedAt: number;
  /**
   * 1 for each sensor whose value changed, or that came or went, since its
   * order's last sort (which clears them): the keys an incremental re-sort
   * takes out and merges back. `movedCount` counts them (at least). A column
   * has one order (`ColumnOrder`, shared by every view on the key): a second
   * would find the marks cleared by the first.
   */
  moved: Uint8Array;
  movedCount: number;
}

interface MetricColumn extends KeyColumn {
  readonly metric: number;
  readonly field: MetricField;
  users: number;
}

/**
 * The keys views sort and filter by, kept up to date from each tick's
 * `TickChanges`: who is live, ids and groups with their ranks in listing
 * order (`CollationOrder`), the newest event time ("seen"), the status code
 * (the attention state's slot, set by the hub) and one Float64Array per
 * (metric, field) some view sorts by, all indexed by dense sensor index.
 * Also marks the sensors each tick touched, for the windows' deltas.
 */
/** Status codes from which a rise is urgent (the attention codes warn and critical). */
export const URGENT_STATUS = 4;

export class SortKeys {
  capacity = 0;
  /** Ticks applied so far; columns and views compare their `changedAt` against it. */
  serial = 0;
  /** Serial of the last tick in which a sensor came, went or changed group. */
  setChangedAt = 0;
  #ids: (string | undefined)[] = [];
  #lowerIds: (string | undefined)[] = [];
  #group: Int32Array = new Int32Array(0);
  live = new Uint8Array(0);
  liveCount = 0;
  /** Live sensors in id order, with their ranks. */
  readonly idOrder = new CollationOrder();
  /** Distinct groups (by number) in listing order. */
  readonly groupOrder = new CollationOrder();
  readonly #groupNumbers = new Map<string, number>();
  #groupUsers: number[] = [];
  #freeGroups: number[] = [];
  /** The rank of each sensor's group. */
  readonly group: KeyColumn = keyColumn("group");
  readonly seen: KeyColumn = keyColumn("seen");
  readonly status: KeyColumn = keyColumn("status");
  readonly #metricColumns = new Map<string, MetricColumn>();
  /** The same columns, listed: what every sensor that comes or goes marks (no Map iterator each). */
  #metricList: MetricColumn[] = [];
  /** Sensors updated, re-grouped or given a status this tick: 1 in `touched`, listed in `#touchedList`. */
  touched = new Uint8Array(0);
  /**
   * A typed list kept from tick to tick: a JS array emptied with `length = 0`
   * gives its backing store back and grows anew (~10,000 pushes a tick).
   */
  #touchedList = new Uint32Array(1024);
  #touchedCount = 0;
  /** Sensors that came or changed group this tick; and those that went. */
  readonly entered: number[] = [];
  readonly removed: number[] = [];
  /** Sensors whose status changed this tick. */
  readonly statusChanged: number[] = [];
  /**
   * True when this tick raised some sensor's status code to `URGENT_STATUS`
   * or above (warn, critical): views sorted by status order at once for it.
   */
  statusRaised = false;
  /**
   * Status codes set since the last `apply`: code + 1 by sensor (0: none),
   * and the sensors in the order first set. Typed, not a Map: a restart's
   * first tick sets 100,000.
   */
  #pendingCode = new Uint16Array(0);
  #pendingList = new Uint32Array(64);
  #pendingCount = 0;
  readonly #source: StateSource;

  constructor(source: StateSource) {
    this.#source = source;
    for (const sensor of source.sensors()) this.#enter(sensor);
    const v = source.values;
    const seen = this.seen.values;
    for (let i = 0; i < source.valueCount; i++) {
      const s = v.sensor(i), t = v.timeMs(i);
      if (s < this.capacity && !(seen[s] >= t)) seen[s] = t;
    }
    this.#commitOrders();
    this.entered.length = 0;
    this.#touchedCount = 0;
    this.touched.fill(0);
  }

  id(sensor: number): string | undefined {
    return this.#ids[sensor];
  }

  lowerId(sensor: number): string | undefined {
    return this.#lowerIds[sensor];
  }

  groupName(sensor: number): string | undefined {
    const g = this.#group[sensor];
    return g >= 0 && sensor < this.capacity ? this.groupOrder.name(g) : undefined;
  }

  isLive(sensor: number): boolean {
    return sensor < this.capacity && this.live[sensor] === 1;
  }

  /** A sensor's status code; 0 when it has none. */
  statusOf(sensor: number): number {
    const code = sensor < this.capacity ? this.status.values[sensor] : NaN;
    return code === code ? code : 0;
  }

  /** Sets a sensor's status code (0: none) from the next `apply` on. */
  setStatus(sensor: number, code: number): void {
    if (!Number.isInteger(code) || code < 0 || code > 255) {
      throw new RangeError(`status code ${code} is not an integer in 0..255`);
    }
    if (sensor >= this.#pendingCode.length) {
      const grown = new Uint16Array(Math.max(sensor + 1, 2 * this.#pendingCode.length, 1024));
      grown.set(this.#pendingCode);
      this.#pendingCode = grown;
    }
    if (this.#pendingCode[sensor] === 0) {
      if (this.#pendingCount === this.#pendingList.length) {
        const grown = new Uint32Array(2 * this.#pendingList.length);
        grown.set(this.#pendingList);
        this.#pendingList = grown;
      }
      this.#pendingList[this.#pendingCount++] = sensor;
    }
    this.#pendingCode[sensor] = code + 1;
  }

  /** The column a sort key reads (not for "id", which is `idOrder`); a metric column counts a user. */
  use(key: SortKey): KeyColumn | null {
    switch (key.kind) {
      case "id":
        return null;
      case "group":
        return this.group;
      case "seen":
        return this.seen;
      case "status":
        return this.status;
      case "metric":
        return this.#useMetric(key.metric, key.field);
    }
  }

  /** Drops a user of a metric column; the last one frees it. */
  release(key: SortKey): void {
    if (key.kind !== "metric") return;
    const name = sortKeyName(key);
    const column = this.#metricColumns.get(name);
    if (!column || --column.users > 0) return;
    this.#metricColumns.delete(name);
    this.#metricList = [...this.#metricColumns.values()];
  }

  /** Metric columns in use (for stats). */
  get metricColumnCount(): number {
    return this.#metricColumns.size;
  }

  /** Bytes of the per-sensor arrays (not the id strings). */
  get bytes(): number {
    return this.capacity * (8 * (3 + this.#metricColumns.size) + 4 + 1 + 1);
  }

  /**
   * Takes in one tick: sensors that came, changed or went, metric updates,
   * pending statuses. `order`: the updates' indexes by sensor
   * (`UpdateOrder`), so the columns are written in address order; without
   * it, in the updates' own order.
   */
  apply(changes: TickChanges | null, order?: Uint32Array): void {
    this.serial++;
    const list = this.#touchedList;
    for (let i = 0; i < this.#touchedCount; i++) {
      if (list[i] < this.capacity) this.touched[list[i]] = 0;
    }
    this.#touchedCount = 0;
    this.entered.length = 0;
    this.removed.length = 0;
    this.statusChanged.length = 0;
    this.statusRaised = false;
    if (changes) {
      for (const sensor of changes.removed) this.#remove(sensor);
      // A sensor that started over leaves (its old keys with it) and enters again below.
      for (const sensor of changes.restarted) this.#remove(sensor);
      // Grown once to the highest that came (a restart's first tick: 100,000), in an indexed loop.
      const sensors = changes.sensors;
      let top = 0;
      for (let j = 0; j < sensors.length; j++) {
        if (sensors[j].index >= top) top = sensors[j].index + 1;
      }
      if (top > this.capacity) this.#grow(top);
      for (let j = 0; j < sensors.length; j++) this.#enter(sensors[j]);
      this.#applyUpdates(changes.updates, order ?? this.#identity(changes.updates.length));
    }
    const pendingCode = this.#pendingCode;
    for (let p = 0; p < this.#pendingCount; p++) {
      const sensor = this.#pendingList[p];
      const code = pendingCode[sensor] - 1;
      pendingCode[sensor] = 0;
      if (!this.isLive(sensor)) continue;
      const value = code === 0 ? NaN : code;
      const before = this.status.values[sensor];
      if (Object.is(before, value)) continue;
      if (value >= URGENT_STATUS && !(before >= value)) this.statusRaised = true;
      this.status.values[sensor] = value;
      this.status.changedAt = this.serial;
      markMoved(this.status, sensor);
      this.statusChanged.push(sensor);
      this.#touch(sensor);
    }
    this.#pendingCount = 0;
    this.#commitOrders();
  }

  #applyUpdates(u: MetricStates, order: Uint32Array): void {
    const seen = this.seen.values;
    const live = this.live;
    const capacity = this.capacity;
    for (let k = 0; k < u.length; k++) {
      const i = order[k];
      const s = u.sensor[i];
      if (s >= capacity || live[s] === 0) continue;
      if (this.touched[s] === 0) this.#touch(s);
      const t = u.timeMs[i];
      if (!(seen[s] >= t)) {
        seen[s] = t;
        this.seen.changedAt = this.serial;
        markMoved(this.seen, s);
      }
    }
    if (this.#metricColumns.size === 0) return;
    // The updates by metric once (a counting sort), then one tight pass per
    // column over its own metric's updates only.
    const byMetric = this.#byMetric(u, order);
    for (const column of this.#metricColumns.values()) {
      const metric = column.metric;
      if (metric + 1 >= byMetric.starts.length) continue;
      const from = fieldColumn(u, column.field);
      const values = column.values;
      let changed = false;
      const order = byMetric.order;
      for (let j = byMetric.starts[metric]; j < byMetric.starts[metric + 1]; j++) {
        const i = order[j];
        const s = u.sensor[i];
        if (s >= capacity || live[s] === 0) continue;
        const value = from[i];
        if (values[s] !== value) {
          values[s] = value;
          changed = true;
          markMoved(column, s);
        }
      }
      if (changed) column.changedAt = this.serial;
    }
  }

  #order = new Uint32Array(0);
  #starts = new Uint32Array(0);
  #identityOrder = new Uint32Array(0);

  /** 0..n: the updates in their own order. */
  #identity(n: number): Uint32Array {
    if (this.#identityOrder.length < n) {
      this.#identityOrder = new Uint32Array(Math.max(n, 2 * this.#identityOrder.length, 1024));
      for (let i = 0; i < this.#identityOrder.length; i++) this.#identityOrder[i] = i;
    }
    return this.#identityOrder;
  }

  /**
   * The updates' indexes grouped by metric, each group in `updates`' order:
   * metric m's are order[starts[m]..starts[m + 1]).
   */
  #byMetric(u: MetricStates, updates: Uint32Array): { order: Uint32Array; starts: Uint32Array } {
    let top = 0;
    for (let i = 0; i < u.length; i++) if (u.metric[i] >= top) top = u.metric[i] + 1;
    if (this.#starts.length < top + 1) this.#starts = new Uint32Array(top + 1);
    if (this.#order.length < u.length) this.#order = new Uint32Array(Math.max(u.length, 1024));
    const starts = this.#starts.subarray(0, top + 1);
    starts.fill(0);
    for (let i = 0; i < u.length; i++) starts[u.metric[i] + 1]++;
    for (let m = 1; m <= top; m++) starts[m] += starts[m - 1];
    const next = starts.slice(0, top);
    for (let k = 0; k < u.length; k++) {
      const i = updates[k];
      this.#order[next[u.metric[i]]++] = i;
    }
    return { order: this.#order, starts };
  }

  #touch(sensor: number): void {
    if (this.touched[sensor] === 1) return;
    this.touched[sensor] = 1;
    if (this.#touchedCount === this.#touchedList.length) {
      const grown = new Uint32Array(this.#touchedList.length * 2);
      grown.set(this.#touchedList);
      this.#touchedList = grown;
    }
    this.#touchedList[this.#touchedCount++] = sensor;
  }

  #enter(entry: SensorEntry): void {
    const s = entry.index;
    if (s >= this.capacity) this.#grow(s + 1);
    const known = this.live[s] === 1;
    if (known && this.#ids[s] === entry.id && this.groupName(s) === entry.group) return;
    if (known && this.#ids[s] !== entry.id) this.#remove(s); // an index given to another id
    if (this.live[s] === 0) {
      this.live[s] = 1;
      this.liveCount++;
      this.#ids[s] = entry.id;
      this.#lowerIds[s] = entry.id.toLowerCase();
      this.idOrder.add(s, entry.id);
    } else {
      this.#leaveGroup(s);
    }
    this.#group[s] = this.#joinGroup(entry.group);
    this.setChangedAt = this.serial;
    this.entered.push(s);
    this.#touch(s);
    this.#markMoved(s);
  }

  /** A sensor that came or went moves in every order. */
  #markMoved(s: number): void {
    markMoved(this.group, s);
    markMoved(this.seen, s);
    markMoved(this.status, s);
    const list = this.#metricList;
    for (let c = 0; c < list.length; c++) markMoved(list[c], s);
  }

  #remove(s: number): void {
    if (!this.isLive(s)) return;
    this.live[s] = 0;
    this.liveCount--;
    this.idOrder.remove(s);
    this.#leaveGroup(s);
    this.#group[s] = -1;
    this.#ids[s] = undefined;
    this.#lowerIds[s] = undefined;
    this.group.values[s] = NaN;
    this.seen.values[s] = NaN;
    this.status.values[s] = NaN;
    for (const column of this.#metricColumns.values()) column.values[s] = NaN;
    this.#markMoved(s);
    this.setChangedAt = this.serial;
    this.removed.push(s);
    // A sensor removed in the tick it came is not reported as entered.
    const at = this.entered.indexOf(s);
    if (at >= 0) this.entered.splice(at, 1);
  }

  #joinGroup(name: string): number {
    let g = this.#groupNumbers.get(name);
    if (g === undefined) {
      g = this.#freeGroups.pop() ?? this.#groupUsers.length;
      this.#groupNumbers.set(name, g);
      this.#groupUsers[g] = 0;
      this.groupOrder.add(g, name);
    }
    this.#groupUsers[g]++;
    return g;
  }

  #leaveGroup(s: number): void {
    const g = this.#group[s];
    if (g < 0) return;
    if (--this.#groupUsers[g] > 0) return;
    this.#groupNumbers.delete(this.groupOrder.name(g)!);
    this.groupOrder.remove(g);
    this.#freeGroups.push(g);
  }

  /** Ranks after the tick's adds and removes; group keys follow their groups' ranks. */
  #commitOrders(): void {
    this.idOrder.commit();
    const values = this.group.values;
    if (this.groupOrder.commit()) {
      for (let s = 0; s < this.capacity; s++) {
        values[s] = this.live[s] === 1 ? this.groupOrder.rank(this.#group[s]) : NaN;
      }
      this.group.changedAt = this.serial;
      // Every group key may have moved: the next sort is a whole one.
      this.group.movedCount = this.capacity;
    } else {
      for (const s of this.entered) {
        if (this.live[s] === 1) values[s] = this.groupOrder.rank(this.#group[s]);
      }
      if (this.entered.length > 0) this.group.changedAt = this.serial;
    }
  }

  #useMetric(metric: number, field: MetricField): MetricColumn {
    const name = sortKeyName({ kind: "metric", metric, field });
    let column = this.#metricColumns.get(name);
    if (column) {
      column.users++;
      return column;
    }
    const values = new Float64Array(this.capacity).fill(NaN);
    const v = this.#source.values;
    for (let i = 0; i < this.#source.valueCount; i++) {
      const s = v.sensor(i);
      if (v.metric(i) === metric && this.isLive(s)) values[s] = v.field(i, field);
    }
    column = {
      name,
      metric,
      field,
      values,
      changedAt: this.serial,
      users: 1,
      moved: new Uint8Array(this.capacity),
      movedCount: 0,
    };
    this.#metricColumns.set(name, column);
    this.#metricList = [...this.#metricColumns.values()];
    return column;
  }

  #grow(needed: number): void {
    const capacity = grownCapacity(this.capacity, needed);
    const grow = <A extends Float64Array | Uint8Array | Int32Array>(
      old: A,
      make: (n: number) => A,
    ) => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    const nan = (n: number) => new Float64Array(n).fill(NaN);
    this.live = grow(this.live, (n) => new Uint8Array(n));
    this.touched = grow(this.touched, (n) => new Uint8Array(n));
    this.#group = grow(this.#group, (n) => new Int32Array(n).fill(-1));
    for (const column of [this.group, this.seen, this.status, ...this.#metricColumns.values()]) {
      column.values = grow(column.values, nan);
      column.moved = grow(column.moved, (n) => new Uint8Array(n));
    }
    this.capacity = capacity;
  }
}

function keyColumn(name: string): KeyColumn {
  return {
    name,
    values: new Float64Array(0),
    changedAt: 0,
    moved: new Uint8Array(0),
    movedCount: 0,
  };
}

function markMoved(column: KeyColumn, s: number): void {
  if (column.moved[s] === 1) return;
  column.moved[s] = 1;
  column.movedCount++;
}

function fieldColumn(v: MetricStates, field: MetricField): Float64Array {
  switch (field) {
    case "last":
      return v.last;
    case "avg":
      return v.avg;
    case "min":
      return v.min;
    case "max":
      return v.max;
  }
}
