import { bucketize, bucketWidth, pickResolution } from "./history_query.ts";
import type { HistoryBucket, HistoryRequest, SeriesPoint } from "./history_query.ts";
import { readRawHistory } from "./raw_history.ts";
import type { RawLog } from "./raw_history.ts";
import type { HeldWindowsReader } from "./held_windows.ts";
import type { RollupStore } from "./rollup_store.ts";

/** What `GET /api/sensors/:id/history` answers. */
export interface HistoryAnswer {
  sensorId: string;
  metric: string;
  from: number;
  to: number;
  resolution: string;
  bucketMs: number;
  points: HistoryBucket[];
  /** True when the scan stopped at a bound and the series may miss points. */
  bounded: boolean;
  /**
   * Start of the first window in the answer that is still open: buckets from
   * the one holding it on may still change. Absent when every window is final.
   */
  provisionalFrom?: number;
  /**
   * The open windows could not be read (the sensor's shard is restarting or
   * did not answer): readings from here on may be missing. Absent otherwise.
   */
  missingFrom?: number;
  note?: string;
}

export interface HistoryOptions {
  /** Rollup size → retention, as written by the RollupStore. */
  rollupSizes: ReadonlyMap<number, number>;
  /** The newest log position known to precede a time (LogRetention.cursorAt). */
  cursorAt: (timeMs: number) => Promise<string | null>;
  /**
   * About how many chunks lie after `cursorAt(timeMs)` (null: unknown). A raw
   * scan that would read more than the bound is not started: it would only
   * be thrown away.
   */
  chunksAfter?: (timeMs: number) => Promise<number | null>;
  /** The raw log (`KvLog`); absent when the source keeps none (mongo): rollups only. */
  log?: RawLog;
  /** How long raw chunks are kept. */
  rawRetentionMs: number;
  /** Most log chunks one raw query reads. Default 256 (about 15 MB). */
  maxRawChunks?: number;
  /** Most rollup chunks (30 windows each) one query reads. Default 4,000. */
  maxRollupChunks?: number;
  /** Closed windows not yet stored (the rollup writer's buffer), merged over stored ones. */
  buffered?: (
    sizeMs: number,
    sensorId: string,
    metric: string,
    fromMs: number,
    toMs: number,
  ) => SeriesPoint[];
  /**
   * The windows the sensor's shard still holds (open, or closed and not yet
   * flushed): the newest `--grace` seconds, which no rollup has yet. Read
   * before `buffered` (see `heldWindowsReader`). Without it, history from
   * rollups ends at the watermark.
   */
  held?: HeldWindowsReader;
  /** Queries served at once; more get Busy (503 + Retry-After). Default 4. */
  maxConcurrent?: number;
  /** How early before `from` a raw scan starts, for readings committed late. Default 15 s. */
  rawSlackMs?: number;
}

/** Serves downsampled history from rollups or the raw log, bounded in work. */
export class HistoryService {
  readonly #rollups: RollupStore;
  readonly #options: HistoryOptions;
  #running = 0;

  constructor(rollups: RollupStore, options: HistoryOptions) {
    this.#rollups = rollups;
    this.#options = options;
  }

  async query(request: HistoryRequest, nowMs: number): Promise<HistoryAnswer> {
    const limit = this.#options.maxConcurrent ?? 4;
    if (this.#running >= limit) {
      throw new Deno.errors.Busy(`${limit} history queries are running; try again shortly`);
    }
    this.#running++;
    try {
      return await this.#query(request, nowMs);
    } finally {
      this.#running--;
    }
  }

  async #query(request: HistoryRequest, nowMs: number): Promise<HistoryAnswer> {
    const { sensorId, metric, fromMs, toMs, maxPoints } = request;
    const sizes = this.#options.rollupSizes;
    let size = pickResolution(request, sizes, nowMs, this.#options.rawRetentionMs);
    const notes: string[] = [];
    if (size === 0) {
      const raw = await this.#raw(request);
      if (raw) {
        return this.#answer(request, "raw", 1, raw.points, !raw.complete, raw.note);
      }
      const finest = [...sizes.keys()].sort((a, b) => a - b)[0];
      if (finest === undefined) {
        return this.#answer(
          request,
          "raw",
          1,
          [],
          true,
          "no rollups are kept and the raw scan was too large",
        );
      }
      size = finest;
      notes.push(`too many raw readings to scan; ${label(size)} rollups instead`);
    }
    const bucketMs = bucketWidth(fromMs, toMs, maxPoints, size);
    const max = this.#options.maxRollupChunks ?? 4_000;
    // Every window overlapping [from, to), wherever it is held: its start is on the size's grid.
    const windowsFrom = fromMs - (fromMs % size);
    // Windows move shard → buffer → store: read them in that order, and each is found.
    const held = this.#options.held ? await this.#options.held(size, sensorId, metric) : [];
    const buffered = this.#options.buffered?.(size, sensorId, metric, windowsFrom, toMs) ?? [];
    const { points, bounded } = await this.#rollups.read(
      size,
      sensorId,
      metric,
      windowsFrom,
      toMs,
      max,
    );
    if (bounded) notes.push(`stopped after ${max * 30} rollup windows`);
    // A window found in several places is the same window: the copy furthest along wins.
    const seen = new Set(points.map((p) => p.t));
    for (const p of buffered) {
      if (!seen.has(p.t)) {
        points.push(p);
        seen.add(p.t);
      }
    }
    let provisionalFrom: number | undefined;
    for (const w of held ?? []) {
      if (w.startMs < windowsFrom || w.startMs >= toMs || seen.has(w.startMs)) continue;
      points.push({ t: w.startMs, count: w.count, sum: w.sum, min: w.min, max: w.max });
      if (!w.final) provisionalFrom = Math.min(provisionalFrom ?? Infinity, w.startMs);
    }
    if (provisionalFrom !== undefined) {
      notes.push(
        `windows from ${iso(provisionalFrom)} on are still open (provisional): ` +
          "readings within the grace period may still change them",
      );
    }
    let missingFrom: number | undefined;
    if (held === null) {
      // The newest window found is complete; after it, readings may be missing.
      const newest = points.reduce((a, p) => Math.max(a, p.t + size), windowsFrom);
      if (newest < toMs) {
        missingFrom = Math.max(fromMs, newest);
        notes.push(
          `the sensor's open windows could not be read (its shard is restarting or busy): ` +
            `readings from ${iso(missingFrom)} on may be missing`,
        );
      }
    }
    if (nowMs - (sizes.get(size) ?? Infinity) > fromMs) {
      notes.push(
        `${label(size)} rollups are kept for ${Math.round(sizes.get(size)! / 3_600_000)} h only`,
      );
    }
    return {
      sensorId,
      metric,
      from: fromMs,
      to: toMs,
      resolution: label(size),
      bucketMs,
      points: bucketize(points, fromMs, toMs, bucketMs),
      bounded,
      ...(provisionalFrom !== undefined ? { provisionalFrom } : {}),
      ...(missingFrom !== undefined ? { missingFrom } : {}),
      ...(notes.length ? { note: notes.join("; ") } : {}),
    };
  }

  /** Raw points, or null when the range holds more chunks than a query may read. */
  async #raw(
    request: HistoryRequest,
  ): Promise<{ points: SeriesPoint[]; complete: boolean; note?: string } | null> {
    const slack = this.#options.rawSlackMs ?? 15_000;
    const max = this.#options.maxRawChunks ?? 256;
    const estimate = await this.#options.chunksAfter?.(request.fromMs - slack) ?? null;
    if (estimate !== null && estimate > max) return null;
    const after = await this.#options.cursorAt(request.fromMs - slack);
    const log = this.#options.log;
    if (!log) return null;
    const raw = await readRawHistory(log, { ...request, after }, max);
    if (!raw.complete) return null;
    return { points: raw.points, complete: true };
  }

  #answer(
    request: HistoryRequest,
    resolution: string,
    sizeMs: number,
    points: SeriesPoint[],
    bounded: boolean,
    note?: string,
  ): HistoryAnswer {
    const bucketMs = bucketWidth(request.fromMs, request.toMs, request.maxPoints, sizeMs);
    return {
      sensorId: request.sensorId,
      metric: request.metric,
      from: request.fromMs,
      to: request.toMs,
      resolution,
      bucketMs,
      points: bucketize(points, request.fromMs, request.toMs, bucketMs),
      bounded,
      ...(note ? { note } : {}),
    };
  }
}

function label(sizeMs: number): string {
  if (sizeMs % 60_000 === 0) return `${sizeMs / 60_000}m`;
  if (sizeMs % 1_000 === 0) return `${sizeMs / 1_000}s`;
  return `${sizeMs}ms`;
}

function iso(timeMs: number): string {
  return new Date(timeMs).toISOString();
}
