import { checkGroup, MAX_SENSOR_ID_LENGTH } from "../../../protocol/names.ts";

/** A metric state field a view can sort by. */
export type MetricField = "last" | "avg" | "min" | "max";
export const METRIC_FIELDS: readonly MetricField[] = Object.freeze(["last", "avg", "min", "max"]);

/**
 * What a view sorts by. `status` is the attention state's slot: a small code
 * per sensor (0: none, which sorts last like any missing value), set by the
 * hub; issue 14 gives the codes their meaning (ok, warn, critical, stale,
 * offline) and their order.
 */
export type SortKey =
  | { kind: "id" }
  | { kind: "group" }
  /** Newest event time of any of the sensor's metrics. */
  | { kind: "seen" }
  | { kind: "metric"; metric: number; field: MetricField }
  | { kind: "status" };

export type SortDirection = "asc" | "desc";

export interface ViewSort {
  key: SortKey;
  direction: SortDirection;
}

export interface ViewFilter {
  /** Case-insensitive substring of the sensor id; "" for all. */
  idSubstring: string;
  /** Group prefix ("plant-a" covers "plant-a/line-1"); null for all. */
  groupPrefix: string | null;
  /** Status codes shown (0 is "none"); null for all. */
  status: readonly number[] | null;
}

export const NO_FILTER: ViewFilter = Object.freeze({
  idSubstring: "",
  groupPrefix: null,
  status: null,
});

/** Status codes fit in a byte. */
export const MAX_STATUS = 255;
/** Longest id substring: no id is longer. */
export const MAX_ID_SUBSTRING = MAX_SENSOR_ID_LENGTH;

/** A stable name for a sort key, e.g. "metric:3:avg" (what shared columns are keyed by). */
export function sortKeyName(key: SortKey): string {
  return key.kind === "metric" ? `metric:${key.metric}:${key.field}` : key.kind;
}

/**
 * Checks a sort and filter from a client and returns them canonical (id
 * substring trimmed and lower case, status codes sorted and unique, no
 * fields beyond the known ones). Throws TypeError or RangeError saying what
 * is wrong.
 */
export function checkView(
  sort: ViewSort,
  filter: ViewFilter,
): { sort: ViewSort; filter: ViewFilter } {
  return {
    sort: { key: checkKey(sort?.key), direction: checkDirection(sort?.direction) },
    filter: checkFilter(filter),
  };
}

function checkKey(key: SortKey | undefined): SortKey {
  switch (key?.kind) {
    case "id":
    case "group":
    case "seen":
    case "status":
      return { kind: key.kind };
    case "metric": {
      const { metric, field } = key;
      if (!Number.isInteger(metric) || metric < 0 || metric > 0xffff) {
        throw new RangeError(
          `Cannot open view: metric index ${metric} is not an integer in 0..65535`,
        );
      }
      if (!METRIC_FIELDS.includes(field)) {
        throw new RangeError(
          `Cannot open view: field ${JSON.stringify(field)} is not one of ${
            METRIC_FIELDS.join(", ")
          }`,
        );
      }
      return { kind: "metric", metric, field };
    }
    default:
      throw new TypeError(
        `Cannot open view: sort key ${
          JSON.stringify((key as { kind?: unknown } | undefined)?.kind)
        } is not one of id, group, seen, metric, status`,
      );
  }
}

function checkDirection(direction: unknown): SortDirection {
  if (direction === "asc" || direction === "desc") return direction;
  throw new TypeError(
    `Cannot open view: direction ${JSON.stringify(direction)} is not asc or desc`,
  );
}

function checkFilter(filter: ViewFilter | undefined): ViewFilter {
  const text = filter?.idSubstring ?? "";
  if (typeof text !== "string") {
    throw new TypeError("Cannot open view: idSubstring is not a string");
  }
  const idSubstring = text.trim().toLowerCase();
  if (idSubstring.length > MAX_ID_SUBSTRING) {
    throw new RangeError(
      `Cannot open view: idSubstring is longer than ${MAX_ID_SUBSTRING} characters`,
    );
  }
  const groupPrefix = filter?.groupPrefix ?? null;
  if (groupPrefix !== null) {
    const reason = groupPrefix === "" ? "group prefix is empty" : checkGroup(groupPrefix);
    if (reason) throw new RangeError(`Cannot open view: ${reason}`);
  }
  const codes = filter?.status ?? null;
  let status: number[] | null = null;
  if (codes !== null) {
    if (!Array.isArray(codes)) {
      throw new TypeError("Cannot open view: status is not a list of codes");
    }
    for (const code of codes) {
      if (!Number.isInteger(code) || code < 0 || code > MAX_STATUS) {
        throw new RangeError(
          `Cannot open view: status code ${code} is not an integer in 0..${MAX_STATUS}`,
        );
      }
    }
    status = [...new Set(codes)].sort((a, b) => a - b);
  }
  return { idSubstring, groupPrefix, status };
}

/** The key views are shared by: equal for requests that select and order the same rows. */
export function viewKey(topicKey: string, sort: ViewSort, filter: ViewFilter): string {
  const status = filter.status === null ? "*" : filter.status.join(",");
  // JSON quoting keeps any character of the substring or topic from forging a separator.
  return JSON.stringify([
    topicKey,
    sortKeyName(sort.key),
    sort.direction,
    filter.idSubstring,
    filter.groupPrefix,
    status,
  ]);
}
