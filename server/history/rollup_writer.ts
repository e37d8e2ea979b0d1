import { RollupRows, snapshotRows } from "./rollup_rows.ts";
import type { RollupPoint, RollupStats, RowPage } from "./rollup_rows.ts";
import { RollupSlots } from "./rollup_slots.ts";
import type { RollupStore } from "./rollup_store.ts";
import { WINDOW_FINAL } from "../../protocol/columns.ts";
import type { WindowStates } from "../../protocol/mod.ts";
import { logger } from "../ops/logger.ts";

/** The last fragment part number this process used, shared by its writers. */
let lastPart = 0;

/**
 * Buffers the final windows of the rollup sizes (`RollupRows`, columns of
 * the windows closed since the last flush) and writes them as fragments on
 * `flush` (every `--rollup-flush`, and sooner once `maxRows` wait). A flush
 * takes the buffer whole and writes it in short commits while new windows
 * fill a fresh one; one flush runs at a time and a call meanwhile joins the
 * next. Nothing is read back: fragments never need a merge. A live
 * checkpoint is made current once a flush has written what was buffered at
 * it (`written`); a stop's final checkpoint holds what is not written
 * (`snapshot`), and the restart writes it later (`restore`).
 */
export class RollupWriter {
  readonly #store: RollupStore;
  readonly #sizesMs: readonly number[];
  readonly #maxRows: number;
  readonly #slots = new RollupSlots();
  /** Pages of the buffers, shared: filled ones are written, then given back here. */
  readonly #pool: RowPage[] = [];
  #rows = new RollupRows(this.#slots, { pool: this.#pool });
  /** Rows being written, and rows a failed write left to try again. */
  #writing: RollupRows | null = null;
  #retry: RollupRows[] = [];
  /** A written buffer, cleared, to fill next (its pages went to the pool). */
  #spare: RollupRows | null = null;
  /** Per window size index: 1 when kept as rollups. */
  #keep: Uint8Array | null = null;
  /** Per window size index, per hub sensor index: its slot + 1 (0: not looked up yet). */
  readonly #slotOfIndex: Int32Array[] = [];
  /** Per hub metric index: its metric number + 1 (0: not looked up yet). */
  #metricOfIndex = new Int32Array(64);
  #flushing: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  readonly #stopping = new AbortController();
  readonly #stats: RollupStats = { start: 0, count: 0, sum: 0, min: 0, max: 0 };
  failed = 0;

  /** `maxRows`: buffered windows past which a flush starts at once (default 262,144). */
  constructor(store: RollupStore, options: { sizesMs: readonly number[]; maxRows?: number }) {
    this.#store = store;
    this.#sizesMs = options.sizesMs;
    this.#maxRows = options.maxRows ?? 1 << 18;
  }

  /** Windows held in memory, not yet written. */
  get buffered(): number {
    return this.#rows.length + (this.#writing?.length ?? 0) +
      this.#retry.reduce((n, r) => n + r.length, 0);
  }

  /**
   * Buffers the final windows of the kept sizes. Per window: a sensor's and a
   * metric's name are resolved through caches by the hub's index (checked
   * against the name, as indexes are reused after a hub restart), so no map
   * is searched and nothing is allocated.
   */
  add(
    windows: WindowStates,
    names: {
      sensorId: (index: number) => string | undefined;
      metricName: (index: number) => string | undefined;
    },
  ): void {
    const keep = this.#keep ??= Uint8Array.from(
      this.#sizesMs,
      (sizeMs) => this.#store.sizes.has(sizeMs) ? 1 : 0,
    );
    const slots = this.#slots, rows = this.#rows, stats = this.#stats;
    for (let i = 0; i < windows.length; i++) {
      if ((windows.flags[i] & WINDOW_FINAL) === 0) continue;
      const size = windows.size[i];
      if (keep[size] !== 1) continue;
      const sizeMs = this.#sizesMs[size];
      const start = windows.startMs[i];
      // Window starts are multiples of their size; anything else is not a window.
      if (start % sizeMs !== 0) continue;
      const index = windows.sensor[i];
      const id = names.sensorId(index);
      if (id === undefined) continue;
      const bySensor = this.#slotsOfSize(size, index);
      let slot = bySensor[index] - 1;
      if (slot < 0 || slots.ids[slot] !== id) bySensor[index] = (slot = slots.slot(sizeMs, id)) + 1;
      const metricIndex = windows.metric[i];
      const name = names.metricName(metricIndex);
      if (name === undefined) continue;
      if (metricIndex >= this.#metricOfIndex.length) {
        const grown = new Int32Array(Math.max(metricIndex + 1, this.#metricOfIndex.length * 2));
        grown.set(this.#metricOfIndex);
        this.#metricOfIndex = grown;
      }
      let metric = this.#metricOfIndex[metricIndex] - 1;
      if (metric < 0 || slots.metrics[metric] !== name) {
        this.#metricOfIndex[metricIndex] = (metric = slots.metric(name)) + 1;
      }
      stats.start = start;
      stats.count = windows.count[i];
      stats.sum = windows.sum[i];
      stats.min = windows.min[i];
      stats.max = windows.max[i];
      rows.append(slot, metric, stats);
    }
    if (rows.length >= this.#maxRows && !this.#queued) this.flush().catch(() => {});
  }

  /** The slot cache of a size index, long enough for sensor `index`. */
  #slotsOfSize(size: number, index: number): Int32Array {
    let bySensor = this.#slotOfIndex[size];
    if (!bySensor || index >= bySensor.length) {
      const grown = new Int32Array(Math.max(index + 1, (bySensor?.length ?? 512) * 2));
      if (bySensor) grown.set(bySensor);
      this.#slotOfIndex[size] = bySensor = grown;
    }
    return bySensor;
  }

  /** Closed windows still held in memory (buffered, being written, or to retry). */
  bufferedWindows(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
  ): RollupPoint[] {
    return [this.#rows, this.#writing, ...this.#retry].flatMap((rows) =>
      rows ? rows.windows(sizeMs, sensorId, metric, fromMs, toMs) : []
    ).sort((a, b) => a.t - b.t);
  }

  /**
   * Writes what is buffered now (after any flush running). Rejects when a
   * write failed: its windows stay held and are tried again next time.
   */
  flush(): Promise<void> {
    if (!this.#flushing) return this.#start();
    // One flush at a time; calls meanwhile share the next one.
    this.#queued ??= this.#flushing.catch(() => {}).then(() => {
      this.#queued = null;
      return this.#start();
    });
    return this.#queued;
  }

  /** Takes the buffer now and writes it. */
  #start(): Promise<void> {
    if (this.#stopping.signal.aborted) return Promise.resolve();
    const run = this.#write();
    this.#flushing = run;
    run.catch(() => {}).finally(() => {
      if (this.#flushing === run) this.#flushing = null;
    });
    return run;
  }

  /**
   * Stops writing: a write running ends before its next commit (not
   * waited for), and no other starts. For a stop after the final checkpoint, which holds every
   * row not written yet (a fragment written twice counts once).
   */
  stop(): Promise<void> {
    // Not waiting for the commit in flight: under load it can queue behind others for
    // seconds, and its rows are still held (and checkpointed) until it ends.
    this.#stopping.abort(new Deno.errors.Interrupted("Rollup writes stopped"));
    return Promise.resolve();
  }

  /** Resolves when no write runs (a failed one included). */
  async settled(): Promise<void> {
    await this.#queued?.catch(() => {});
    await this.#flushing?.catch(() => {});
  }

  /** Whether `stop` was called: nothing is written any more. */
  get stopped(): boolean {
    return this.#stopping.signal.aborted;
  }

  /**
   * Resolves once every window buffered now is written (a flush, after the
   * one running); rejects when a write failed, or with `Interrupted` when
   * the writer was stopped before they all were.
   */
  async written(): Promise<void> {
    await this.flush();
    if (this.stopped) throw new Deno.errors.Interrupted("Rollup writes stopped before the flush");
  }

  /** Everything not written yet, as bytes (see `RollupRows.snapshot`), for a checkpoint. */
  snapshot(): Uint8Array {
    const parts = [...this.#retry, this.#writing, this.#rows].filter((rows) => rows !== null);
    return snapshotRows(parts);
  }

  /** Buffers the windows of a checkpoint's snapshot again (they are written at the next flush). */
  restore(bytes: Uint8Array): void {
    this.#rows.restore(bytes);
  }

  async #write(): Promise<void> {
    const rows = this.#rows;
    this.#rows = this.#spare ?? new RollupRows(this.#slots, { pool: this.#pool });
    this.#spare = null;
    const retry = this.#retry;
    this.#retry = [];
    const batches = [...retry, rows].filter((batch) => batch.length > 0);
    for (const [n, batch] of batches.entries()) {
      this.#writing = batch;
      // A part number that grows across restarts (of the process: the clock; within it: one
      // counter for every writer), so a fragment never replaces another.
      const part = lastPart = Math.max(Date.now(), lastPart + 1);
      try {
        await this.#store.write(batch, { part, signal: this.#stopping.signal });
        // Written: its pages go to the pool the filling buffer takes from (at most a full
        // buffer's worth kept), so the two buffers hold about one buffer's pages, not two.
        batch.clear(this.#maxRows);
        this.#spare = batch;
      } catch (error) {
        if (this.#stopping.signal.aborted) {
          this.#retry.push(...batches.slice(n));
          return;
        }
        // This batch and those after it are tried again at the next flush.
        this.#retry.push(...batches.slice(n));
        this.failed += batch.length;
        logger.error("cannot write rollups", { error, windows: batch.length });
        throw error;
      } finally {
        this.#writing = null;
      }
    }
  }
}
