// The chart's zoom ranges, and the bucket size used for the live tail when
// the server gave no history to take it from.

export interface ZoomRange {
  label: string;
  ms: number;
}

export const ZOOM_RANGES: readonly ZoomRange[] = [
  { label: "5 min", ms: 5 * 60_000 },
  { label: "1 h", ms: 60 * 60_000 },
  { label: "24 h", ms: 24 * 60 * 60_000 },
];

/** About one bucket per pixel, never below 100 ms (the feed's tick). */
export function tailBucketMs(rangeMs: number, widthPx: number): number {
  return Math.max(100, Math.floor(rangeMs / Math.max(1, widthPx)));
}
