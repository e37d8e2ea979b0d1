/**
 * Final windows waiting to be stored as rollups, by column: per row the
 * sensor (a slot per size and sensor id), the metric (a small table), the
 * window's start, count, sum, min and max. Rows of one slot are chained, so
 * a flush writes a sensor's windows together and a query walks only its
 * own. Columns grow by fixed pages; nothing is kept per window beyond its
 * row. A snapshot is bytes (for a checkpoint) that `restore` reads back.
 */

const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;
/** Numbers per row: start, count, sum, min, max. */
const F = 5;

class RowPage {
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
  readonly #pages: RowPage[] = [];
  #length = 0;
  /** Per size: sensor id → slot. */
  readonly #slotOf = new Map<number, Map<string, number>>();
  readonly #slotId: string[] = [];
  readonly #slotSize: number[] = [];
  readonly #head: number[] = [];
  readonly #tail: number[] = [];
  readonly #metricOf = new Map<string, number>();
  readonly #metrics: string[] = [];
  /** Scratch for `push`. */
  readonly #row = new Float64Array(F);

  /** Rows held. */
  get length(): number {
    return this.#length;
  }

  /** Sensors (per size) with rows. */
  get slots(): number {
    return this.#slotId.length;
  }

  /** Adds a row (`key` and `w` are read, not kept: callers reuse them). */
  push(key: RollupKey, w: RollupStats): void {
    const slot = this.#slot(key.sizeMs, key.sensorId);
    const m = this.#metric(key.metric);
    const row = this.#row;
    row[0] = w.start;
    row[1] = w.count;
    row[2] = w.sum;
    row[3] = w.min;
    row[4] = w.max;
    this.#append(slot, m, row, 0);
  }

  /** Each slot's size, sensor id and rows (in the order they came), one slot at a time. */
  *bySensor(): Generator<{ sizeMs: number; sensorId: string; rows: RollupRowsOfSlot }> {
    for (let slot = 0; slot < this.#slotId.length; slot++) {
      yield {
        sizeMs: this.#slotSize[slot],
        sensorId: this.#slotId[slot],
        rows: new RollupRowsOfSlot(this, slot),
      };
    }
  }

  /** One metric's windows of one size with starts in [fromMs, toMs). */
  windows(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
  ): RollupPoint[] {
    const slot = this.#slotOf.get(sizeMs)?.get(sensorId);
    const m = this.#metricOf.get(metric);
    const out: RollupPoint[] = [];
    if (slot === undefined || m === undefined) return out;
    for (let r = this.#head[slot]; r >= 0;) {
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

  /** @internal The rows of a slot, for `RollupRowsOfSlot`. */
  rowsOf(slot: number, visit: (metric: string, f: Float64Array, at: number) => void): void {
    for (let r = this.#head[slot]; r >= 0;) {
      const page = this.#pages[r >>> PAGE_BITS];
      const i = r & MASK;
      visit(this.#metrics[page.metric[i]], page.f, i * F);
      r = page.next[i];
    }
  }

  /** Every row as bytes: a JSON part (slots' sizes and ids, metric names), then the numbers. */
  snapshot(): Uint8Array {
    const header = new TextEncoder().encode(JSON.stringify({
      rows: this.#length,
      sizes: this.#slotSize,
      ids: this.#slotId,
      metrics: this.#metrics,
    }));
    const start = (4 + header.byteLength + 7) & ~7;
    const bytes = new Uint8Array(start + this.#length * (F * 8 + 8));
    new DataView(bytes.buffer).setUint32(0, header.byteLength, true);
    bytes.set(header, 4);
    const f = new Float64Array(bytes.buffer, start, this.#length * F);
    const slots = new Uint32Array(bytes.buffer, start + this.#length * F * 8, this.#length);
    const metrics = new Uint32Array(bytes.buffer, start + this.#length * (F * 8 + 4), this.#length);
    for (let p = 0; p * PAGE < this.#length; p++) {
      const n = Math.min(PAGE, this.#length - p * PAGE);
      const page = this.#pages[p];
      f.set(page.f.subarray(0, n * F), p * PAGE * F);
      slots.set(page.slot.subarray(0, n), p * PAGE);
      metrics.set(page.metric.subarray(0, n), p * PAGE);
    }
    return bytes;
  }

  /** Adds the rows of a snapshot. */
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
    const slotOf = header.ids.map((id, k) => this.#slot(header.sizes[k], id));
    const metricOf = header.metrics.map((name) => this.#metric(name));
    for (let r = 0; r < n; r++) this.#append(slotOf[slots[r]], metricOf[metrics[r]], f, r * F);
  }

  #slot(sizeMs: number, sensorId: string): number {
    let bySensor = this.#slotOf.get(sizeMs);
    if (!bySensor) this.#slotOf.set(sizeMs, bySensor = new Map());
    let slot = bySensor.get(sensorId);
    if (slot === undefined) {
      slot = this.#slotId.length;
      bySensor.set(sensorId, slot);
      this.#slotId.push(sensorId);
      this.#slotSize.push(sizeMs);
      this.#head.push(-1);
      this.#tail.push(-1);
    }
    return slot;
  }

  #metric(metric: string): number {
    let m = this.#metricOf.get(metric);
    if (m === undefined) {
      m = this.#metrics.push(metric) - 1;
      this.#metricOf.set(metric, m);
    }
    return m;
  }

  /** Appends a row of `slot` and metric `m` with the numbers `f[at..at+F)`. */
  #append(slot: number, m: number, f: ArrayLike<number>, at: number): void {
    const r = this.#length++;
    if (r >>> PAGE_BITS === this.#pages.length) this.#pages.push(new RowPage());
    const page = this.#pages[r >>> PAGE_BITS];
    const i = r & MASK;
    page.slot[i] = slot;
    page.metric[i] = m;
    page.next[i] = -1;
    for (let k = 0; k < F; k++) page.f[i * F + k] = f[at + k];
    if (this.#tail[slot] < 0) this.#head[slot] = r;
    else this.#pages[this.#tail[slot] >>> PAGE_BITS].next[this.#tail[slot] & MASK] = r;
    this.#tail[slot] = r;
  }
}

/** The rows of one slot, visited in the order they came. */
export class RollupRowsOfSlot {
  readonly #rows: RollupRows;
  readonly #slot: number;
  constructor(rows: RollupRows, slot: number) {
    this.#rows = rows;
    this.#slot = slot;
  }
  forEach(visit: (metric: string, f: Float64Array, at: number) => void): void {
    this.#rows.rowsOf(this.#slot, visit);
  }
}
