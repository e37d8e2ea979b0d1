import type { TickChanges } from "../feed_view.ts";
import type { TopicSpec } from "../topic.ts";
import { TopicTable } from "../topic_table.ts";
import type { Owners } from "../topic_table.ts";
import { ColumnOrder } from "./column_order.ts";
import type { OrderSorter } from "./order_sorter.ts";
import { RadixScratch } from "./radix_order.ts";
import { SortWorker } from "./sort_worker.ts";
import { SortKeys } from "./sort_keys.ts";
import type { StateSource } from "./sort_keys.ts";
import { View } from "./view.ts";
import type { Slice } from "./view.ts";
import { checkView, sortKeyName, viewKey } from "./view_spec.ts";
import type { ViewFilter, ViewSort } from "./view_spec.ts";
import { DEFAULT_WINDOW_LIMITS, NO_ROWS, placeWindow, ViewWindow } from "./view_window.ts";
import type { WindowLimits } from "./view_window.ts";

export interface ViewTableOptions {
  /** Distinct views (topic, sort, filter) at once. Default 256. */
  maxViews: number;
  /** Views one client address, or one token, may hold and still make another. Default `max(4, maxViews / 16)`. */
  viewsPerClient: number;
  /** Windows at once, over all sessions. Default 20,000. */
  maxWindows: number;
  /** Least time between two orderings of a view caused by changing values. Default 1000 ms. */
  resortMs: number;
  /**
   * Least time between two sorts of a shared order for the schedule. Default
   * `resortMs`: each order is sorted about once a second, and the views on it
   * take their rows from that sort as they come due.
   */
  columnMaxAgeMs: number;
  /** Least time between two sorts of a shared order asked for by operators. Default 100 ms. */
  minSortGapMs: number;
  /**
   * Spread of the first scheduled ordering of new views: a view made at t is
   * next ordered at t + resortMs + a phase in [0, staggerMs) fixed by its id,
   * so views made together (a page of clients arriving at once) do not all
   * come due in the same tick. Default `resortMs`.
   */
  staggerMs: number;
  /** How long a view without windows is kept for a client that comes back. Default 30,000 ms. */
  idleMs: number;
  /**
   * Work per tick for scheduled orderings, in sensors visited by a view's
   * scan (a shared order's whole radix sort counts 12 per sensor, an
   * incremental one 4 per sensor and 24 per moved key); operators' own
   * and at least one scheduled ordering run anyway. A scheduled ordering
   * whose expected work (its sort, if due, and its last scan) would take the
   * tick past the budget waits for the next tick, which staggers them.
   * Default 2,500,000: one sort of 100,000 sensors and a dozen full scans,
   * about 10 ms on the 2-core machine.
   */
  tickBudget: number;
  /**
   * Shared orders sorted per tick for the schedule (operators' own sorts
   * are not counted, nor held back): the views of a further stale order wait
   * a tick, so the orders' once-a-second sorts fall in different ticks rather
   * than piling into one. Default 1.
   */
  sortsPerTick: number;
  /**
   * Live sensors from which a shared order's scheduled sort runs off the
   * tick, on a worker thread (`sorter`), its order taken in at a later tick
   * (dated when it was started: at most a second old by design anyway).
   * Operators' sorts, first sorts and sorts for sensors that came still run
   * in the tick. Default 20,000; Infinity: always in the tick.
   */
  offThreadMin: number;
  /**
   * Starts the off-tick sorter, at the first sort that may use it; null: it
   * cannot start, and every sort runs in the tick. Default: a `SortWorker`.
   */
  sorter: () => OrderSorter | null;
  window: WindowLimits;
}

const NO_TOUCH = new Uint8Array(0);

/** What a window shows: a topic (canonical key and spec), a sort, a filter and rows. */
export interface WindowRequest {
  topic: { key: string; spec: TopicSpec };
  sort: ViewSort;
  filter: ViewFilter;
  offset: number;
  limit: number;
}

/** A window opened or changed, with the windows closed because their views were evicted to make room; or why not. */
export type Opened = { window: ViewWindow; evicted: ViewWindow[] } | { refused: string };

/** What the last `advance` did (for stats and the benchmark). */
export interface TickWork {
  orderings: number;
  sorts: number;
  work: number;
  /** Views due that waited for a later tick. */
  deferred: number;
  /** Of `sorts`, those started off the tick; and orders sorted off the tick taken in. */
  offThread: number;
  adopted: number;
}

/** What a window's rows did from one slice to another (arrays shared, never changed). */
interface RowsDiff {
  moved: boolean;
  entered: readonly number[];
  left: readonly number[];
  changed: readonly number[];
}

/** The slice of a window that showed nothing yet. */
const NO_SLICE: Slice = {
  key: "",
  version: -1,
  rows: new Uint32Array(0),
  changedTick: -1,
  changed: NO_ROWS,
};

/**
 * The ordered, filtered views over the fleet and the windows sessions hold
 * on them. Views are shared by (topic, sort, filter) and counted against the
 * clients that made them (a `TopicTable`: a share per address and token, idle
 * ones evicted first). Once a tick, `advance` takes the tick's changes into
 * the keys, orders the views that are due within a work budget (shared
 * orders sorted once for all their views), and works out each window's news.
 * Pure: time is passed in.
 */
export class ViewTable {
  readonly keys: SortKeys;
  readonly #options: ViewTableOptions;
  readonly #registry: TopicTable<View, ViewWindow>;
  readonly #columns = new Map<string, ColumnOrder>();
  /** Per topic, the view that counts its sensors by status for every view on it. */
  readonly #counters = new Map<string, View>();
  readonly #windowsOf = new Map<View, Set<ViewWindow>>();
  readonly #scratch = new RadixScratch();
  #nextViewId = 1;
  #nextWindowId = 1;
  #windowCount = 0;
  #tick = 0;
  /** Stamps per sensor for set differences between a window's old and new rows. */
  #mark = new Uint32Array(0);
  #stamp = 0;
  /** This tick's diffs by (shown slice, target slice), with and without deltas. */
  readonly #diffsWithDeltas = new Map<Slice, Map<Slice, RowsDiff>>();
  readonly #diffsWithout = new Map<Slice, Map<Slice, RowsDiff>>();
  readonly #news: ViewWindow[] = [];
  last: TickWork = noWork();
  #sorter: OrderSorter | null = null;
  /** Whether the sorter was started (or could not be): it is not started again. */
  #sorterTried = false;
  #closed = false;
  #nextToken = 1;
  readonly #inFlight = new Map<number, ColumnOrder>();
  #adopted = 0;

  constructor(source: StateSource, options: Partial<ViewTableOptions> = {}) {
    const maxViews = options.maxViews ?? 256;
    const resortMs = options.resortMs ?? 1000;
    this.#options = {
      maxViews,
      viewsPerClient: options.viewsPerClient ?? Math.max(4, Math.floor(maxViews / 16)),
      maxWindows: options.maxWindows ?? 20_000,
      resortMs,
      columnMaxAgeMs: options.columnMaxAgeMs ?? resortMs,
      minSortGapMs: options.minSortGapMs ?? 100,
      idleMs: options.idleMs ?? 30_000,
      tickBudget: options.tickBudget ?? 2_500_000,
      sortsPerTick: options.sortsPerTick ?? 1,
      offThreadMin: options.offThreadMin ?? 20_000,
      sorter: options.sorter ?? SortWorker.start,
      staggerMs: options.staggerMs ?? resortMs,
      window: options.window ?? DEFAULT_WINDOW_LIMITS,
    };
    checkOptions(this.#options);
    this.#registry = new TopicTable({
      maxTopics: this.#options.maxViews,
      share: this.#options.viewsPerClient,
    });
    this.keys = new SortKeys(source);
  }

  get viewCount(): number {
    return this.#registry.size;
  }

  get windowCount(): number {
    return this.#windowCount;
  }

  get columnCount(): number {
    return this.#columns.size;
  }

  /** Views, in creation order. */
  views(): IterableIterator<View> {
    return this.#registry.values();
  }

  /** The windows on `view`. */
  windowsOf(view: View): ReadonlySet<ViewWindow> {
    return this.#windowsOf.get(view) ?? new Set();
  }

  /** Bytes of the engine's arrays: keys, shared orders, views and scratch (not window objects). */
  get bytes(): number {
    let bytes = this.keys.bytes + this.#scratch.bytes + this.#mark.byteLength;
    for (const column of this.#columns.values()) bytes += column.bytes;
    for (const view of this.#registry.values()) bytes += view.bytes;
    return bytes;
  }

  /**
   * Opens a window for `request`, on the view it names (made if new).
   * Throws TypeError or RangeError for a malformed request; refuses (without
   * changing anything) when limits say no.
   */
  open(request: WindowRequest, options: { owners: Owners; now: number }): Opened {
    const { sort, filter } = checkView(request.sort, request.filter);
    if (this.#windowCount >= this.#options.maxWindows) {
      return { refused: `the server already serves ${this.#options.maxWindows} view windows` };
    }
    const key = viewKey(request.topic.key, sort, filter);
    // Made with a placeholder view, so a refused request changes nothing.
    const window = new ViewWindow(this.#nextWindowId, null as unknown as View, {
      offset: request.offset,
      limit: request.limit,
      limits: this.#options.window,
    });
    const joined = this.#join(window, { key, request: { ...request, sort, filter }, ...options });
    if ("refused" in joined) return joined;
    this.#nextWindowId++;
    this.#windowCount++;
    return { window, evicted: joined.evicted };
  }

  /**
   * Points `window` at another request: a new place on the same view, or
   * another view (sort, filter or topic). The rows it keeps are not sent
   * again: only those new to it enter. Refused: it stays as it was.
   */
  change(
    window: ViewWindow,
    request: WindowRequest,
    options: { owners: Owners; now: number },
  ): Opened {
    if (window.closed !== null) {
      throw new TypeError(`Cannot change window: it was closed (${window.closed})`);
    }
    const { sort, filter } = checkView(request.sort, request.filter);
    placeWindow(request.offset, request.limit, this.#options.window); // throws before anything changes
    const key = viewKey(request.topic.key, sort, filter);
    const old = window.view;
    if (key !== old.key) {
      this.#leave(window, options.now);
      const joined = this.#join(window, { key, request: { ...request, sort, filter }, ...options });
      if ("refused" in joined) {
        // The old view is idle now, not gone: a refusal evicts nothing.
        this.#join(window, { key: old.key, request, ...options, make: () => old });
        return joined;
      }
      window.release();
      window.move(request.offset, request.limit, this.#options.window);
      return { window, evicted: joined.evicted };
    }
    window.move(request.offset, request.limit, this.#options.window);
    return { window, evicted: [] };
  }

  /** Closes a window; its view stays, idle once it has none, for `idleMs`. */
  close(window: ViewWindow, now: number): void {
    if (window.closed !== null) return;
    window.closed = "closed";
    this.#leave(window, now);
    this.#windowCount--;
  }

  #join(
    window: ViewWindow,
    o: { key: string; request: WindowRequest; owners: Owners; now: number; make?: () => View },
  ): { evicted: ViewWindow[] } | { refused: string } {
    const got = this.#registry.acquire(o.key, window, {
      owners: o.owners,
      bytes: o.key.length,
      now: o.now,
      make: o.make ?? (() => this.#makeView(o.key, o.request)),
    });
    if ("refused" in got) return { refused: this.#refusal(o.owners) };
    const evicted: ViewWindow[] = [];
    for (const view of got.evicted) {
      evicted.push(...this.#drop(view, "its view was evicted to make room"));
    }
    const view = got.value;
    let windows = this.#windowsOf.get(view);
    if (!windows) this.#windowsOf.set(view, windows = new Set());
    // A view nobody watched was not ordered meanwhile.
    if (windows.size === 0 && view.orderedSerial < this.keys.serial) view.forced = true;
    windows.add(window);
    window.view = view;
    return { evicted };
  }

  #leave(window: ViewWindow, now: number): void {
    this.#registry.leave(window.view.key, window, now);
    this.#windowsOf.get(window.view)?.delete(window);
  }

  /** Why the registry said no, in this table's words. */
  #refusal(owners: Owners): string {
    for (const owner of owners) {
      const held = this.#registry.held(owner);
      if (held >= this.#options.viewsPerClient) {
        return `this ${
          owner.split(":")[0]
        } already holds ${held} views (its share of --max-views): ` +
          `close one or change one in place first`;
      }
    }
    return `the server already serves ${this.#options.maxViews} distinct views (--max-views), ` +
      `none idle and none held by a client with more than this one`;
  }

  #makeView(key: string, request: WindowRequest): View {
    const name = sortKeyName(request.sort.key);
    let column = this.#columns.get(name);
    if (!column) {
      column = new ColumnOrder(request.sort.key, this.keys.use(request.sort.key));
      this.#columns.set(name, column);
    }
    column.users++;
    const view = new View(this.#nextViewId++, {
      key,
      topicKey: request.topic.key,
      topic: request.topic.spec,
      sort: request.sort,
      filter: request.filter,
      column,
    });
    view.evaluateAll(this.keys);
    const counter = this.#counters.get(view.topicKey);
    if (counter) view.countsSource = counter;
    else {
      view.countFrom(this.keys);
      this.#counters.set(view.topicKey, view);
    }
    return view;
  }

  /** Forgets a view the registry dropped; returns its windows, now closed. */
  #drop(view: View, reason: string): ViewWindow[] {
    const windows = [...this.#windowsOf.get(view) ?? []];
    for (const window of windows) {
      window.closed = reason;
      this.#windowCount--;
    }
    this.#windowsOf.delete(view);
    if (this.#counters.get(view.topicKey) === view) {
      // Another view on its topic counts from now on, for all of them.
      this.#counters.delete(view.topicKey);
      for (const other of this.#registry.values()) {
        if (other === view || other.topicKey !== view.topicKey) continue;
        if (!this.#counters.has(view.topicKey)) {
          other.countFrom(this.keys);
          this.#counters.set(view.topicKey, other);
        }
        other.countsSource = this.#counters.get(view.topicKey)!;
      }
    }
    const column = view.column;
    if (--column.users === 0) {
      this.#columns.delete(column.name);
      this.keys.release(column.key);
    }
    return windows;
  }

  /** Whether shared orders are being sorted off the tick (a sorter started and not failed). */
  get sortingOffThread(): boolean {
    return this.#sorter !== null && !this.#sorter.failed;
  }

  /** Stops the off-tick sorter (its worker); later sorts run in the tick. */
  stop(): void {
    this.#closed = true;
    this.#stopSorter();
  }

  #stopSorter(): void {
    unstopped.unregister(this);
    this.#sorter?.close();
    this.#sorter = null;
    for (const column of this.#inFlight.values()) column.abandon();
    this.#inFlight.clear();
  }

  /**
   * Takes in one tick (null: nothing changed, time still moves) and returns
   * the windows with news: moved rows, entered or left sensors, deltas, or
   * new counts. The array is reused by the next call. `order`: the
   * updates' indexes by sensor (see `SortKeys.apply`).
   */
  advance(changes: TickChanges | null, now: number, order?: Uint32Array): readonly ViewWindow[] {
    this.#tick++;
    this.#diffsWithDeltas.clear();
    this.#diffsWithout.clear();
    const keys = this.keys;
    keys.apply(changes, order);
    if (this.#mark.length < keys.capacity) this.#mark = new Uint32Array(keys.capacity);
    for (const view of this.#registry.expire(now, this.#options.idleMs)) this.#drop(view, "idle");
    for (const view of this.#registry.values()) view.update(keys);
    this.#adopt(now);
    this.#order(now);
    this.#news.length = 0;
    const patched = keys.removed.length > 0 ? new Map<Slice, Slice>() : null;
    for (const [view, windows] of this.#windowsOf) {
      for (const window of windows) {
        this.#advanceWindow(window, { now, patched, deltas: true });
        if (
          window.moved || window.changed.length > 0 || window.countsChanged ||
          window.left.length > 0
        ) this.#news.push(window);
      }
      if (view.sliceCount > 2 * windows.size + 16) view.forgetSlices();
    }
    return this.#news;
  }

  /**
   * Brings one window up to date now, between ticks: for a window just
   * opened, scrolled, changed or asked to resort, so its client need not wait
   * for the next tick. Sets its news like `advance` (rows, entered, left,
   * counts) without deltas: those come with the next tick. A resort asked
   * for orders its view now (within `minSortGapMs` for the shared order).
   */
  serve(window: ViewWindow, now: number): ViewWindow {
    if (window.closed !== null) {
      throw new TypeError(`Cannot serve window: it was closed (${window.closed})`);
    }
    const view = window.view;
    if (this.#mark.length < this.keys.capacity) this.#mark = new Uint32Array(this.keys.capacity);
    // Served now, not at the view's next ordering: an operator's resort, or a scroll to
    // rows the view lacks because members came after its order was taken.
    const short = view.complete && view.length < view.matching && view.length < window.end;
    if (view.forced || short) {
      this.#reorder(view, {
        now,
        forced: true,
        done: noWork(),
      });
    }
    this.#advanceWindow(window, { now, patched: null, deltas: false });
    return window;
  }

  /** Orders the views that asked (operators) or are due (schedule), within the budget. */
  #order(now: number): void {
    const o = this.#options;
    const done = noWork();
    done.adopted = this.#adopted;
    this.#adopted = 0;
    const due: View[] = [];
    // A sensor newly warn or critical goes to the top of attention-first views now, not in a second.
    const urgent = this.keys.statusRaised;
    for (const [view, windows] of this.#windowsOf) {
      if (windows.size === 0) continue;
      if (view.forced || (urgent && view.sort.key.kind === "status")) {
        done.work += this.#reorder(view, { now, forced: true, done });
      } else if (now >= view.dueAt) due.push(view);
    }
    // The longest waiting first; what the budget or the sorts per tick leave waits for the next tick.
    due.sort((a, b) => a.dueAt - b.dueAt);
    // Counted apart from operators' own, so orderings forced every tick cannot starve the schedule.
    let scheduled = 0;
    let sorts = 0;
    for (const view of due) {
      const sort = this.#sortDue(view, { now, forced: false });
      if (sort && this.#waits(view, now)) {
        // Its order is being sorted off the tick: it takes it when it comes.
        view.dueAt = now + 1;
        continue;
      }
      // Nothing to take (no newer order, no new members): only its next look is set.
      const idle = !sort && view.column.version === view.columnVersion && !view.gained;
      if (!idle && scheduled > 0) {
        const sortCost = !sort
          ? 0
          : this.#offThread(view, now)
          ? this.keys.liveCount
          : view.column.sortCost(this.keys.liveCount);
        const expected = sortCost +
          (view.lastScan >= 0 ? view.lastScan : this.keys.liveCount);
        if ((sort && sorts >= o.sortsPerTick) || done.work + expected > o.tickBudget) {
          done.deferred++;
          continue;
        }
      }
      const before = done.sorts;
      done.work += this.#reorder(view, { now, forced: false, done });
      sorts += done.sorts - before;
      if (!idle) scheduled++;
    }
    this.last = done;
  }

  /**
   * Whether a scheduled sort of `view`'s order would run off the tick: only
   * a sort for age (not the first, nor one for sensors that came), over
   * enough sensors, with a sorter that works (started here on first need).
   */
  #offThread(view: View, now: number): boolean {
    const column = view.column;
    if (column.version === 0 || column.column === null) return false;
    if (this.keys.liveCount < this.#options.offThreadMin) return false;
    if (view.gained && this.keys.setChangedAt > column.sortedSerial) return false;
    if (now - column.sortedAt < this.#options.columnMaxAgeMs) return false;
    if (!this.#sorterTried && !this.#closed) {
      this.#sorterTried = true;
      this.#sorter = this.#options.sorter();
      if (this.#sorter !== null) unstopped.register(this, this.#sorter, this);
    }
    return this.#sorter !== null && !this.#sorter.failed;
  }

  /** Whether a scheduled sort of `view`'s order is already under way off the tick. */
  #waits(view: View, now: number): boolean {
    return view.column.pending !== null && this.#offThread(view, now);
  }

  /** Takes in the orders sorted off the tick since the last tick; a failed sorter is stopped for good. */
  #adopt(now: number): void {
    const sorter = this.#sorter;
    if (sorter === null) return;
    if (!sorter.failed) {
      sorter.take((token, order) => {
        const column = this.#inFlight.get(token);
        this.#inFlight.delete(token);
        const given = column?.adopt(token, order) ?? null;
        if (given !== null) this.#adopted++;
        return given;
      });
      // Dropped ones (sorted in the tick meanwhile) are forgotten too.
      for (const [token, column] of this.#inFlight) {
        if (column.pending?.token !== token) this.#inFlight.delete(token);
      }
      let stuck = false;
      for (const column of this.#inFlight.values()) {
        stuck ||= now - column.pending!.now > STUCK_MS;
      }
      if (!stuck) return;
    }
    this.#stopSorter();
  }

  /** Whether ordering `view` now would sort its shared order first. */
  #sortDue(view: View, o: { now: number; forced: boolean }): boolean {
    const column = view.column;
    const keys = this.keys;
    // New sensors are not in an order sorted before they came.
    const missingSensors = view.gained && keys.setChangedAt > column.sortedSerial;
    const minAge = o.forced ? this.#options.minSortGapMs : this.#options.columnMaxAgeMs;
    return column.version === 0 ||
      (column.stale(keys) && (missingSensors || o.now - column.sortedAt >= minAge));
  }

  #reorder(view: View, o: { now: number; forced: boolean; done: TickWork }): number {
    const { now, forced, done } = o;
    const column = view.column;
    const keys = this.keys;
    let work = 0;
    if (this.#sortDue(view, o)) {
      if (!forced && this.#offThread(view, now)) {
        const token = this.#nextToken++;
        if (column.submit(keys, { now, sorter: this.#sorter!, token })) {
          this.#inFlight.set(token, column);
          done.sorts++;
          done.offThread++;
          view.dueAt = now + 1;
          return keys.liveCount; // the copies of the keys and ids
        }
      }
      work += column.sortNow(keys, { now, scratch: this.#scratch });
      done.sorts++;
    }
    if (!forced && column.version === view.columnVersion && !view.gained) {
      // Nothing new to order by: look again once the shared order may be sorted again.
      view.dueAt = Math.max(now + 1, column.sortedAt + this.#options.columnMaxAgeMs);
      return work;
    }
    const first = view.orderedSerial < 0;
    work += view.order(this.#depth(view), { now, serial: keys.serial });
    view.dueAt = now + this.#options.resortMs + (first ? this.#phase(view) : 0);
    done.orderings++;
    return work;
  }

  /** A view's phase in [0, staggerMs): its id times the golden ratio, modulo 1, spreads any run of ids evenly. */
  #phase(view: View): number {
    const golden = 0.6180339887498949;
    return Math.floor(((view.id * golden) % 1) * this.#options.staggerMs);
  }

  /** How deep to take a view's rows: past its deepest window, so scrolling on rarely needs more. */
  #depth(view: View): number {
    let end = 0;
    for (const window of this.#windowsOf.get(view) ?? []) end = Math.max(end, window.end);
    return this.#deeper(end);
  }

  /** Half as far again as `end`, and at least four blocks. */
  #deeper(end: number): number {
    return Math.max(end + (end >> 1), 4 * this.#options.window.block);
  }

  #advanceWindow(
    window: ViewWindow,
    o: { now: number; patched: Map<Slice, Slice> | null; deltas: boolean },
  ): void {
    const view = window.view;
    let target: Slice;
    if (window.held && window.frozen !== null) {
      target = o.patched ? this.#withoutRemoved(window.frozen, o.patched) : window.frozen;
      window.frozen = target;
    } else {
      if (view.length < window.end && !view.complete && !view.extend(this.#deeper(window.end))) {
        // The order the rows came from is gone: order anew, now (a scroll is the operator's own).
        view.order(this.#depth(view), { now: o.now, serial: this.keys.serial });
        view.dueAt = o.now + this.#options.resortMs;
      }
      target = view.slice(window.offset, window.limit);
      if (window.held) window.frozen = target;
    }
    const shown = window.shown;
    window.shown = target;
    window.countsChanged = window.total !== view.total || window.matching !== view.matching;
    window.total = view.total;
    window.matching = view.matching;
    if (shown !== null && shown.key === target.key) {
      window.moved = false;
      window.entered = NO_ROWS;
      window.left = NO_ROWS;
      window.changed = o.deltas ? this.#changedIn(target) : NO_ROWS;
      return;
    }
    // Windows moving between the same two slices this tick (one place of one view) share one diff.
    const diffs = o.deltas ? this.#diffsWithDeltas : this.#diffsWithout;
    const from = shown ?? NO_SLICE;
    let byTarget = diffs.get(from);
    if (!byTarget) diffs.set(from, byTarget = new Map());
    let diff = byTarget.get(target);
    if (!diff) {
      byTarget.set(
        target,
        diff = this.#diff({ before: from.rows, after: target.rows, deltas: o.deltas }),
      );
    }
    window.moved = diff.moved;
    window.entered = diff.entered;
    window.left = diff.left;
    window.changed = diff.changed;
  }

  /** Rows of `slice` touched this tick (computed once per slice and tick). */
  #changedIn(slice: Slice): readonly number[] {
    if (slice.changedTick === this.#tick) return slice.changed;
    const touched = this.keys.touched;
    let changed: number[] | null = null;
    for (const s of slice.rows) {
      if (touched[s] === 1) (changed ??= []).push(s);
    }
    slice.changedTick = this.#tick;
    slice.changed = changed ?? NO_ROWS;
    return slice.changed;
  }

  /** Entered, left and changed from a window's old rows to its new ones. */
  #diff(o: { before: Uint32Array; after: Uint32Array; deltas: boolean }): RowsDiff {
    const { before, after } = o;
    const mark = this.#mark;
    // Between ticks nothing was touched since the window was last told.
    const touched = o.deltas ? this.keys.touched : NO_TOUCH;
    if (this.#stamp >= 0xfffffff0) {
      mark.fill(0);
      this.#stamp = 0;
    }
    const was = ++this.#stamp;
    for (const s of before) mark[s] = was;
    const now = ++this.#stamp;
    const entered: number[] = [];
    const changed: number[] = [];
    let same = before.length === after.length;
    for (let i = 0; i < after.length; i++) {
      const s = after[i];
      if (same && before[i] !== s) same = false;
      if (mark[s] === was) {
        if (touched[s] === 1) changed.push(s); // out of range (NO_TOUCH): undefined, not 1
      } else entered.push(s);
      mark[s] = now;
    }
    const left: number[] = [];
    for (const s of before) if (mark[s] !== now) left.push(s);
    return {
      moved: !same,
      entered: entered.length > 0 ? entered : NO_ROWS,
      left: left.length > 0 ? left : NO_ROWS,
      changed: changed.length > 0 ? changed : NO_ROWS,
    };
  }

  /** A held slice without the sensors removed from the fleet this tick (shared by the windows holding it). */
  #withoutRemoved(slice: Slice, patched: Map<Slice, Slice>): Slice {
    const known = patched.get(slice);
    if (known) return known;
    let gone = 0;
    for (const s of slice.rows) if (!this.keys.isLive(s)) gone++;
    if (gone === 0) return slice;
    const rows = slice.rows.filter((s) => this.keys.isLive(s));
    const next: Slice = {
      key: `${slice.key}-${this.#tick}`,
      version: slice.version,
      rows,
      changedTick: -1,
      changed: NO_ROWS,
    };
    patched.set(slice, next);
    return next;
  }
}

/**
 * A table dropped without `stop` (a hub behavior replaced after a failure)
 * stops its sorter's worker when it is collected: the worker refers to the
 * sorter, not to the table.
 */
const unstopped = new FinalizationRegistry<OrderSorter>((sorter) => sorter.close());

/** A sort off the tick not back after this long (table clock) means its worker is stuck: sort in the tick. */
const STUCK_MS = 5_000;

function noWork(): TickWork {
  return { orderings: 0, sorts: 0, work: 0, deferred: 0, offThread: 0, adopted: 0 };
}

/** Throws RangeError for options the table cannot work with. */
function checkOptions(o: ViewTableOptions): void {
  const counts: [string, number][] = [
    ["maxViews", o.maxViews],
    ["viewsPerClient", o.viewsPerClient],
    ["maxWindows", o.maxWindows],
    ["window.block", o.window.block],
  ];
  for (const [name, value] of counts) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`Cannot make view table: ${name} ${value} is not a positive integer`);
    }
  }
  // Slices are keyed by offset * 65,536 + limit.
  if (!Number.isInteger(o.window.maxRows) || o.window.maxRows < 1 || o.window.maxRows > 0xffff) {
    throw new RangeError(
      `Cannot make view table: window.maxRows ${o.window.maxRows} is not in 1..65535`,
    );
  }
  const times: [string, number][] = [
    ["resortMs", o.resortMs],
    ["columnMaxAgeMs", o.columnMaxAgeMs],
    ["minSortGapMs", o.minSortGapMs],
    ["staggerMs", o.staggerMs],
    ["idleMs", o.idleMs],
    ["tickBudget", o.tickBudget],
  ];
  if (!(o.sortsPerTick >= 1)) {
    throw new RangeError(
      `Cannot make view table: sortsPerTick ${o.sortsPerTick} is not a number ≥ 1`,
    );
  }
  for (const [name, value] of times) {
    if (!(value >= 0)) {
      throw new RangeError(`Cannot make view table: ${name} ${value} is not a number ≥ 0`);
    }
  }
}
