// Which metric columns the operator hid, as the browser keeps it
// (localStorage): a JSON array of metric names. Anything else reads as none.

export const HIDDEN_METRICS_KEY = "pulseboard.hiddenMetrics";

/** The hidden metrics a stored value names; none for a missing or unreadable one. */
export function readHidden(stored: string | null): Set<string> {
  if (stored === null) return new Set();
  try {
    const names: unknown = JSON.parse(stored);
    if (!Array.isArray(names)) return new Set();
    return new Set(names.filter((n): n is string => typeof n === "string" && n.length <= 64));
  } catch {
    return new Set();
  }
}

/** The stored value of `hidden`, names sorted (so one set is one string). */
export function writeHidden(hidden: ReadonlySet<string>): string {
  return JSON.stringify([...hidden].sort());
}

/** `hidden` with `name` shown (`show`) or hidden. */
export function withMetric(hidden: ReadonlySet<string>, name: string, show: boolean): Set<string> {
  const next = new Set(hidden);
  if (show) next.delete(name);
  else next.add(name);
  return next;
}
