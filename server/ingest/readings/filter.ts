import { ReadingBlockBuilder } from "../../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";
import { liveKeys } from "../../../protocol/known_strings.ts";
import { checkSensorId } from "../../../protocol/names.ts";
import type { ParsedReadings, Refusal } from "./json.ts";
import type { ReadingLimits } from "./limits.ts";
import {
  checkGroup,
  checkMetricName,
  checkNotFuture,
  checkStatus,
  checkTimeMs,
  checkValue,
} from "./validate.ts";

/**
 * Checks each string of a block at most once for one role (sensor id, group, ...).
 * The rule is a module function called with the limits, not a closure made per
 * batch: a fresh closure each batch kept its call site polymorphic and its
 * code compiled again and again.
 */
class Verdicts {
  readonly #strings: readonly string[];
  readonly #check: (text: string, limits: ReadingLimits) => string | null;
  readonly #limits: ReadingLimits;
  readonly #reasons: (string | null | undefined)[];

  constructor(
    block: ReadingBlock,
    role: string,
    check: (text: string, limits: ReadingLimits) => string | null,
    limits: ReadingLimits,
  ) {
    this.#strings = block.strings;
    this.#check = check;
    this.#limits = limits;
    this.#reasons = new Array(block.strings.length);
    // Its text holds U+FFFD where the bytes were: judging it would judge other text.
    for (const index of block.notUtf8 ?? []) {
      this.#reasons[index] = `${role} is not valid UTF-8`;
    }
  }

  reason(index: number): string | null {
    let reason = this.#reasons[index];
    if (reason === undefined) {
      reason = this.#reasons[index] = this.#check(this.#strings[index], this.#limits);
    }
    return reason;
  }

  /** Whether string `index` passes (its verdict worked out once). */
  ok(index: number): boolean {
    return this.reason(index) === null;
  }
}

/** A sensor id's mark in the decoder's table (`KnownStrings.marks`): well formed but for its length… */
const WELL_FORMED = 1;
/** … or not, whatever the length limit. */
const MALFORMED = 2;
/** A length limit no id reaches: the check of what an id holds, without its length. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** `SensorIdVerdicts` per string: not judged yet, good, refused, not UTF-8. */
const UNJUDGED = 0, GOOD = 1, REFUSED = 2, NOT_UTF8 = 3;

/**
 * Whether each string of a block is a good sensor id, worked out once per
 * string and, for the ids the decoder's table knows, once for as long as the
 * table holds them (the verdict but for the length limit is kept in its
 * `marks`): a fleet's ids come batch after batch, each in one reading or a
 * few, so judging them per batch was judging them per reading.
 */
class SensorIdVerdicts {
  readonly #strings: readonly string[];
  readonly #maxLength: number;
  readonly #keys: Int32Array | undefined;
  readonly #marks: Uint8Array | undefined;
  readonly #verdict: Uint8Array;

  constructor(block: ReadingBlock, limits: ReadingLimits) {
    this.#strings = block.strings;
    this.#maxLength = limits.maxSensorIdLength;
    this.#keys = liveKeys(block.known);
    this.#marks = block.known?.table.marks;
    this.#verdict = new Uint8Array(block.strings.length);
    // Its text holds U+FFFD where the bytes were: judging it would judge other text.
    for (const index of block.notUtf8 ?? []) this.#verdict[index] = NOT_UTF8;
  }

  ok(index: number): boolean {
    const verdict = this.#verdict[index];
    if (verdict !== UNJUDGED) return verdict === GOOD;
    const id = this.#strings[index];
    const key = this.#keys === undefined ? -1 : this.#keys[index];
    let good: boolean;
    if (key >= 0) {
      const marks = this.#marks!;
      if (marks[key] === 0) {
        marks[key] = checkSensorId(id, UNBOUNDED) === null ? WELL_FORMED : MALFORMED;
      }
      // Well formed: only its length can refuse it.
      good = marks[key] === WELL_FORMED && id.length <= this.#maxLength;
    } else {
      good = checkSensorId(id, this.#maxLength) === null;
    }
    this.#verdict[index] = good ? GOOD : REFUSED;
    return good;
  }

  reason(index: number): string | null {
    if (this.ok(index)) return null;
    return this.#verdict[index] === NOT_UTF8
      ? "sensorId is not valid UTF-8"
      : checkSensorId(this.#strings[index], this.#maxLength);
  }
}

/** Largest time a JS Date can hold (`checkTimeMs`). */
const MAX_TIME_MS = 8.64e15;

/**
 * Validates every reading of a decoded binary batch and keeps the good ones.
 * Each distinct string is checked once per role (a known sensor id once for
 * as long as the decoder's table holds it), and a row is first checked in one
 * pass over the columns with no reason made; only a row that fails it is
 * judged again for its reason. Returns the input block itself when nothing
 * was refused.
 */
export function filterValidReadings(
  block: ReadingBlock,
  limits: ReadingLimits,
  nowMs: number = Date.now(),
): {
  block: ReadingBlock;
  refused: Refusal[];
} {
  const sensors = new SensorIdVerdicts(block, limits);
  const groups = new Verdicts(block, "group", checkGroup, limits);
  const statuses = new Verdicts(block, "status", checkStatus, limits);
  const metrics = new Verdicts(block, "metric name", checkMetricName, limits);
  const reasonFor = (i: number) =>
    sensors.reason(block.sensor[i]) ?? groups.reason(block.group[i]) ??
      statuses.reason(block.status[i]) ?? checkTimeMs(block.timeMs[i]) ??
      checkNotFuture(block.timeMs[i], limits, nowMs) ?? checkValues(block, i, limits, metrics);
  const { sensor, group, status, timeMs, metricCount, metricStart, metric, value, strings } = block;
  const { maxFutureMs, maxMetrics } = limits;
  const refused: Refusal[] = [];
  for (let i = 0; i < block.length; i++) {
    // The checks of `reasonFor` as plain tests: a row passing them all has no reason.
    const t = timeMs[i];
    let clean = sensors.ok(sensor[i]) && groups.ok(group[i]) && statuses.ok(status[i]) &&
      t >= 0 && t <= MAX_TIME_MS && t - nowMs <= maxFutureMs &&
      metricCount[i] !== 0 && metricCount[i] <= maxMetrics;
    const start = metricStart[i], end = metricStart[i + 1];
    for (let v = start; clean && v < end; v++) {
      const m = metric[v];
      clean = metrics.ok(m) && value[v] - value[v] === 0;
      for (let w = start; clean && w < v; w++) {
        clean = metric[w] !== m && strings[metric[w]] !== strings[m];
      }
    }
    if (clean) continue;
    const reason = reasonFor(i);
    if (reason !== null) refused.push({ index: i, reason });
  }
  return keepRefused(block, refused);
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
  return keepRefused(block, refused);
}

/** The block without the `refused` rows (in row order): itself when there are none, else a copy. */
function keepRefused(
  block: ReadingBlock,
  refused: Refusal[],
): { block: ReadingBlock; refused: Refusal[] } {
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
