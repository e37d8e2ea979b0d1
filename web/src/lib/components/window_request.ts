// What the table asks the server for: the rows it shows (the virtualizer's
// visible range, with a margin for scrolling on) of the view its sort,
// filter and group make. Pure.
import type { WindowSpec } from "../feed/connection.ts";
import type { RowFilter, SortSpec } from "./sensor_order.ts";
import { stateCodes } from "../attention/state_filter.ts";
import { MAX_HIDDEN_METRICS } from "@pulseboard/protocol";

/** Rows the server rounds a window's offset and end to (its default block). */
export const BLOCK = 50;
/** Rows asked for beyond the visible ones on each side, so a scroll rarely shows blanks. */
export const MARGIN = 10;
/** Most rows one window may hold (the server's limit). */
export const MAX_ROWS = 1000;

/** The server's sort for the table's: "seen" is the newest event time, so age ascending is seen descending. */
export function windowSort(sort: SortSpec): WindowSpec["sort"] {
  const { column, direction } = sort;
  switch (column.kind) {
    case "id":
    case "group":
    case "status":
      return { key: column.kind, direction };
    case "age":
      return { key: "seen", direction: direction === "asc" ? "desc" : "asc" };
    case "metric":
      return { key: "metric", metric: column.metric, field: column.field, direction };
  }
}

/**
 * The window for visible rows `first`..`last` (inclusive), with the margin.
 * `hidden`: metric columns not shown, whose values the server need not send.
 */
export function windowSpec(o: {
  sort: SortSpec;
  filter: RowFilter;
  group: string | null;
  first: number;
  last: number;
  hidden?: readonly string[];
}): WindowSpec {
  const offset = Math.max(0, o.first - MARGIN);
  const end = Math.max(o.last + MARGIN + 1, offset + 1);
  const filter = o.filter.text.trim();
  return {
    subscriptions: o.group === null ? [] : [{ id: 1, group: o.group }],
    sort: windowSort(o.sort),
    filter: {
      idSubstring: filter,
      groupPrefix: o.filter.group,
      status: stateCodes(o.filter.states),
    },
    offset,
    limit: Math.min(MAX_ROWS, end - offset),
    hiddenMetrics: o.hidden ?? [],
  };
}

/**
 * The hidden metrics a request names, sorted: every hidden name from the
 * first request on (the server ignores names it does not know), those the
 * feed has named first when there are more than a request may carry.
 */
export function hiddenForRequest(
  hidden: ReadonlySet<string>,
  known: readonly string[],
): string[] {
  if (hidden.size <= MAX_HIDDEN_METRICS) return [...hidden].sort();
  const named = known.filter((name) => hidden.has(name));
  const seen = new Set(named);
  const rest = [...hidden].filter((name) => !seen.has(name)).sort();
  return [...named, ...rest].slice(0, MAX_HIDDEN_METRICS).sort();
}

/**
 * Equal for specs the server would serve alike: the same view and the same
 * rows once rounded to blocks (scrolling within a block asks nothing new).
 */
export function windowKey(spec: WindowSpec): string {
  const start = Math.floor(spec.offset / BLOCK) * BLOCK;
  const end = Math.ceil((spec.offset + spec.limit) / BLOCK) * BLOCK;
  return JSON.stringify([
    spec.subscriptions,
    spec.sort,
    spec.filter,
    start,
    end,
    spec.hiddenMetrics ?? [],
  ]);
}

/** The same view (sort, filter, group), whatever the rows and hidden metrics. */
export function viewKey(spec: WindowSpec): string {
  return JSON.stringify([spec.subscriptions, spec.sort, spec.filter]);
}
