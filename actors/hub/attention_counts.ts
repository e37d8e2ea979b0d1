// Counts of sensors per attention state, as the API and /metrics tell them.
import { ATTENTION_NAMES } from "../../protocol/attention.ts";
import type { AttentionName } from "../../protocol/attention.ts";

/** A group with its sensors and, of those, how many are in each state that needs attention. */
export interface GroupCount {
  group: string;
  sensors: number;
  /** Non-zero counts of critical, warn, offline and stale sensors. */
  attention: Partial<Record<AttentionName, number>>;
}

/** The states an operator is called to, most urgent first. */
export const CALLING: readonly AttentionName[] = Object.freeze([
  "critical",
  "warn",
  "offline",
  "stale",
]);

/** Counts by code → the non-zero ones among the calling states, by name. */
export function attentionCounts(
  byCode: ArrayLike<number>,
): Partial<Record<AttentionName, number>> {
  const out: Partial<Record<AttentionName, number>> = {};
  for (const name of CALLING) {
    const n = byCode[ATTENTION_NAMES.indexOf(name)];
    if (n > 0) out[name] = n;
  }
  return out;
}
