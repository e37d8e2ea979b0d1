import { RollupSlots } from "./rollup_slots.ts";

/**
 * Final windows waiting to be stored as rollups, by column: per row the
 * slot (a window size and sensor, `RollupSlots`), the metric, the window's
 * start, count, sum, min and max. Rows of one slot are chained, so a write
 * takes a sensor's windows together and a query walks only its own. Columns
 * grow by fixed pages that `clear` keeps for the next fill: a buffer is
 * reused flush after flush, and adding a row allocates nothing. A snapshot
 * is bytes (for a checkpoint) that `restore` reads back.
 */

const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;
/** Numbers per row: start, count, sum, min, max. */
export const ROW_NUMBERS = 5;
const F = ROW_NUMBERS;

/** A page of rows (`RollupRows.page`); row `r` is at `r & (PAGE - 1)` of page `r >>> PAGE_BITS`. */
export class RowPage {
  readonly slot = new Uint32Array(PAGE);
  readonly metric = new Uint16Array(PAGE);
  /** Next row of the same slot (-1: none). */
  readonly next = new Int32Array(PAGE);
  readonly f = new Float64Array(PAGE * F);
}

/** Where a row goes: the window size, the sensor and the metric. */
export interface RollupKey {
  sizeMs: number;
  sensorId: string;
  metric: string;
}

/** A window's numbers. */
export interface RollupStats {
  start: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** One stored window. */
export interface RollupPoint {
  t: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class RollupRows {
  /** What the rows' slot and metric numbers mean. */
  readonly slots: RollupSlots;
  readonly #pages: RowPage[] = [];
  #length = 0;
  /** Per slot: its first and last row (-1: none). */
  #head = new Int32Array(0);
  #tail = new Int32Array(0);
  /** Slots with rows, in the order of their first row. */
  #used = new Int32Array(64);
  #usedCount = 0;

  /** Pages no buffer holds, shared with the other buffers of one writer (see `clear`). */
  readonly #pool: RowPage[] | null;

  constructor(slots: RollupSlots = new RollupSlots(), options: { pool?: RowPage[] } = {}) {
    this.slots = slots;
    this.#pool = options.pool ?? null;
  }

  /** Pages this buffer holds (filled or kept for its next fill). */
  get pageCount(): number {
    return this.#pages.length;
  }

  /** Rows held. */
  get length(): number {
    return this.#length;
  }

  /** Slots (sensors per size) with rows, in the order of their first row. */
  usedSlots(): Int32Array {
    return this.#used.subarray(0, this.#usedCount);
  }

  /** The first row of `slot` (-1: none); the next is `page(r).next[rowIndex(r)]`. */
  head(slot: number): number {
    return slot < this.#head.length ? this.#head[slot] : -1;
  }

  /** The page holding row `r` (at `rowIndex(r)` in it). */
  page(r: number): RowPage {
    return this.#pages[r >>> PAGE_BITS];
  }

  /** Adds a row (`key` and `w` are read, not kept: callers reuse them). */
  push(key: RollupKey, w: RollupStats): void {
    this.append(
      this.slots.slot(key.sizeMs, key.sensorId),
      this.slots.metric(key.metric),
      w,
    );
  }

  /** Adds a row of `slot` and metric number `metric` (both from `slots`). */
  append(slot: number, metric: number, w: RollupStats): void {
    const r = this.#length++;
    if (r >>> PAGE_BITS === this.#pages.length) {
      this.#pages.push(this.#pool?.pop() ?? new RowPage());
    }
    const page = this.#pages[r >>> PAGE_BITS];
    const i = r & MASK;
    page.slot[i] = slot;
    page.metric[i] = metric;
    page.next[i] = -1;
    const at = i * F;
    page.f[at] = w.start;
    page.f[at + 1] = w.count;
    page.f[at + 2] = w.sum;
    page.f[at + 3] = w.min;
    page.f[at + 4] = w.max;
    this.#link(slot, r);
  }

  /**
   * Forgets every row, keeping the pages (at most `keepRows` worth) for the
   * next fill. With a pool they go there instead (up to `keepRows` worth in
   * it), for whichever buffer fills next: a writer's written buffer then
   * holds no pages while the other fills (one buffer's worth kept, not two).
   */
  clear(keepRows = Infinity): void {
    const used = this.#used;
    for (let k = 0; k < this.#usedCount; k++) this.#head[used[k]] = this.#tail[used[k]] = -1;
    this.#usedCount = 0;
    this.#length = 0;
    const keep = Math.ceil(Math.min(keepRows, Number.MAX_SAFE_INTEGER) / PAGE);
    const pool = this.#pool;
    if (pool) {
      for (const page of this.#pages) if (pool.length < keep) pool.push(page);
      this.#pages.length = 0;
    } else if (this.#pages.length > keep) this.#pages.length = keep;
  }

  /** One metric's windows of one size with starts in [fromMs, toMs). */
  windows(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
  ): RollupPoint[] {
    const slot = this.slots.find(sizeMs, sensorId);
    const m = this.slots.findMetric(metric);
    const out: RollupPoint[] = [];
    if (slot === undefined || m === undefined) return out;
    for (let r = this.head(slot); r >= 0;) {
      const page = this.#pages[r >>> PAGE_BITS];
      const i = r & MASK;
      const at = i * F;
      const t = page.f[at];
      if (page.metric[i] === m && t >= fromMs && t < toMs) {
        out.push({
          t,
          count: page.f[at + 1],
          sum: page.f[at + 2],
          min: page.f[at + 3],
          max: page.f[at + 4],
        });
      }
      r = page.next[i];
    }
    return out;
  }

  /** Every row as bytes (see `snapshotRows`). */
  snapshot(): Uint8Array {
    return snapshotRows([this]);
  }

  /** Adds the rows of a snapshot (`snapshotRows`). */
  restore(bytes: Uint8Array): void {
    const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
    const length = new DataView(aligned.buffer, aligned.byteOffset).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(aligned.subarray(4, 4 + length))) as {
      rows: number;
      sizes: number[];
      ids: string[];
      metrics: string[];
    };
    const start = aligned.byteOffset + ((4 + length + 7) & ~7);
    const n = header.rows;
    const f = new Float64Array(aligned.buffer, start, n * F);
    const slots = new Uint32Array(aligned.buffer, start + n * F * 8, n);
    const metrics = new Uint32Array(aligned.buffer, start + n * (F * 8 + 4), n);
    // Slots and metrics are looked up once each, not once per row (a restart restores them all).
    const slotOf = header.ids.map((id, k) => this.slots.slot(header.sizes[k], id));
    const metricOf = header.metrics.map((name) => this.slots.metric(name));
    const w: RollupStats = { start: 0, count: 0, sum: 0, min: 0, max: 0 };
    for (let r = 0; r < n; r++) {
      const at = r * F;
      w.start = f[at];
      w.count = f[at + 1];
      w.sum = f[at + 2];
      w.min = f[at + 3];
      w.max = f[at + 4];
      this.append(slotOf[slots[r]], metricOf[metrics[r]], w);
    }
  }

  /** @internal Visits every row in the order it came, for `snapshotRows`. */
  eachPage(visit: (page: RowPage, rows: number, first: number) => void): void {
    for (let p = 0; p * PAGE < this.#length; p++) {
      visit(this.#pages[p], Math.min(PAGE, this.#length - p * PAGE), p * PAGE);
    }
  }

  #link(slot: number, r: number): void {
    if (slot >= this.#head.length) this.#grow(slot + 1);
    const tail = this.#tail[slot];
    if (tail < 0) {
      this.#head[slot] = r;
      if (this.#usedCount === this.#used.length) {
        const grown = new Int32Array(this.#used.length * 2);
        grown.set(this.#used);
        this.#used = grown;
      }
      this.#used[this.#usedCount++] = slot;
    } else this.#pages[tail >>> PAGE_BITS].next[tail & MASK] = r;
    this.#tail[slot] = r;
  }

  #grow(slots: number): void {
    const size = Math.max(slots, this.#head.length * 2, 64);
    const head = new Int32Array(size).fill(-1);
    const tail = new Int32Array(size).fill(-1);
    head.set(this.#head);
    tail.set(this.#tail);
    this.#head = head;
    this.#tail = tail;
  }
}

/** The index of row `r` in its page (`RollupRows.page(r)`). */
export function rowIndex(r: number): number {
  return r & MASK;
}

/**
 * The rows of several buffers as one snapshot, in order (each buffer's rows
 * in the order they came): a JSON part (the slots' sizes and sensor ids, the
 * metric names), then per row five float64 (start, count, sum, min, max),
 * then per row its slot and its metric (uint32 indexes into the JSON lists).
 * Written straight from the buffers' pages, without an intermediate copy.
 */
export function snapshotRows(parts: readonly RollupRows[]): Uint8Array {
  const ids: string[] = [], sizes: number[] = [], metrics: string[] = [];
  // Per distinct slot table: its slots' and metrics' indexes in the JSON lists (-1: not yet).
  const remaps = new Map<RollupSlots, { slot: Int32Array; metric: Int32Array }>();
  let rows = 0;
  for (const part of parts) {
    rows += part.length;
    let remap = remaps.get(part.slots);
    if (!remap) {
      remap = {
        slot: new Int32Array(part.slots.length).fill(-1),
        metric: new Int32Array(part.slots.metrics.length).fill(-1),
      };
      remaps.set(part.slots, remap);
    }
    for (const slot of part.usedSlots()) {
      if (remap.slot[slot] >= 0) continue;
      remap.slot[slot] = ids.push(part.slots.ids[slot]) - 1;
      sizes.push(part.slots.sizes[slot]);
    }
  }
  // Metric names in use, found from the rows themselves.
  for (const part of parts) {
    const remap = remaps.get(part.slots)!;
    part.eachPage((page, n) => {
      for (let i = 0; i < n; i++) {
        const m = page.metric[i];
        if (remap.metric[m] < 0) remap.metric[m] = metrics.push(part.slots.metrics[m]) - 1;
      }
    });
  }
  const header = new TextEncoder().encode(JSON.stringify({ rows, sizes, ids, metrics }));
  const start = (4 + header.byteLength + 7) & ~7;
  const bytes = new Uint8Array(start + rows * (F * 8 + 8));
  new DataView(bytes.buffer).setUint32(0, header.byteLength, true);
  bytes.set(header, 4);
  const f = new Float64Array(bytes.buffer, start, rows * F);
  const slots = new Uint32Array(bytes.buffer, start + rows * F * 8, rows);
  const metricCol = new Uint32Array(bytes.buffer, start + rows * (F * 8 + 4), rows);
  let at = 0;
  for (const part of parts) {
    const remap = remaps.get(part.slots)!;
    part.eachPage((page, n) => {
      f.set(page.f.subarray(0, n * F), at * F);
      for (let i = 0; i < n; i++) {
        slots[at + i] = remap.slot[page.slot[i]];
        metricCol[at + i] = remap.metric[page.metric[i]];
      }
      at += n;
    });
  }
  return bytes;
}
