// The tab's icon says whether anything needs an operator, for a dashboard
// left in a background tab: the pulse in red with a dot while a sensor is
// critical, amber while one warns, green otherwise. Pure.
import type { AttentionName } from "@pulseboard/protocol";

const COLOURS = { critical: "#ef4444", warn: "#f59e0b", none: "#22c55e" } as const;

/** The most urgent level the counts hold that changes the icon, or null. */
export function faviconLevel(
  counts: Partial<Record<AttentionName, number>>,
): "critical" | "warn" | null {
  if ((counts.critical ?? 0) > 0) return "critical";
  if ((counts.warn ?? 0) > 0) return "warn";
  return null;
}

/** The icon for a level, as a data URL. */
export function faviconHref(level: "critical" | "warn" | null): string {
  const colour = COLOURS[level ?? "none"];
  const dot = level === null
    ? ""
    : `<circle cx="25" cy="7" r="6" fill="${colour}" stroke="#111827" stroke-width="2"/>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">` +
    `<rect width="32" height="32" rx="6" fill="#111827"/>` +
    `<path d="M4 17h6l3-8 5 15 3-7h7" fill="none" stroke="${colour}" stroke-width="2.5" ` +
    `stroke-linecap="round" stroke-linejoin="round"/>${dot}</svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}
