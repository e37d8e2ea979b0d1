import { attentionName } from "../../protocol/attention.ts";
import type { AttentionName } from "../../protocol/attention.ts";
import type { FeedView } from "./feed_view.ts";
import { covers } from "./topic.ts";
import { groupAggregates } from "./group_aggregates.ts";
import { CollationOrder } from "./views/collation_order.ts";

/** One sensor as `GET /api/sensors` lists it. */
export interface SensorSummary {
  id: string;
  group: string;
  /** Status of its newest reading that had one; null when none had. */
  status: string | null;
  /** Its attention state: critical, warn, offline, stale, ok, or unknown. */
  attention: AttentionName;
  /** Newest event time over its metrics. */
  lastSeenMs: number | null;
  lateDropped: number;
  /**
   * By metric name: `value` and `timeMs`, the reading with the newest event
   * time (on a tie, the later arrival); `avg`, `min` and `max` of the same
   * readings, its last `--window` in arrival order, late ones included.
   */
  metrics: Record<string, { value: number; timeMs: number; avg: number; min: number; max: number }>;
}

export interface SensorQuery {
  /** Group prefix; null for all. */
  group: string | null;
  /** Case-insensitive substring of the id; null for all. */
  q: string | null;
  limit: number;
  /** List ids after this one (exclusive); null from the start. */
  after: string | null;
  /** The viewer's group prefixes (`*` among them: every group); null for no limit. */
  scope: readonly string[] | null;
  /** Only the sensor with exactly this id. */
  id?: string;
}

/**
 * When the fleet's set of sensors last changed, as the hub knows it
 * (`SortKeys.setChangedAt` of its views' keys): a listing whose stamp is
 * the same is up to date. `source` changes when the hub starts its views
 * over (its serials start over with them).
 */
export interface FleetStamp {
  source: object;
  serial: number;
}

/**
 * The fleet's sensors in the order `GET /api/sensors` lists them: by id,
 * code unit by code unit (JavaScript's `<` on strings). That is not the
 * dashboard's listing order (`SortKeys.idOrder`, a `CollationOrder`: case
 * folded, digit runs by value, so `s2` before `s10`), which the API never
 * used and its cursors (the last id of a page) could not follow; so this
 * keeps an order of its own. It is brought up to date when a page is asked
 * for after the set changed: one pass over the view's sensors to find who
 * came or went, a sort of those that came, and a merge (nothing is sorted
 * again when nothing came). A page then starts at its cursor by binary
 * search and reads on only until it has `limit` matches and one more, so it
 * costs about `limit` plus the sensors its filters skip; one id is a binary
 * search. Nothing runs at the hub's tick: a fleet nobody lists costs nothing.
 */
export class SensorListing {
  #view: FeedView | null = null;
  #stamp: FleetStamp | null = null;
  /** Listed sensor indexes by id (`CollationOrder` by code units): adds merged in, not sorted again. */
  #order = new CollationOrder({ compare: compareIds });
  /** By sensor index: that id in lower case, kept once a `q` asked for it. */
  #lower: (string | undefined)[] = [];
  /** Sensors sorted in so far, and read by pages (for tests: what a page costs). */
  get sorted(): number {
    return this.#order.sortedItems;
  }
  visited = 0;

  /** Sensors matching a query, ordered by id, one page at a time. */
  page(
    view: FeedView,
    query: SensorQuery,
    stamp: FleetStamp | null = null,
  ): { sensors: SensorSummary[]; more: boolean } {
    this.#refresh(view, stamp);
    const found = this.#scan(view, query);
    // A listing out of step with the view (a stamp that missed a change) is made again.
    const indexes = found ?? (this.#refresh(view, null), this.#scan(view, query)!);
    return {
      sensors: indexes.sensors.map((index) => sensorSummary(view, index)!),
      more: indexes.more,
    };
  }

  /** The matching sensors' indexes; null when a listed sensor is not the view's. */
  #scan(view: FeedView, query: SensorQuery): { sensors: number[]; more: boolean } | null {
    const order = this.#order.order;
    const listing = this.#order;
    const lower = this.#lower;
    const q = query.q?.toLowerCase() ?? null;
    const scope = query.scope === null || query.scope.includes("*") ? null : query.scope;
    let start = query.after === null ? 0 : this.#first(query.after, true);
    let end = order.length;
    if (query.id !== undefined) {
      // One id: where it would be, if listed at all.
      const at = this.#first(query.id, false);
      if (at < start) return { sensors: [], more: false };
      start = at;
      end = at < order.length && listing.name(order[at]) === query.id ? at + 1 : at;
    }
    const sensors: number[] = [];
    for (let k = start; k < end; k++) {
      this.visited++;
      const index = order[k];
      const sensor = view.sensor(index);
      if (sensor === undefined || sensor.id !== listing.name(index)) return null;
      if (query.group !== null && !covers(query.group, sensor.group)) continue;
      if (q !== null && !(lower[index] ??= sensor.id.toLowerCase()).includes(q)) continue;
      if (scope !== null && !scope.some((p) => covers(p, sensor.group))) continue;
      if (sensors.length === query.limit) return { sensors, more: true };
      sensors.push(index);
    }
    return { sensors, more: false };
  }

  /** The first position whose id is after `id` (`after`), or `id` or after it. */
  #first(id: string, after: boolean): number {
    const order = this.#order.order;
    let lo = 0, hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.#order.name(order[mid])!;
      if (after ? at <= id : at < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Takes in the sensors that came or went since the last stamp (all of them without one). */
  #refresh(view: FeedView, stamp: FleetStamp | null): void {
    if (view !== this.#view) {
      this.#view = view;
      this.#order = new CollationOrder({ compare: compareIds });
      this.#lower = [];
    } else if (
      stamp !== null && this.#stamp !== null && stamp.source === this.#stamp.source &&
      stamp.serial === this.#stamp.serial && view.sensorCount === this.#order.size
    ) return;
    this.#stamp = stamp && { source: stamp.source, serial: stamp.serial };
    const listing = this.#order;
    // The view's sensor indexes only grow (`sensorLimit`): one gone stays below it, undefined.
    for (let i = 0; i < view.sensorLimit; i++) {
      const id = view.sensor(i)?.id;
      if (id === listing.name(i)) continue;
      this.#lower[i] = undefined;
      if (id === undefined) listing.remove(i);
      else listing.add(i, id); // a listed item is renamed
    }
    listing.commit();
  }
}

/** Ids as `GET /api/sensors` orders them: by UTF-16 code units. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sensors matching a query, ordered by id, one page at a time; a listing
 * made for this call alone (the hub keeps one: `SensorListing`).
 */
export function listSensors(
  view: FeedView,
  query: SensorQuery,
): { sensors: SensorSummary[]; more: boolean } {
  return new SensorListing().page(view, query);
}

/** One sensor as `GET /api/sensors` lists it; null for an index the view does not hold. */
export function sensorSummary(view: FeedView, index: number): SensorSummary | null {
  const sensor = view.sensor(index);
  if (!sensor) return null;
  const metrics: SensorSummary["metrics"] = {};
  let lastSeenMs: number | null = null;
  const v = view.values;
  for (const metric of view.metrics()) {
    const slot = view.valueSlot(index, metric.index);
    if (slot < 0) continue;
    const timeMs = v.timeMs(slot);
    metrics[metric.name] = {
      value: v.last(slot),
      timeMs,
      avg: v.avg(slot),
      min: v.min(slot),
      max: v.max(slot),
    };
    if (lastSeenMs === null || timeMs > lastSeenMs) lastSeenMs = timeMs;
  }
  return {
    id: sensor.id,
    group: sensor.group,
    status: view.status(index),
    attention: attentionName(view.attention.code(index)),
    lastSeenMs,
    lateDropped: view.lateDropped(index),
    metrics,
  };
}

/**
 * A group's aggregates for one window size, by metric name, as `GET
 * /api/aggregates` answers; null when `metricName` names no metric the
 * fleet has (metric names are the whole fleet's: every feed is told them).
 */
export function aggregatesByName(
  view: FeedView,
  group: string,
  size: number,
  metricName: string | null,
  scope: readonly string[] | null,
): {
  metric: string;
  windowStartMs: number;
  sensors: number;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
}[] | null {
  const metrics = view.metrics();
  const metric = metricName === null
    ? undefined
    : metrics.find((m) => m.name === metricName)?.index ?? -1;
  if (metric === -1) return null;
  const names = new Map(metrics.map((m) => [m.index, m.name]));
  return groupAggregates(view, group, size, { metric, scope }).map((a) => ({
    metric: names.get(a.metric)!,
    windowStartMs: a.startMs,
    sensors: a.sensors,
    count: a.count,
    sum: a.sum,
    avg: a.sum / a.count,
    min: a.min,
    max: a.max,
  }));
}
