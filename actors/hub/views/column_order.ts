import { sortByKey } from "./radix_order.ts";
import type { RadixScratch } from "./radix_order.ts";
import type { KeyColumn, SortKeys } from "./sort_keys.ts";
import { sortKeyName } from "./view_spec.ts";
import type { ViewSort } from "./view_spec.ts";

/**
 * Every live sensor in the order of one sort (key and direction), shared by
 * all the views that sort that way whatever their topic or filter: a view
 * takes its rows by walking this order and keeping its members, so 100 views
 * over 9 keys cost 9 sorts, not 100.
 *
 * Two buffers alternate, so the order a view was taken from stays readable
 * for one more sort: a window scrolled past what the view has taken can
 * still be served from the same order without the view's rows moving.
 */
export class ColumnOrder {
  readonly name: string;
  readonly sort: ViewSort;
  /** Null for the id key, whose order is `SortKeys.idOrder` itself. */
  readonly column: KeyColumn | null;
  /** Sorts so far; 0 before the first. */
  version = 0;
  /** When the last sort ran (table clock), and the `SortKeys.serial` it saw. */
  sortedAt = -Infinity;
  sortedSerial = -1;
  /** Views using this order. */
  users = 0;
  readonly #buffers: [Uint32Array, Uint32Array] = [new Uint32Array(0), new Uint32Array(0)];
  readonly #lengths: [number, number] = [0, 0];
  readonly #versions: [number, number] = [-1, -1];

  constructor(sort: ViewSort, column: KeyColumn | null) {
    this.sort = sort;
    this.column = column;
    this.name = columnName(sort);
  }

  /** Whether sensors came or went, or a key changed, since the last sort. */
  stale(keys: SortKeys): boolean {
    const changedAt = Math.max(keys.setChangedAt, this.column?.changedAt ?? 0);
    return this.sortedSerial < changedAt;
  }

  /** Sorts the live sensors; returns the work done (sensors visited, about 4 per sensor). */
  sortNow(keys: SortKeys, options: { now: number; scratch: RadixScratch }): number {
    const ids = keys.idOrder.order;
    const n = ids.length;
    const slot = (this.version + 1) & 1;
    if (this.#buffers[slot].length < n) {
      this.#buffers[slot] = new Uint32Array(Math.max(n, this.#buffers[slot].length * 2, 1024));
    }
    const out = this.#buffers[slot];
    const descending = this.sort.direction === "desc";
    if (this.column === null) {
      if (descending) { for (let i = 0; i < n; i++) out[i] = ids[n - 1 - i]; }
      else out.set(ids);
    } else {
      // Items go in in id order, and the sort is stable: ties stay in id order.
      sortByKey(this.column.values, ids, { out, descending, scratch: options.scratch });
    }
    this.version++;
    this.#lengths[slot] = n;
    this.#versions[slot] = this.version;
    this.sortedAt = options.now;
    this.sortedSerial = keys.serial;
    return this.column === null ? n : 4 * n;
  }

  /** The order of sort `version`, if still held (the newest two are). */
  order(version: number): Uint32Array | null {
    const slot = version & 1;
    if (this.#versions[slot] !== version) return null;
    return this.#buffers[slot].subarray(0, this.#lengths[slot]);
  }

  get bytes(): number {
    return this.#buffers[0].byteLength + this.#buffers[1].byteLength;
  }
}

/** The name orders are shared by, e.g. "metric:2:avg desc". */
export function columnName(sort: ViewSort): string {
  return `${sortKeyName(sort.key)} ${sort.direction}`;
}
