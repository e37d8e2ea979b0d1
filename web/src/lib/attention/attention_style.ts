// How each attention state looks: a word and an icon with its colour, never
// colour alone. Shared by the table, the status bar and the group picker.
import { attentionName } from "@pulseboard/protocol";
import type { AttentionName } from "@pulseboard/protocol";

export interface AttentionLook {
  name: AttentionName;
  icon: string;
  /** What a screen reader and the cell say. */
  label: string;
}

const LOOKS: Record<AttentionName, AttentionLook> = {
  critical: { name: "critical", icon: "✖", label: "critical" },
  warn: { name: "warn", icon: "▲", label: "warning" },
  offline: { name: "offline", icon: "○", label: "offline" },
  stale: { name: "stale", icon: "◔", label: "stale" },
  ok: { name: "ok", icon: "✓", label: "ok" },
  unknown: { name: "unknown", icon: "·", label: "no data" },
};

export function attentionLook(code: number): AttentionLook {
  return LOOKS[attentionName(code)];
}

/** The states that call for an operator, most urgent first, as counts are shown. */
export const CALLING: readonly AttentionName[] = ["critical", "warn", "offline", "stale"];

export function lookOf(name: AttentionName): AttentionLook {
  return LOOKS[name];
}

/** "3 critical, 2 warning" (empty when none need attention). */
export function countsText(counts: Partial<Record<AttentionName, number>>): string {
  return CALLING.filter((n) => (counts[n] ?? 0) > 0)
    .map((n) => `${counts[n]} ${LOOKS[n].label}`)
    .join(", ");
}
