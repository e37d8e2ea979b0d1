import { chunkStart, chunkWindow, WINDOWS_PER_CHUNK } from "./rollup_chunks.ts";
import type { RollupChunk } from "./rollup_chunks.ts";
import { ROW_NUMBERS, rowIndex } from "./rollup_rows.ts";
import type { RollupPoint, RollupRows } from "./rollup_rows.ts";
import {
  BLOCK_BYTES,
  BlockBuilder,
  readBlock,
  ROLLUP_BUCKETS,
  rollupBucket,
} from "./rollup_block.ts";
import { KEYS } from "../store/keys.ts";

const ROLLUP = KEYS.rollup;
const BLOCK = KEYS.rollupBlock;
const SPAN = KEYS.rollupSpan;
/** Span lists a read has running at once (a list of one span's bucket costs ~0.15 ms alone). */
const READ_CONCURRENCY = 8;
/** Blocks one flush may write for one size, bucket and span (a part's sub-parts). */
const BLOCK_SUB_PARTS = 1024;
/**
 * One atomic commit holds fragments up to about this many bytes and
 * mutations (Deno KV caps a commit at 800 KiB and 1,000 mutations); commits
 * are awaited one by one, so the log's appends get their turn between them.
 */
const BYTES_PER_COMMIT = 600 * 1024;
const MUTATIONS_PER_COMMIT = 500;
/** Numbers per window in a fragment (the layout before blocks): metric, start, count, sum, min, max. */
const W = 6;

/** A stored chunk of the oldest layout: 30 windows per metric, dense. */
interface StoredChunk {
  m: string[];
  v: Float64Array;
}

/** A stored fragment (the layout before blocks): some windows of one sensor and size within one chunk span. */
interface StoredFragment {
  m: string[];
  /** `[metric index, start, count, sum, min, max]` per window. */
  w: Float64Array;
}

/**
 * Rollups in Deno KV. Each flush writes, per size, bucket of sensors
 * (`rollupBucket`) and chunk span, the windows it has as blocks
 * (`rollup_block.ts`) under `["rollup_span", sizeMs, chunkStartMs, bucket,
 * part]` (part: the flush's number and a sub-part, so a block never
 * overwrites another), each expiring after its size's retention (counted
 * from the write): the number of values written grows with the windows'
 * bytes, not with sensors × flushes. Time first: a flush's blocks go in at
 * the end of the size's range and expire from its start, where bucket
 * first put them in 1,024 places (a page of SQLite's tree read and written
 * for each: 2,008 reads and 2,034 writes a second against 387 and 1,035 in
 * a run of Deno KV alone). A read finds the first and last spans stored in
 * its range (a list of one entry each way), lists the sensor's bucket in
 * each span between and keeps the sensor's windows; a window written twice
 * (a replay after a crash) is the same window. The older layouts are read
 * as well: `["rollup_block", sizeMs, bucket, chunkStartMs, part]` (bucket
 * first), and under `["rollup", sizeMs, sensorId, ...]` per-sensor
 * fragments and before them 30-window chunks.
 */
export class RollupStore {
  readonly #kv: Deno.Kv;
  readonly #retentionMs: ReadonlyMap<number, number>;
  /** Where a write encodes its blocks, commit after commit; kept for the next write. */
  #buffer: Uint8Array | null = null;
  /** Fragments written since start. */
  written = 0;

  /** `retentionMs`: window size → how long its rollups are kept. */
  constructor(kv: Deno.Kv, retentionMs: ReadonlyMap<number, number>) {
    this.#kv = kv;
    this.#retentionMs = retentionMs;
  }

  /** Sizes kept as rollups. */
  get sizes(): ReadonlySet<number> {
    return new Set(this.#retentionMs.keys());
  }

  /**
   * Writes `rows` as fragments numbered `part`, in short commits; once
   * `signal` aborts, stops before the next commit (rejecting with its reason).
   */
  async write(rows: RollupRows, options: { part: number; signal?: AbortSignal }): Promise<void> {
    // Blocks are encoded into one buffer, each at the next 8-aligned offset, and passed to the
    // commit as views of it; Deno KV copies them when the commit is made, so the buffer is
    // written again for the next commit (no buffer per block: 84 MB of them in 30 s at
    // 100,000 sensors, kept until a major GC). Taken while this write runs (a write running
    // at the same time makes its own).
    const buffer = this.#buffer ?? new Uint8Array(BYTES_PER_COMMIT + BLOCK_BYTES);
    this.#buffer = null;
    try {
      await this.#write(rows, buffer, options);
    } finally {
      this.#buffer = buffer;
    }
  }

  async #write(
    rows: RollupRows,
    buffer: Uint8Array,
    options: { part: number; signal?: AbortSignal },
  ): Promise<void> {
    // The commits' state in an object of one class, with `put` and `commit` as its methods:
    // closures made per write were new call targets each time, and this long-running
    // function's code deoptimized on them and was compiled again at every flush.
    const commits = new FragmentCommits(this.#kv, buffer, options);
    // Slots by size and bucket (a counting sort of typed arrays, no object per sensor): a
    // bucket's blocks are built and written together. Between commits a slice of at most
    // about BYTES_PER_COMMIT of windows is built, so no step holds the thread for long.
    const slots = rows.slots;
    const sizes = [...this.#retentionMs.keys()];
    const used = rows.usedSlots();
    const groupOf = new Int32Array(used.length);
    const starts = new Int32Array(sizes.length * ROLLUP_BUCKETS + 1);
    for (let k = 0; k < used.length; k++) {
      const rank = sizes.indexOf(slots.sizes[used[k]]);
      groupOf[k] = rank < 0 ? -1 : rank * ROLLUP_BUCKETS + slots.buckets[used[k]];
      if (rank >= 0) starts[groupOf[k] + 1]++;
    }
    for (let g = 1; g < starts.length; g++) starts[g] += starts[g - 1];
    const order = new Int32Array(starts[starts.length - 1]);
    const fill = starts.slice(0, -1);
    for (let k = 0; k < used.length; k++) if (groupOf[k] >= 0) order[fill[groupOf[k]]++] = used[k];
    const pool: BlockBuilder[] = [];
    const open = new Map<number, BlockBuilder>();
    for (let g = 0; g < starts.length - 1; g++) {
      if (starts[g] === starts[g + 1]) continue;
      const sizeMs = sizes[Math.floor(g / ROLLUP_BUCKETS)];
      const group = new FragmentGroup(sizeMs, g % ROLLUP_BUCKETS, this.#retentionMs.get(sizeMs)!);
      const spanMs = sizeMs * WINDOWS_PER_CHUNK;
      // A sensor's windows mostly fall in one span: its block is looked up once per change.
      let lastSpan = NaN;
      let block: BlockBuilder | undefined;
      for (let k = starts[g]; k < starts[g + 1]; k++) {
        const slot = order[k];
        const sensorId = slots.ids[slot];
        for (let r = rows.head(slot); r >= 0;) {
          const page = rows.page(r);
          const i = rowIndex(r);
          const at = i * ROW_NUMBERS;
          const metric = slots.metrics[page.metric[i]];
          const t = page.f[at];
          const span = t - (t % spanMs);
          if (span !== lastSpan || !block) {
            block = open.get(span);
            if (!block) open.set(span, block = pool.pop() ?? new BlockBuilder());
            lastSpan = span;
          }
          if (!block.add(sensorId, metric, page.f, at)) {
            // Awaited first: `written` is read after the commit (another write may add meanwhile).
            const committed = await commits.put(group, span, block);
            this.written += committed;
            block.add(sensorId, metric, page.f, at);
          }
          r = page.next[i];
        }
      }
      for (const [span, block] of open) {
        if (block.length > 0) {
          const committed = await commits.put(group, span, block);
          this.written += committed;
        }
        pool.push(block);
      }
      open.clear();
      commits.subs.clear();
    }
    const committed = await commits.commit();
    this.written += committed;
  }

  /**
   * One metric's windows of one size with starts in [fromMs, toMs), oldest
   * first, reading at most `maxChunks` chunk spans (`bounded` when more
   * exist): every span from the first to the last stored in the range counts.
   */
  async read(
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
    maxChunks: number,
  ): Promise<{ points: RollupPoint[]; bounded: boolean }> {
    const byStart = new Map<number, RollupPoint>();
    const spans = new Set<number>();
    let bounded = false;
    // A span read counts against `maxChunks`; past it the answer is bounded.
    const admit = (span: number): boolean => {
      if (spans.has(span)) return true;
      if (spans.size === maxChunks) return !(bounded = true);
      spans.add(span);
      return true;
    };
    const query = { sensorId, metric, fromMs, toMs };
    const bucket = rollupBucket(sensorId);
    // Time first: one list per span, oldest first, a few at a time, over the spans from the
    // first to the last stored in the range (any bucket's); each is admitted, whether or not
    // it holds a block of this bucket (it was looked in).
    const range = { start: [SPAN, sizeMs, chunkStart(fromMs, sizeMs)], end: [SPAN, sizeMs, toMs] };
    const edge = async (reverse: boolean) => {
      for await (const entry of this.#kv.list(range, { limit: 1, reverse })) {
        return entry.key[2] as number;
      }
      return null;
    };
    const [first, last] = await Promise.all([edge(false), edge(true)]);
    const wanted: number[] = [];
    if (first !== null && last !== null) {
      const spanMs = sizeMs * WINDOWS_PER_CHUNK;
      for (let span = first; span <= last && admit(span); span += spanMs) wanted.push(span);
    }
    const found: Uint8Array[][] = new Array(wanted.length);
    let next = 0;
    const lister = async () => {
      for (let i = next++; i < wanted.length; i = next++) {
        const values: Uint8Array[] = found[i] = [];
        const entries = this.#kv.list<Uint8Array>({ prefix: [SPAN, sizeMs, wanted[i], bucket] });
        for await (const entry of entries) values.push(entry.value);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, wanted.length) }, lister));
    for (const values of found) {
      for (const value of values) readBlock(value, query, (w) => byStart.set(w.t, { ...w }));
    }
    // Bucket first (a store written before `rollup_span`), within the same span budget.
    if (!bounded) {
      const blocks = this.#kv.list<Uint8Array>(
        {
          start: [BLOCK, sizeMs, bucket, chunkStart(fromMs, sizeMs)],
          end: [BLOCK, sizeMs, bucket, toMs],
        },
        { batchSize: 20 },
      );
      for await (const entry of blocks) {
        if (!admit(entry.key[3] as number)) break;
        readBlock(entry.value, query, (w) => byStart.set(w.t, { ...w }));
      }
    }
    // The older layouts (a store written before blocks), within the same span budget.
    const iter = this.#kv.list<StoredChunk | StoredFragment>(
      {
        start: [ROLLUP, sizeMs, sensorId, chunkStart(fromMs, sizeMs)],
        end: [ROLLUP, sizeMs, sensorId, toMs],
      },
      { batchSize: 200 },
    );
    for await (const entry of iter) {
      if (bounded) break;
      const span = entry.key[3] as number;
      if (!admit(span)) break;
      const value = entry.value;
      const k = value.m.indexOf(metric);
      if (k < 0) continue;
      if ("w" in value) {
        const w = value.w;
        for (let at = 0; at < w.length; at += W) {
          const t = w[at + 1];
          if (w[at] !== k || t < fromMs || t >= toMs) continue;
          byStart.set(t, { t, count: w[at + 2], sum: w[at + 3], min: w[at + 4], max: w[at + 5] });
        }
        continue;
      }
      const chunk: RollupChunk = {
        sizeMs,
        sensorId,
        startMs: span,
        metrics: value.m,
        values: value.v,
      };
      for (let slot = 0; slot < WINDOWS_PER_CHUNK; slot++) {
        const t = span + slot * sizeMs;
        if (t < fromMs || t >= toMs) continue;
        const w = chunkWindow(chunk, k, slot);
        if (w && !byStart.has(t)) byStart.set(t, { t, ...w });
      }
    }
    return { points: [...byStart.values()].sort((a, b) => a.t - b.t), bounded };
  }
}

/** A size and bucket of rollup blocks, with how long they are kept. */
class FragmentGroup {
  constructor(readonly sizeMs: number, readonly bucket: number, readonly expireIn: number) {}
}

/**
 * One `RollupStore.write`'s commits: blocks encoded into `buffer` and set in
 * an atomic operation, committed once it holds about `BYTES_PER_COMMIT` or
 * `MUTATIONS_PER_COMMIT`.
 */
class FragmentCommits {
  readonly #kv: Deno.Kv;
  readonly #buffer: Uint8Array;
  readonly #part: number;
  readonly #signal: AbortSignal | undefined;
  #op: Deno.AtomicOperation;
  #mutations = 0;
  #filled = 0;
  /** By span: blocks put so far in the current group. */
  readonly subs = new Map<number, number>();

  constructor(kv: Deno.Kv, buffer: Uint8Array, options: { part: number; signal?: AbortSignal }) {
    this.#kv = kv;
    this.#buffer = buffer;
    this.#part = options.part;
    this.#signal = options.signal;
    this.#op = kv.atomic();
  }

  /** Commits what is set (unless nothing is); resolves to the fragments committed. */
  async commit(): Promise<number> {
    const mutations = this.#mutations;
    if (mutations === 0) return 0;
    this.#signal?.throwIfAborted();
    if (!(await this.#op.commit()).ok) {
      throw new Error("Cannot write rollups: a commit was refused");
    }
    this.#op = this.#kv.atomic();
    this.#mutations = 0;
    return mutations;
  }

  /** Sets `block` (then resets it), committing first when full; resolves to the fragments committed. */
  async put(group: FragmentGroup, span: number, block: BlockBuilder): Promise<number> {
    const sub = this.subs.get(span) ?? 0;
    if (sub === BLOCK_SUB_PARTS) {
      throw new RangeError(`Cannot write rollups: over ${BLOCK_SUB_PARTS} blocks in a span`);
    }
    this.subs.set(span, sub + 1);
    let committed = 0;
    if (
      this.#mutations > 0 &&
      (this.#filled > BYTES_PER_COMMIT || this.#mutations >= MUTATIONS_PER_COMMIT)
    ) {
      committed = await this.commit();
      this.#filled = 0;
    }
    const buffer = this.#buffer, filled = this.#filled;
    const length = block.encodeInto(buffer, filled);
    this.#op.set(
      [SPAN, group.sizeMs, span, group.bucket, this.#part * BLOCK_SUB_PARTS + sub],
      buffer.subarray(filled, filled + length),
      { expireIn: group.expireIn },
    );
    this.#filled = (filled + length + 7) & ~7;
    this.#mutations++;
    block.reset();
    return committed;
  }
}
