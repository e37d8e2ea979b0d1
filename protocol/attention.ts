// The attention state of a sensor: what an operator should look at first.
// Codes are what the feed carries and what the viewport's `status` sort key
// orders by: a higher code needs attention sooner (critical > warn > offline
// > stale > ok), and 0 ("unknown": no reading yet) sorts last.

export const ATTENTION = Object.freeze(
  {
    unknown: 0,
    ok: 1,
    stale: 2,
    offline: 3,
    warn: 4,
    critical: 5,
  } as const,
);

export type AttentionName = keyof typeof ATTENTION;
export type AttentionCode = (typeof ATTENTION)[AttentionName];

/** Names by code. */
export const ATTENTION_NAMES: readonly AttentionName[] = Object.freeze([
  "unknown",
  "ok",
  "stale",
  "offline",
  "warn",
  "critical",
]);

/** The name of a code; "unknown" for one this version does not know. */
export function attentionName(code: number): AttentionName {
  return ATTENTION_NAMES[code] ?? "unknown";
}
