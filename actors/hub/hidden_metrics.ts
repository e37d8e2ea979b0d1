import type { MetricEntry } from "../../protocol/columns.ts";

/**
 * The metrics a viewport window's client does not show (its hidden columns):
 * their values and sparkline points are left out of its frames, so a
 * dashboard showing 3 of 40 metrics receives 3 metrics' bytes. Windows at
 * the same place with different hidden metrics are different streams.
 */
export interface HiddenMetrics {
  /**
   * The hidden metrics as a bitset by index, one character per 8 metrics
   * (at most 128 for 1,024 metrics), "" for none: part of a place's key.
   */
  readonly key: string;
  /** By metric index: 1 when hidden; null for none. */
  readonly mask: Uint8Array | null;
  /** The hidden metrics' names: the server's own strings, not a client's copies. */
  readonly names: readonly string[];
}

export const NO_HIDDEN: HiddenMetrics = { key: "", mask: null, names: [] };

/** The hidden metrics `names` make among the `known` ones; names not (yet) known hide nothing. */
export function hiddenMetrics(
  names: readonly string[],
  known: readonly MetricEntry[],
): HiddenMetrics {
  if (names.length === 0) return NO_HIDDEN;
  const wanted = new Set(names);
  const indexes: number[] = [];
  const hiddenNames: string[] = [];
  for (const metric of known) {
    if (!wanted.has(metric.name)) continue;
    indexes.push(metric.index);
    hiddenNames.push(metric.name);
  }
  if (indexes.length === 0) return NO_HIDDEN;
  const top = Math.max(...indexes);
  const mask = new Uint8Array(top + 1);
  const bits = new Uint8Array((top >> 3) + 1);
  for (const index of indexes) {
    mask[index] = 1;
    bits[index >> 3] |= 1 << (index & 7);
  }
  return { key: String.fromCharCode(...bits), mask, names: hiddenNames };
}
