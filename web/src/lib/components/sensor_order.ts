// The table's sort and filter as the operator sets them (the server orders
// and filters the rows: see window_request.ts). Pure.
import type { AttentionName } from "@pulseboard/protocol";

export type SortColumn =
  | { kind: "id" }
  | { kind: "group" }
  | { kind: "metric"; metric: string; field: "last" | "avg" }
  /** Time since the newest reading (what the age column shows). */
  | { kind: "age" }
  /** The attention state: critical, warn, offline, stale, ok (descending), unknown last. */
  | { kind: "status" };

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
  /** Attention states shown (`attention/state_filter.ts`); null for all. */
  states: readonly AttentionName[] | null;
}

/** Attention first: the sensors that need an operator at the top, then by id. */
export const DEFAULT_SORT: SortSpec = { column: { kind: "status" }, direction: "desc" };

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

export function groupMatches(group: string | undefined, prefix: string | null): boolean {
  if (prefix === null) return true;
  if (group === undefined) return false;
  return group === prefix || group.startsWith(prefix + "/");
}
