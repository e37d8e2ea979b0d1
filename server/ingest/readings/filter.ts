import { ReadingBlockBuilder } from "../../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";
import type { ParsedReadings, Refusal } from "./json.ts";
import type { ReadingLimits } from "./limits.ts";
import {
  checkGroup,
  checkMetricName,
  checkNotFuture,
  checkSensorId,
  checkStatus,
  checkTimeMs,
  checkValue,
} from "./validate.ts";

/** Checks each string of a block at most once for one role (sensor id, group, ...). */
class Verdicts {
  readonly #strings: readonly string[];
  readonly #check: (text: string) => string | null;
  readonly #reasons: (string | null | undefined)[];

  constructor(block: ReadingBlock, rule: { role: string; check: (text: string) => string | null }) {
    this.#strings = block.strings;
    this.#check = rule.check;
    this.#reasons = new Array(block.strings.length);
    // Its text holds U+FFFD where the bytes were: judging it would judge other text.
    for (const index of block.notUtf8 ?? []) {
      this.#reasons[index] = `${rule.role} is not valid UTF-8`;
    }
  }

  reason(index: number): string | null {
    let reason = this.#reasons[index];
    if (reason === undefined) reason = this.#reasons[index] = this.#check(this.#strings[index]);
    return reason;
  }
}

/**
 * Validates every reading of a decoded binary batch and keeps the good ones.
 * Each distinct string is checked once per role, so the cost per reading is a
 * few array reads. Returns the input block itself when nothing was refused.
 */
export function filterValidReadings(
  block: ReadingBlock,
  limits: ReadingLimits,
  nowMs: number = Date.now(),
): {
  block: ReadingBlock;
  refused: Refusal[];
} {
  const sensors = new Verdicts(block, {
    role: "sensorId",
    check: (s) => checkSensorId(s, limits),
  });
  const groups = new Verdicts(block, { role: "group", check: (s) => checkGroup(s, limits) });
  const statuses = new Verdicts(block, { role: "status", check: (s) => checkStatus(s, limits) });
  const metrics = new Verdicts(block, {
    role: "metric name",
    check: (s) => checkMetricName(s, limits),
  });
  return keepRows(block, (i) =>
    sensors.reason(block.sensor[i]) ?? groups.reason(block.group[i]) ??
      statuses.reason(block.status[i]) ?? checkTimeMs(block.timeMs[i]) ??
      checkNotFuture(block.timeMs[i], limits, nowMs) ?? checkValues(block, i, limits, metrics));
}

/**
 * Keeps the rows `reasonFor` has no objection to, and lists the others with
 * their reasons (by row). Returns the input block itself when nothing is
 * refused; otherwise copies the kept rows.
 */
export function keepRows(
  block: ReadingBlock,
  reasonFor: (row: number) => string | null,
): { block: ReadingBlock; refused: Refusal[] } {
  const refused: Refusal[] = [];
  for (let i = 0; i < block.length; i++) {
    const reason = reasonFor(i);
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

/**
 * Refuses more of a parsed batch's readings (`reasonFor` by row of its block)
 * and reports them with the earlier refusals, by their index in the batch:
 * the block's rows are the batch's readings minus those refused already.
 */
export function refuseFurther(
  parsed: ParsedReadings,
  reasonFor: (row: number) => string | null,
): ParsedReadings {
  const further = keepRows(parsed.block, reasonFor);
  if (further.refused.length === 0) return parsed;
  const earlier = new Set(parsed.refused.map((r) => r.index));
  const batchIndex: number[] = [];
  for (let i = 0; batchIndex.length < parsed.block.length; i++) {
    if (!earlier.has(i)) batchIndex.push(i);
  }
  const refused = [
    ...parsed.refused,
    ...further.refused.map((r) => ({ index: batchIndex[r.index], reason: r.reason })),
  ].sort((a, b) => a.index - b.index);
  return { block: further.block, refused };
}

function checkValues(
  block: ReadingBlock,
  row: number,
  limits: ReadingLimits,
  metrics: Verdicts,
): string | null {
  const count = block.metricCount[row];
  if (count === 0) return "reading has no metrics";
  if (count > limits.maxMetrics) return `too many metrics (${count} > ${limits.maxMetrics})`;
  const start = block.metricStart[row];
  for (let v = start; v < start + count; v++) {
    const m = block.metric[v];
    const reason = metrics.reason(m);
    if (reason !== null) return reason;
    if (!Number.isFinite(block.value[v])) return checkValue(block.strings[m], block.value[v]);
    // By text too: a FlatBuffers batch may list one name under two string indexes.
    for (let w = start; w < v; w++) {
      const other = block.metric[w];
      if (other === m || block.strings[other] === block.strings[m]) {
        return `metric "${block.strings[m]}" appears twice`;
      }
    }
  }
  return null;
}
