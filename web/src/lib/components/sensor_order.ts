// Which sensors the table shows, in what order: filter, then sort with a
// deterministic tie-break by id. Pure: reads the store, returns indexes.
import type { SensorStore } from "../feed/sensor_store.ts";

export type SortColumn =
  | { kind: "id" }
  | { kind: "group" }
  | { kind: "metric"; metric: string; field: "last" | "avg" }
  /** Time since the last update arrived (what the age column shows). */
  | { kind: "age" };

export type SortDirection = "asc" | "desc";

export interface SortSpec {
  column: SortColumn;
  direction: SortDirection;
}

export interface RowFilter {
  /** Case-insensitive substring of the sensor id; "" for all. */
  text: string;
  /** Group prefix ("plant-a" covers "plant-a/line-1"); null for all. */
  group: string | null;
}

export const DEFAULT_SORT: SortSpec = { column: { kind: "id" }, direction: "asc" };

export function sameColumn(a: SortColumn, b: SortColumn): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "metric" && b.kind === "metric") {
    return a.metric === b.metric && a.field === b.field;
  }
  return true;
}

/**
 * A header click: the same column flips direction; a new column starts in
 * the direction that brings the rows an operator looks for to the top —
 * highest values first, stalest sensors first, names A→Z.
 */
export function nextSort(current: SortSpec, column: SortColumn): SortSpec {
  if (sameColumn(current.column, column)) {
    return { column, direction: current.direction === "asc" ? "desc" : "asc" };
  }
  const direction: SortDirection = column.kind === "id" || column.kind === "group" ? "asc" : "desc";
  return { column, direction };
}

const collator = new Intl.Collator("en", { numeric: true });

export function groupMatches(group: string | undefined, prefix: string | null): boolean {
  if (prefix === null) return true;
  if (group === undefined) return false;
  return group === prefix || group.startsWith(prefix + "/");
}

/**
 * The rows to show. Sensors without the sorted value go last in either
 * direction; equal values keep id order, so rows never swap on a tie.
 */
export function sensorOrder(
  store: SensorStore,
  sort: SortSpec,
  options: { filter: RowFilter; nowMs: number },
): number[] {
  const text = options.filter.text.trim().toLowerCase();
  const rows: number[] = [];
  for (const index of store.order) {
    const id = store.ids[index];
    if (id === undefined) continue;
    if (text && !id.toLowerCase().includes(text)) continue;
    if (!groupMatches(store.groups[index], options.filter.group)) continue;
    rows.push(index);
  }
  // store.order is already by id, so sorting by id is only a matter of direction.
  const column = sort.column;
  const sign = sort.direction === "asc" ? 1 : -1;
  if (column.kind === "id") return sign === 1 ? rows : rows.reverse();
  const byId = new Map<number, number>();
  rows.forEach((index, rank) => byId.set(index, rank));
  const tie = (a: number, b: number) => byId.get(a)! - byId.get(b)!;
  if (column.kind === "group") {
    return rows.sort((a, b) =>
      sign * collator.compare(store.groups[a] ?? "", store.groups[b] ?? "") || tie(a, b)
    );
  }
  const key = new Float64Array(store.capacity).fill(NaN);
  if (column.kind === "age") {
    for (const i of rows) key[i] = options.nowMs - store.changedAt[i];
  } else {
    const m = store.metrics.find((c) => c?.name === column.metric);
    if (m) {
      const values = column.field === "last" ? m.last : m.avg;
      for (const i of rows) if (m.has[i]) key[i] = values[i];
    }
  }
  return rows.sort((a, b) => {
    const x = key[a], y = key[b];
    const xMissing = Number.isNaN(x), yMissing = Number.isNaN(y);
    if (xMissing || yMissing) return xMissing === yMissing ? tie(a, b) : xMissing ? 1 : -1;
    return sign * (x - y) || tie(a, b);
  });
}
