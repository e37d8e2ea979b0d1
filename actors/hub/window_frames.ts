import type { FeedView, TickChanges } from "./feed_view.ts";
import type { Slice, SparkPoints } from "./views/mod.ts";
import { allocateStates } from "../../protocol/columns.ts";
import type { MetricEntry, MetricStates, SensorEntry } from "../../protocol/columns.ts";
import type { ViewFrameInput, ViewFrameKind } from "../../protocol/view_frames.ts";
import type { SparkRows } from "../../protocol/spark_columns.ts";
import { grownCapacity } from "./capacity.ts";
import { previousColumns } from "./packed_columns.ts";
import type { PreviousColumns } from "./packed_columns.ts";

/** How a frame codes the values of rows the client keeps. */
export type ValueMode =
  /** The client had the previous tick: this tick's updates, against the values before it. */
  | "delta"
  /** The client has an older tick (`since`): every value of the rows changed since, absolute. */
  | "absolute";

/** What one frame of a window brings: from the rows the client has to the rows it shows now. */
export interface WindowTransition {
  /** The rows the client has (null: none, or forget them: a whole window). */
  told: Slice | null;
  target: Slice;
  /** The tick whose state the client has. */
  since: number;
  mode: ValueMode;
  kind: ViewFrameKind;
  epoch: number;
  seq: number;
  onStream: boolean;
  total: number;
  matching: number;
  offset: number;
  intervalMs: number;
  now: number;
  /** Send it even without news (its counts changed, or it answers a request). */
  force: boolean;
  /** By metric index, 1: a metric the client does not show (no values, no points); null: none. */
  hidden: Uint8Array | null;
  /** The view's topic by attention code, when the frame carries them (see ViewFrame). */
  attentionCounts: ArrayLike<number> | null;
}

const NO_SEEN: readonly (readonly [number, number])[] = [];

const EMPTY = new Uint32Array(0);

/** A sensor's stamps in `WindowFrames`' one array: the ticks its value, entry, status and code changed. */
const STAMPS = 4, TOUCHED = 0, ENTRY = 1, STATUS = 2, ATTENTION = 3;

/**
 * Builds the frames of viewport windows from the hub's mirror (`FeedView`),
 * the fleet's sparkline points and each tick's changes: which rows enter
 * (whole, with their last minute of points), which stay (their changes),
 * and what changed in the dictionary and statuses. Keeps, per sensor, the
 * tick it last changed, so a window sent less often gets everything since
 * its last frame. Pure: the hub hands it each tick.
 */
export class WindowFrames {
  readonly #feed: FeedView;
  readonly #sparks: SparkPoints;
  readonly #bucketMs: number;
  /**
   * Per sensor, side by side (`STAMPS` a sensor: one cache line, where four
   * arrays were four misses per row of every frame, most of `build`'s own
   * time): the last tick that changed a value, its dictionary entry, its
   * status, its attention code.
   */
  #at = new Uint32Array(0);
  /** Sensors `#at` has room for. */
  #capacity = 0;
  /** This tick's updates by sensor: the first update's index, and each update's next. */
  #head = new Int32Array(0);
  #next = new Int32Array(0);
  #merged: TickChanges | null = null;
  #tickNo = 0;
  /**
   * Sensor → the last tick it started over (removed and re-added in one
   * tick): a window whose client has an older tick holds the old sensor in
   * that row. Apart from `#at` since it is rare, and read only for a row
   * whose entry changed; bounded by the fleet (a sensor gone is dropped).
   */
  readonly #restartedAt = new Map<number, number>();
  /** Set differences between a client's rows and the target's. */
  #mark = new Uint32Array(0);
  #stamp = 0;
  /** A frame's value rows while it is built (see `build`). */
  #rows = new Int32Array(0);
  readonly #lists = new RowLists();
  readonly #values = new FrameValues();
  #n = 0;
  #points = new Float32Array(0);
  /** Appends a value row (see `build`); one closure for all frames. */
  readonly #source = (value: number): void => {
    const n = this.#n;
    if (n === this.#rows.length) {
      const grown = new Int32Array(Math.max(1024, 2 * n));
      grown.set(this.#rows);
      this.#rows = grown;
    }
    this.#rows[n] = value;
    this.#n = n + 1;
  };

  constructor(feed: FeedView, sparks: SparkPoints) {
    this.#feed = feed;
    this.#sparks = sparks;
    this.#bucketMs = sparks.bucketMs;
  }

  /**
   * Takes in one tick's merged changes (null: none) as tick `tickNo`.
   * `order`: the updates' indexes by sensor (`UpdateOrder`), so the
   * per-sensor arrays are written in address order.
   */
  takeTick(merged: TickChanges | null, tickNo: number, order?: Uint32Array): void {
    if (this.#merged) {
      const u = this.#merged.updates;
      for (let i = 0; i < u.length; i++) this.#head[u.sensor[i]] = -1;
    }
    this.#merged = merged;
    this.#tickNo = tickNo;
    if (!merged) return;
    // Indexed loops, not `for (const [s] of ...)`: a restart's first tick has 100,000
    // statuses and codes, and run once, unoptimised, each pair's destructuring made an
    // iterator and its results (~40 MB of garbage, half of that tick's young collections).
    const statuses = merged.statuses, attention = merged.attention ?? [];
    let top = 0;
    for (const s of merged.sensors) top = Math.max(top, s.index + 1);
    const u = merged.updates;
    for (let i = 0; i < u.length; i++) top = Math.max(top, u.sensor[i] + 1);
    for (let j = 0; j < statuses.length; j++) top = Math.max(top, statuses[j][0] + 1);
    for (let j = 0; j < attention.length; j++) top = Math.max(top, attention[j][0] + 1);
    this.#room(top);
    if (this.#next.length < u.length) this.#next = new Int32Array(Math.max(u.length, 1024));
    // Backwards, so each sensor's chain starts at its first update (order is stable by sensor).
    const at = this.#at;
    for (let k = u.length - 1; k >= 0; k--) {
      const i = order ? order[k] : k;
      const s = u.sensor[i];
      this.#next[i] = this.#head[s];
      this.#head[s] = i;
      at[STAMPS * s + TOUCHED] = tickNo;
    }
    for (const s of merged.sensors) at[STAMPS * s.index + ENTRY] = tickNo;
    for (const s of merged.removed) this.#restartedAt.delete(s);
    for (const s of merged.restarted) this.#restartedAt.set(s, tickNo);
    for (let j = 0; j < statuses.length; j++) at[STAMPS * statuses[j][0] + STATUS] = tickNo;
    for (let j = 0; j < attention.length; j++) at[STAMPS * attention[j][0] + ATTENTION] = tickNo;
  }

  #room(top: number): void {
    if (top <= this.#capacity) return;
    const n = grownCapacity(this.#capacity, top);
    const grow = <A extends Uint32Array | Int32Array>(a: A, make: (n: number) => A) => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.#at = grow(this.#at, () => new Uint32Array(STAMPS * n));
    this.#head = grow(this.#head, (k) => new Int32Array(k).fill(-1));
    this.#mark = grow(this.#mark, (k) => new Uint32Array(k));
    this.#capacity = n;
  }

  /**
   * The frame of one transition, or null when it brings nothing (and is not
   * forced). Its values and sparkline points are views of this object's
   * scratch arrays, reused by the next `build`: encode it before that. A
   * tick builds ~100 frames: fresh typed arrays for each (a dozen buffers a
   * frame) were most of what the views' tick allocated.
   */
  build(t: WindowTransition): ViewFrameInput | null {
    const target = t.target.rows;
    const told = t.told?.rows ?? EMPTY;
    let top = 0;
    for (let i = 0; i < target.length; i++) if (target[i] >= top) top = target[i] + 1;
    for (let i = 0; i < told.length; i++) if (told[i] >= top) top = told[i] + 1;
    this.#room(top);
    const mark = this.#mark;
    if (this.#stamp >= 0xffff_fff0) {
      mark.fill(0);
      this.#stamp = 0;
    }
    const was = ++this.#stamp;
    for (let i = 0; i < told.length; i++) mark[told[i]] = was;
    const lists = this.#lists;
    lists.ensure(target.length);
    const { entered, changed, regrouped, restatused, rejudged } = lists;
    let nEntered = 0, nChanged = 0, nRegrouped = 0, nRestatused = 0, nRejudged = 0;
    let restarted: number[] | undefined;
    let sameRows = told.length === target.length;
    const since = t.since;
    const at = this.#at;
    // Entering rows; staying rows with their changes since the client's tick.
    for (let i = 0; i < target.length; i++) {
      const s = target[i];
      if (sameRows && told[i] !== s) sameRows = false;
      if (mark[s] !== was) {
        entered[nEntered++] = s;
        continue;
      }
      const b = STAMPS * s;
      if (at[b + ENTRY] > since && (this.#restartedAt.get(s) ?? -1) > since) {
        // The client holds the sensor before it started over: it is told to drop that, and the
        // row is sent whole, as one entering.
        (restarted ??= []).push(s);
        entered[nEntered++] = s;
        continue;
      }
      if (at[b + TOUCHED] > since) changed[nChanged++] = s;
      if (at[b + ENTRY] > since) regrouped[nRegrouped++] = s;
      if (at[b + STATUS] > since) restatused[nRestatused++] = s;
      if (at[b + ATTENTION] > since) rejudged[nRejudged++] = s;
    }
    const rowsChanged = t.told === null || !sameRows;
    if (
      !t.force && !rowsChanged && nEntered === 0 && nChanged === 0 && nRegrouped === 0 &&
      nRestatused === 0 && nRejudged === 0
    ) return null;

    const feed = this.#feed;
    const metrics = feed.metrics();
    // Values: entering rows whole (fresh), staying rows' changes. Each row is
    // a slot of the mirror's values (-1 - slot) or an update of this tick (≥ 0).
    const delta = t.mode === "delta" && this.#merged !== null && since === this.#tickNo - 1;
    const hidden = t.hidden;
    const updated = this.#merged?.updates.metric;
    this.#n = 0;
    const source = this.#source;
    for (let e = 0; e < nEntered; e++) {
      const s = entered[e];
      for (const m of metrics) {
        if (hidden !== null && hidden[m.index] === 1) continue;
        const slot = feed.valueSlot(s, m.index);
        if (slot >= 0) source(-1 - slot);
      }
    }
    for (let c = 0; c < nChanged; c++) {
      const s = changed[c];
      if (delta) {
        for (let i = this.#head[s]; i >= 0; i = this.#next[i]) {
          if (hidden === null || hidden[updated![i]] !== 1) source(i);
        }
      } else {
        for (const m of metrics) {
          if (hidden !== null && hidden[m.index] === 1) continue;
          const slot = feed.valueSlot(s, m.index);
          if (slot >= 0) source(-1 - slot);
        }
      }
    }
    const n = this.#n;
    // A row's age is its newest event time: when that came with hidden metrics only, say it.
    let seen = NO_SEEN;
    if (hidden !== null) {
      const times: [number, number][] = [];
      for (let e = 0; e < nEntered; e++) this.#seenHidden(entered[e], hidden, metrics, times);
      for (let c = 0; c < nChanged; c++) this.#seenHidden(changed[c], hidden, metrics, times);
      if (times.length > 0) seen = times;
    }
    // Rows whose only changes were in hidden metrics bring their times, or nothing.
    if (
      !t.force && !rowsChanged && nEntered === 0 && n === 0 && seen.length === 0 &&
      nRegrouped === 0 && nRestatused === 0 && nRejudged === 0
    ) return null;
    const values = this.#values.take(n);
    const updates = values.states;
    // Bases only for a delta: an absolute frame's values are all fresh.
    const previous = delta ? values.previous : undefined;
    const v = feed.values;
    const u = this.#merged?.updates;
    const p = this.#merged?.previous;
    const rows = this.#rows;
    for (let j = 0; j < n; j++) {
      const i = rows[j];
      if (i < 0) {
        v.copyInto(updates, j, -1 - i);
        if (previous) previous.has[j] = 0;
        continue;
      }
      copyState(updates, j, u!, i);
      previous!.has[j] = p!.has[i];
      previous!.last[j] = p!.last[i];
      previous!.avg[j] = p!.avg[i];
      previous!.min[j] = p!.min[i];
      previous!.max[j] = p!.max[i];
    }
    // Entering rows first (their sparklines line up with them), then regrouped staying ones.
    const dictionary: SensorEntry[] = [];
    for (let e = 0; e < nEntered; e++) {
      const entry = feed.sensor(entered[e]);
      if (entry) dictionary.push(entry);
    }
    const entering = dictionary.length;
    for (let r = 0; r < nRegrouped; r++) {
      const entry = feed.sensor(regrouped[r]);
      if (entry) dictionary.push(entry);
    }
    const statuses: [number, string][] = [];
    const attention: [number, number][] = [];
    for (let e = 0; e < nEntered; e++) {
      const status = feed.status(entered[e]);
      if (status !== null) statuses.push([entered[e], status]);
    }
    for (let r = 0; r < nRestatused; r++) {
      const status = feed.status(restatused[r]);
      if (status !== null) statuses.push([restatused[r], status]);
    }
    for (let e = 0; e < nEntered; e++) {
      attention.push([entered[e], feed.attention.code(entered[e])]);
    }
    for (let r = 0; r < nRejudged; r++) {
      attention.push([rejudged[r], feed.attention.code(rejudged[r])]);
    }
    const absolute = !delta;
    let sendMetrics: readonly MetricEntry[] = this.#merged?.metrics ?? [];
    if (absolute || nEntered > 0 || t.kind !== "tick") sendMetrics = metrics;
    return {
      epoch: t.epoch,
      seq: t.seq,
      serverTimeMs: t.now,
      onStream: t.onStream,
      kind: t.kind,
      total: t.total,
      matching: t.matching,
      offset: t.offset,
      rows: rowsChanged ? target : null,
      entered: dictionary,
      metrics: sendMetrics,
      updates,
      // Fresh everywhere when absolute: the frame then needs no bases.
      previous,
      avgDigits: 2,
      statuses,
      attention,
      sparkBucketMs: this.#bucketMs,
      sparks: this.#sparkRows(dictionary, { entering, metrics, hidden }),
      intervalMs: t.intervalMs,
      attentionCounts: t.attentionCounts,
      seen,
      // Always set, so every frame has one shape (no spread in this per-frame literal).
      restarted,
    };
  }

  /** Adds `[sensor, time]` when the sensor's newest event time is in a hidden metric only. */
  #seenHidden(
    s: number,
    hidden: Uint8Array,
    metrics: readonly MetricEntry[],
    out: [number, number][],
  ): void {
    const values = this.#feed.values;
    let shown = -Infinity, all = -Infinity;
    for (const m of metrics) {
      const slot = this.#feed.valueSlot(s, m.index);
      if (slot < 0) continue;
      const t = values.timeMs(slot);
      if (t > all) all = t;
      if (hidden[m.index] !== 1 && t > shown) shown = t;
    }
    if (all > shown) out.push([s, all]);
  }

  /**
   * Sparkline points aligned with the frame's dictionary entries: the first
   * `entering` are rows entering the window (their last minute of points),
   * the others staying rows whose group changed (none). Per metric that has
   * any; the points are views of one scratch array (see `build`).
   */
  #sparkRows(
    entries: readonly SensorEntry[],
    o: { entering: number; metrics: readonly MetricEntry[]; hidden: Uint8Array | null },
  ): SparkRows[] {
    if (o.entering === 0) return [];
    const sparks = this.#sparks;
    const out: SparkRows[] = [];
    const each = o.entering * sparks.points;
    if (this.#points.length < each * o.metrics.length) {
      this.#points = new Float32Array(each * o.metrics.length);
    }
    for (let k = 0; k < o.metrics.length; k++) {
      const metric = o.metrics[k].index;
      if (o.hidden !== null && o.hidden[metric] === 1) continue;
      const counts: number[] = [];
      const newest: number[] = [];
      // Read straight into this metric's part of the scratch (the frame is encoded from it once).
      const points = this.#points.subarray(k * each, (k + 1) * each);
      let total = 0;
      for (let r = 0; r < entries.length; r++) {
        const s = entries[r].index;
        const count = r < o.entering ? sparks.read(s, metric, points, total) : 0;
        counts.push(count);
        newest.push(count > 0 ? Math.floor(sparks.newestMs(s, metric)! / this.#bucketMs) : 0);
        total += count;
      }
      if (total > 0) {
        out.push({ metric, counts, newestBucket: newest, points: points.subarray(0, total) });
      }
    }
    return out;
  }
}

/** Per-frame lists of sensors, kept from frame to frame (see `WindowFrames.build`). */
class RowLists {
  entered = new Uint32Array(0);
  changed = new Uint32Array(0);
  regrouped = new Uint32Array(0);
  restatused = new Uint32Array(0);
  rejudged = new Uint32Array(0);

  ensure(n: number): void {
    if (this.entered.length >= n) return;
    const c = Math.max(n, 2 * this.entered.length, 256);
    this.entered = new Uint32Array(c);
    this.changed = new Uint32Array(c);
    this.regrouped = new Uint32Array(c);
    this.restatused = new Uint32Array(c);
    this.rejudged = new Uint32Array(c);
  }
}

/** A frame's values and their bases, in arrays kept from frame to frame, grown when short. */
class FrameValues {
  #capacity = 0;
  #states: MetricStates = allocateStates(0);
  #previous = allocatePrevious(0);

  /** Arrays of at least `n` entries; `states.length` is `n`. */
  take(n: number): { states: MetricStates; previous: PreviousColumns } {
    if (n > this.#capacity) {
      this.#capacity = Math.max(n, 2 * this.#capacity, 256);
      this.#states = allocateStates(this.#capacity);
      this.#previous = allocatePrevious(this.#capacity);
    }
    return { states: { ...this.#states, length: n }, previous: this.#previous };
  }
}

/** Own columns (not one buffer: they are written in place, tick after tick), in the one shape. */
function allocatePrevious(n: number): PreviousColumns {
  return previousColumns(
    n,
    new Uint8Array(n),
    new Float64Array(n),
    new Float64Array(n),
    new Float64Array(n),
    new Float64Array(n),
  );
}

function copyState(to: MetricStates, j: number, from: MetricStates, i: number): void {
  to.sensor[j] = from.sensor[i];
  to.metric[j] = from.metric[i];
  to.last[j] = from.last[i];
  to.avg[j] = from.avg[i];
  to.min[j] = from.min[i];
  to.max[j] = from.max[i];
  to.timeMs[j] = from.timeMs[i];
}
