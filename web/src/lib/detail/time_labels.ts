// Time labels for the detail chart: short enough not to overlap, with the
// date only where it changes, and the hover legend to the second.

const pad = (n: number) => String(n).padStart(2, "0");

/** "18:03:12" (local time). */
export function clockTime(ms: number, seconds = true): string {
  const d = new Date(ms);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return seconds ? `${hm}:${pad(d.getSeconds())}` : hm;
}

/** The hover legend's time: "2026-12-01 18:03:12.250" (local). */
export function fullTime(ms: number): string {
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date} ${clockTime(ms)}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/**
 * Axis labels for tick times (ms): seconds only when ticks are under a
 * minute apart; the day ("Dec 1") prefixed where it changes from the tick before.
 */
export function axisTimes(ticks: readonly number[]): string[] {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 60_000;
  const seconds = step < 60_000;
  let day = "";
  return ticks.map((ms) => {
    const d = new Date(ms);
    const thisDay = d.toLocaleDateString("en-US", { month: "short", day: "numeric" });
    const label = step >= 86_400_000 ? thisDay : clockTime(ms, seconds);
    const dayChanged = day !== "" && thisDay !== day && step < 86_400_000;
    day = thisDay;
    return dayChanged ? `${thisDay} ${label}` : label;
  });
}
