import { ReadingBlockBuilder } from "./block.ts";
import type { ReadingBlock } from "./block.ts";
import type { Refusal } from "./json.ts";
import type { ReadingLimits } from "./limits.ts";
import {
  checkGroup,
  checkMetricName,
  checkSensorId,
  checkStatus,
  checkTimeMs,
  checkValue,
} from "./validate.ts";

type Role = "s" | "g" | "t" | "m";
type Check = (role: Role, index: number, rule: (s: string) => string | null) => string | null;

/**
 * Validates every reading of a decoded binary batch and keeps the good ones.
 * Each distinct string is checked once per role, so the cost per reading is a
 * few array reads. Returns the input block itself when nothing was refused.
 */
export function filterValidReadings(block: ReadingBlock, limits: ReadingLimits): {
  block: ReadingBlock;
  refused: Refusal[];
} {
  const strings = block.strings;
  // One verdict per string and role, so each distinct string is checked once.
  const verdicts = { s: [], g: [], t: [], m: [] } as Record<Role, (string | null | undefined)[]>;
  const check: Check = (role, index, rule) => {
    let reason = verdicts[role][index];
    if (reason === undefined) reason = verdicts[role][index] = rule(strings[index]);
    return reason;
  };
  const refused: Refusal[] = [];
  for (let i = 0; i < block.length; i++) {
    const reason = check("s", block.sensor[i], (s) => checkSensorId(s, limits)) ??
      check("g", block.group[i], (s) => checkGroup(s, limits)) ??
      check("t", block.status[i], (s) => checkStatus(s, limits)) ??
      checkTimeMs(block.timeMs[i]) ??
      checkValues(block, i, limits, check);
    if (reason !== null) refused.push({ index: i, reason });
  }
  if (refused.length === 0) return { block, refused };
  const builder = new ReadingBlockBuilder({ capacity: block.length - refused.length });
  let next = 0;
  for (let i = 0; i < block.length; i++) {
    if (next < refused.length && refused[next].index === i) {
      next++;
      continue;
    }
    builder.copyRow(block, i);
  }
  return { block: builder.build(), refused };
}

function checkValues(
  block: ReadingBlock,
  row: number,
  limits: ReadingLimits,
  check: Check,
): string | null {
  const count = block.metricCount[row];
  if (count === 0) return "reading has no metrics";
  if (count > limits.maxMetrics) return `too many metrics (${count} > ${limits.maxMetrics})`;
  for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) {
    const m = block.metric[v];
    const reason = check("m", m, (s) => checkMetricName(s, limits)) ??
      checkValue(block.strings[m], block.value[v]);
    if (reason !== null) return reason;
    for (let w = block.metricStart[row]; w < v; w++) {
      if (block.metric[w] === m) return `metric "${block.strings[m]}" appears twice`;
    }
  }
  return null;
}
