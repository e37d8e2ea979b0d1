import { mergeMoved } from "./merge_order.ts";
import { sortByKey } from "./radix_order.ts";
import type { RadixScratch } from "./radix_order.ts";
import type { OrderSorter, SortedOrder } from "./order_sorter.ts";
import type { KeyColumn, SortKeys } from "./sort_keys.ts";
import { sortKeyName } from "./view_spec.ts";
import type { SortDirection, SortKey } from "./view_spec.ts";

/**
 * Every live sensor in the order of one sort key, both directions, shared
 * by all the views that sort by that key whatever their topic, filter or
 * direction: a view takes its rows by walking this order and keeping its
 * members, so 100 views over 9 keys cost 9 sorts, not 100. The descending
 * order is made from the ascending one in one pass (reversed, with runs of
 * equal keys put back in id order and missing values kept last), when a view
 * first asks for it.
 *
 * Two versions are kept, so the order a view was taken from stays readable
 * for one more sort: a window scrolled past what the view has taken can
 * still be served from the same order without the view's rows moving.
 */
export class ColumnOrder {
  readonly name: string;
  readonly key: SortKey;
  /** Null for the id key, whose order is `SortKeys.idOrder` itself. */
  readonly column: KeyColumn | null;
  /** Sorts so far; 0 before the first. */
  version = 0;
  /** When the last sort ran (table clock), and the `SortKeys.serial` it saw. */
  sortedAt = -Infinity;
  sortedSerial = -1;
  /** Views using this order. */
  users = 0;
  readonly #asc: [Uint32Array, Uint32Array] = [new Uint32Array(0), new Uint32Array(0)];
  readonly #desc: [Uint32Array, Uint32Array] = [new Uint32Array(0), new Uint32Array(0)];
  readonly #lengths: [number, number] = [0, 0];
  readonly #versions: [number, number] = [-1, -1];
  /** Version each slot's descending order was made for. */
  readonly #descVersions: [number, number] = [-1, -1];
  /**
   * A sort started off the tick (`submit`) and not yet adopted: its token,
   * and the table clock, `SortKeys.serial` and version it was started at.
   */
  pending: { token: number; now: number; serial: number; version: number } | null = null;
  /**
   * The moved marks were cleared for a sort not adopted (yet): the last
   * order does not know the keys that moved before it, so the next sort in
   * the tick is a whole one.
   */
  #wholeNext = false;

  constructor(key: SortKey, column: KeyColumn | null) {
    this.key = key;
    this.column = column;
    this.name = sortKeyName(key);
  }

  /** Whether sensors came or went, or a key changed, since the last sort. */
  stale(keys: SortKeys): boolean {
    const changedAt = Math.max(keys.setChangedAt, this.column?.changedAt ?? 0);
    return this.sortedSerial < changedAt;
  }

  /**
   * Sorts the live sensors; returns the work done in the units of a view's
   * scan (one sensor visited): a radix sort measured about 12 times a scan
   * per sensor (bench/view_order.ts), a copy of the id order about 1. When
   * at most a quarter of the keys moved since the last sort, only those are
   * sorted and merged into the last order (`mergeMoved`): about `MERGE_COST`
   * per sensor and `MOVED_COST` per moved one (measured even with a whole
   * sort at about 26% moved).
   */
  sortNow(keys: SortKeys, options: { now: number; scratch: RadixScratch }): number {
    const ids = keys.idOrder.order;
    const n = ids.length;
    const slot = (this.version + 1) & 1;
    const out = this.#asc[slot] = fit(this.#asc[slot], n);
    let work = n;
    const column = this.column;
    if (column === null) out.set(ids);
    else {
      work = this.#resort(column, { ids, out, keys, scratch: options.scratch });
      column.moved.fill(0);
      column.movedCount = 0;
    }
    this.#install(slot, n, { now: options.now, serial: keys.serial });
    // A sort in flight is older than this one: it is dropped when it comes.
    this.pending = null;
    this.#wholeNext = false;
    return work;
  }

  #install(slot: number, n: number, at: { now: number; serial: number }): void {
    this.version++;
    this.#lengths[slot] = n;
    this.#versions[slot] = this.version;
    this.#descVersions[slot] = -1;
    this.sortedAt = at.now;
    this.sortedSerial = at.serial;
  }

  /**
   * Starts a whole sort of the live sensors off the tick, as of now: the
   * sorter copies the keys and ids, and the moved marks are cleared as a
   * sort in the tick would (keys moving from now on are moved against the
   * order it brings). False when the sorter cannot take it (sort in the tick).
   * The copies cost about one unit per sensor.
   */
  submit(keys: SortKeys, o: { now: number; sorter: OrderSorter; token: number }): boolean {
    const column = this.column;
    if (column === null || this.pending !== null) return false;
    const ids = keys.idOrder.order;
    if (!o.sorter.start(o.token, { values: column.values, ids })) return false;
    column.moved.fill(0);
    column.movedCount = 0;
    this.#wholeNext = true;
    this.pending = { token: o.token, now: o.now, serial: keys.serial, version: this.version };
    return true;
  }

  /**
   * Takes the order a sorter brought for `token` (both directions) as the
   * next version, dated when it was started: keys that moved since are
   * marked moved against it, sensors that came since are not in it (the
   * views that gain them ask for a sort, as after any sort), sensors gone
   * since are in it and no view takes them. The order's arrays are kept, and
   * the ones they replace given back (for the sorter's later jobs). Null (and
   * dropped) when it is not the sort in flight, or the order was sorted in
   * the tick meanwhile.
   */
  adopt(token: number, order: SortedOrder): { asc: Uint32Array; desc: Uint32Array } | null {
    const pending = this.pending;
    if (pending === null || pending.token !== token) return null;
    this.pending = null;
    if (pending.version !== this.version) return null;
    const slot = (this.version + 1) & 1;
    const old = { asc: this.#asc[slot], desc: this.#desc[slot] };
    this.#asc[slot] = order.asc;
    this.#desc[slot] = order.desc;
    this.#install(slot, order.length, pending);
    // Made from the keys it was sorted by, not today's: the exact reverse of that sort.
    this.#descVersions[slot] = this.version;
    this.#wholeNext = false;
    return old;
  }

  /** A sort in flight that will not come (its sorter failed): the next sort is a whole one in the tick. */
  abandon(): void {
    this.pending = null;
  }

  /** What `sortNow` would cost now, in its units. */
  sortCost(liveCount: number): number {
    const column = this.column;
    if (column === null) return liveCount;
    if (this.version > 0 && !this.#wholeNext && 4 * column.movedCount <= liveCount) {
      return MERGE_COST * liveCount + MOVED_COST * column.movedCount;
    }
    return SORT_COST * liveCount;
  }

  /** Sorts `ids` by the column into `out`: incrementally from the last order when that pays. */
  #resort(
    column: KeyColumn,
    o: { ids: Uint32Array; out: Uint32Array; keys: SortKeys; scratch: RadixScratch },
  ): number {
    const { ids, out, scratch } = o;
    const n = ids.length;
    const last = this.version & 1;
    const previous = this.#versions[last] === this.version && this.version > 0
      ? this.#asc[last].subarray(0, this.#lengths[last])
      : null;
    if (previous !== null && !this.#wholeNext && 4 * column.movedCount <= n) {
      // The moved keys still here, in id order, then sorted (stable: ties by id).
      scratch.ensureMoved(Math.min(column.movedCount, n));
      const moved = column.moved;
      const items = scratch.moved;
      let k = 0;
      for (let i = 0; i < n; i++) {
        const s = ids[i];
        if (moved[s] === 1) items[k++] = s;
      }
      const sorted = scratch.movedSorted.subarray(0, k);
      sortByKey(column.values, items.subarray(0, k), { out: sorted, descending: false, scratch });
      const length = mergeMoved(previous, sorted, {
        keys: column.values,
        rank: o.keys.idOrder.ranks,
        drop: moved,
        out,
      });
      // Every live sensor is either kept or moved; anything else is a bug, and a whole sort mends it.
      if (length === n) return MERGE_COST * n + MOVED_COST * k;
    }
    // Items go in in id order, and the sort is stable: ties stay in id order.
    sortByKey(column.values, ids, { out, descending: false, scratch });
    return SORT_COST * n;
  }

  /** The order of sort `version` in `direction`, if still held (the newest two are). */
  order(version: number, direction: SortDirection): Uint32Array | null {
    const slot = version & 1;
    if (this.#versions[slot] !== version) return null;
    const n = this.#lengths[slot];
    if (direction === "asc") return this.#asc[slot].subarray(0, n);
    if (this.#descVersions[slot] !== version) {
      const desc = this.#desc[slot] = fit(this.#desc[slot], n);
      reverseOrder(this.#asc[slot].subarray(0, n), {
        keys: this.column?.values ?? null,
        into: desc,
      });
      this.#descVersions[slot] = version;
    }
    return this.#desc[slot].subarray(0, n);
  }

  get bytes(): number {
    return this.#asc[0].byteLength + this.#asc[1].byteLength + this.#desc[0].byteLength +
      this.#desc[1].byteLength;
  }
}

/** Work of a radix sort per sensor, in units of one sensor visited by a view's scan. */
export const SORT_COST = 12;
/** Work of an incremental re-sort per sensor (finding the moved, merging), and per moved sensor. */
export const MERGE_COST = 4;
export const MOVED_COST = 24;

function fit(buffer: Uint32Array, n: number): Uint32Array {
  return buffer.length >= n ? buffer : new Uint32Array(Math.max(n, buffer.length * 2, 1024));
}

/**
 * The descending order from the ascending one: keys reversed, but equal keys
 * still in id order and missing ones (NaN, at the end of `asc`) still last.
 * Without keys (the id order, where no two are equal) a plain reversal.
 */
export function reverseOrder(
  asc: Uint32Array,
  options: { keys: Float64Array | null; into: Uint32Array },
): void {
  const n = asc.length;
  const into = options.into;
  const keys = options.keys;
  if (keys === null) {
    for (let i = 0; i < n; i++) into[i] = asc[n - 1 - i];
    return;
  }
  let present = n;
  while (present > 0 && keys[asc[present - 1]] !== keys[asc[present - 1]]) present--;
  let at = 0;
  let end = present; // one past the run being copied
  while (end > 0) {
    const value = keys[asc[end - 1]];
    let start = end - 1;
    while (start > 0 && keys[asc[start - 1]] === value) start--;
    for (let i = start; i < end; i++) into[at++] = asc[i];
    end = start;
  }
  for (let i = present; i < n; i++) into[at++] = asc[i];
}
