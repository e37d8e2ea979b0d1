import type { Slice, View } from "./view.ts";

export const NO_ROWS: readonly number[] = Object.freeze([]);
const EMPTY = new Uint32Array(0);

export interface WindowLimits {
  /** Rows a window's offset and end are rounded to, so screens of different heights share slices. Default 50. */
  block: number;
  /** Most rows one window may ask for (visible rows plus overscan). Default 1000. */
  maxRows: number;
}

export const DEFAULT_WINDOW_LIMITS: Readonly<WindowLimits> = Object.freeze({
  block: 50,
  maxRows: 1000,
});

/** Offsets beyond this are refused: no fleet has that many rows. */
export const MAX_OFFSET = 2 ** 31 - 1;

/**
 * A session's window on a view: which rows it shows (offset and limit,
 * rounded out to blocks), whether the client holds them (the pointer is on
 * the rows), and what changed for it in the last tick. The table moves it to
 * the view's newest rows on each tick unless held; a held window keeps the
 * slice it had (minus sensors removed from the fleet), and its deltas still
 * flow, until it is released or asks for a resort.
 */
export class ViewWindow {
  readonly id: number;
  view: View;
  offset = 0;
  limit = 0;
  held = false;
  /** The slice being held (set on the first tick of a hold). */
  frozen: Slice | null = null;
  /** What the client was last told it shows; null before the first tick. */
  shown: Slice | null = null;
  /** Why the table closed it (its view was evicted), or null while open. */
  closed: string | null = null;
  /** Whether the row → sensor mapping changed in the last tick (a new `rows`). */
  moved = false;
  /** Sensors that entered the rows (send full state and the last minute of points). */
  entered: readonly number[] = NO_ROWS;
  /** Sensors that left the rows. */
  left: readonly number[] = NO_ROWS;
  /** Sensors that stayed and were touched (send deltas). */
  changed: readonly number[] = NO_ROWS;
  /** Whether the view's counts differ from what the window was last told. */
  countsChanged = false;
  /** Counts last told. */
  total = -1;
  matching = -1;

  constructor(
    id: number,
    view: View,
    options: { offset: number; limit: number; limits: WindowLimits },
  ) {
    this.id = id;
    this.view = view;
    this.move(options.offset, options.limit, options.limits);
  }

  /** The rows the client shows, in order (sensor indexes). */
  get rows(): Uint32Array {
    return this.shown?.rows ?? EMPTY;
  }

  /**
   * Windows with equal keys show equal rows and have equal deltas this tick:
   * they can share one encoded frame (entries differ only for windows that
   * moved, see `entered`).
   */
  get frameKey(): string {
    return this.shown?.key ?? "";
  }

  /** One past the last row asked for. */
  get end(): number {
    return this.offset + this.limit;
  }

  /**
   * Asks for rows [offset, offset + limit), rounded out to blocks (see
   * `placeWindow`, which throws for bad values). A held window stays held at
   * the new place.
   */
  move(offset: number, limit: number, limits: WindowLimits): void {
    const place = placeWindow(offset, limit, limits);
    if (place.offset === this.offset && place.limit === this.limit) return;
    this.offset = place.offset;
    this.limit = place.limit;
    // A held window scrolled elsewhere holds the view's current rows there.
    this.frozen = null;
  }

  /** Keeps the rows the client has until `release` or `resort` (the pointer is on them). */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.frozen = this.shown;
  }

  /** Lets the window follow the view's newest rows again. */
  release(): void {
    this.held = false;
    this.frozen = null;
  }

  /** The operator's own resort: release, and have the view ordered anew on the next tick. */
  resort(): void {
    this.release();
    this.view.forced = true;
  }
}

/**
 * Rows [offset, offset + limit) rounded out to whole blocks. Throws
 * RangeError for an offset that is not an integer in 0..MAX_OFFSET or a
 * limit not in 1..maxRows.
 */
export function placeWindow(
  offset: number,
  limit: number,
  limits: WindowLimits,
): { offset: number; limit: number } {
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) {
    throw new RangeError(
      `Cannot place window: offset ${offset} is not an integer in 0..${MAX_OFFSET}`,
    );
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > limits.maxRows) {
    throw new RangeError(
      `Cannot place window: limit ${limit} is not an integer in 1..${limits.maxRows}`,
    );
  }
  const start = Math.floor(offset / limits.block) * limits.block;
  const end = Math.ceil((offset + limit) / limits.block) * limits.block;
  return { offset: start, limit: end - start };
}
