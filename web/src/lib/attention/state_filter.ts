// Which attention states the table shows: all, those that call for an
// operator, or one. As the filter select, a status bar count and the URL
// (`?state=critical`) name them, and as the view's status codes. Pure.
import { ATTENTION } from "@pulseboard/protocol";
import type { AttentionName } from "@pulseboard/protocol";
import { CALLING, lookOf } from "./attention_style.ts";

/** One choice of the state filter: `value` is what the select and the URL hold. */
export interface StateChoice {
  value: string;
  label: string;
  /** The states shown; null: all. */
  states: readonly AttentionName[] | null;
}

const ONE: readonly AttentionName[] = ["critical", "warn", "offline", "stale", "ok", "unknown"];

export const STATE_CHOICES: readonly StateChoice[] = [
  { value: "", label: "all states", states: null },
  { value: "attention", label: "needs attention", states: CALLING },
  ...ONE.map((name) => ({ value: name, label: lookOf(name).label, states: [name] })),
];

/** The states a select or URL value names; null (all) for anything else. */
export function statesOf(value: string | null): readonly AttentionName[] | null {
  return STATE_CHOICES.find((c) => c.value === value)?.states ?? null;
}

/** The choice's value for `states` (as `statesOf` reads it back). */
export function stateValue(states: readonly AttentionName[] | null): string {
  if (states === null) return "";
  const key = [...states].sort().join();
  return STATE_CHOICES.find((c) => c.states !== null && [...c.states].sort().join() === key)
    ?.value ?? "";
}

/** The view's status filter: the states' codes, ascending; null for all. */
export function stateCodes(states: readonly AttentionName[] | null): number[] | null {
  return states === null ? null : states.map((name) => ATTENTION[name]).sort((a, b) => a - b);
}
