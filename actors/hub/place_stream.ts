import type { Slice, View } from "./views/mod.ts";
import type { HiddenMetrics } from "./hidden_metrics.ts";
import { StreamRing } from "./stream_ring.ts";
import type { RingBudget, RingLimits } from "./stream_ring.ts";

/**
 * The stream of one place of a view (its offset and limit, rounded to
 * blocks, and the metrics its windows hide): what an unheld window there
 * shows, tick after tick. It has its
 * own random epoch and sequence numbers and a small ring of its frames, so a
 * client that reconnects can resume its window. The windows at the place
 * that have its state (`told`) and take every tick share its frame. Owned by
 * the hub's views.
 */
export class PlaceStream {
  readonly key: string;
  readonly view: View;
  readonly offset: number;
  readonly limit: number;
  readonly hidden: HiddenMetrics;
  readonly epoch = crypto.getRandomValues(new Uint32Array(1))[0];
  seq = 0;
  /** The rows the stream's state shows (what its last frame brought), null before any. */
  told: Slice | null = null;
  /** The counts its state shows, and the view's `countsVersion` its attention counts are of. */
  total = -1;
  matching = -1;
  countsVersion = -1;
  /** Windows here now. */
  windows = 0;
  /** Last time (tick clock) a window was here; -Infinity: never. */
  watchedAt = -Infinity;
  /** Who the last window to leave belonged to (its client address, token): idle places count against them. */
  leftBy: readonly string[] = [];
  readonly ring: StreamRing;
  /**
   * This tick's frame and the state the stream had before it (what a window
   * that had that state and takes every tick is sent). Rewritten each tick.
   */
  readonly tick: PlaceTick = {
    before: null,
    total: -1,
    matching: -1,
    countsVersion: -1,
    target: null,
    frame: null,
  };

  constructor(
    view: View,
    place: { offset: number; limit: number; hidden: HiddenMetrics },
    o: { limits: RingLimits; budget: RingBudget },
  ) {
    this.view = view;
    this.offset = place.offset;
    this.limit = place.limit;
    this.hidden = place.hidden;
    this.key = placeKey(view, place);
    this.ring = new StreamRing(o.limits, o.budget);
  }

  /** The rows an unheld window here shows now. */
  target(): Slice {
    return this.view.slice(this.offset, this.limit);
  }
}

/** See `PlaceStream.tick`. */
export interface PlaceTick {
  before: Slice | null;
  total: number;
  matching: number;
  countsVersion: number;
  target: Slice | null;
  frame: Uint8Array | null;
}

export function placeKey(
  view: View,
  place: { offset: number; limit: number; hidden: HiddenMetrics },
): string {
  return `${view.id}:${place.offset}:${place.limit}:${place.hidden.key}`;
}
