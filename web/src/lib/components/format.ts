/** Formats a metric value for a table cell: fixed decimals by magnitude. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  return value.toFixed(abs >= 1000 ? 1 : abs >= 100 ? 1 : 2);
}

/** Formats how long ago something happened: "0.4 s", "12 s", "3 min". */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** Formats a rate with thousands separators. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** The readings a metric's avg, min and max cover: "the last 50 readings". */
export function recentReadings(countWindow: number): string {
  if (countWindow <= 0) return "the most recent readings"; // a server that does not say
  return countWindow === 1 ? "the last reading" : `the last ${formatCount(countWindow)} readings`;
}

/** What the avg, min and max next to a value cover: its last `countWindow` readings. */
export function countWindowLabel(countWindow: number): string {
  return `avg · min · max of ${recentReadings(countWindow)}`;
}
