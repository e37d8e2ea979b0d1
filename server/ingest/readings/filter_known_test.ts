import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { decodeIngestBatch, encodeReadingBlock } from "../../../protocol/ingest_codec.ts";
import { ReadingBlockBuilder } from "../../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";
import { liveKeys } from "../../../protocol/known_strings.ts";
import { filterValidReadings } from "./filter.ts";
import { DEFAULT_READING_LIMITS } from "./limits.ts";
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

const NOW = 1_700_000_000_000;

interface Row {
  sensor: string;
  group: string;
  status: string;
  time: number;
  values: [string, number][];
}

const row = fc.record({
  sensor: fc.oneof(
    fc.constantFrom(
      "s1",
      "s2",
      "sensor_17",
      "ünï-1",
      "传感器",
      "",
      " s",
      ".",
      "a\u200bb",
      "x".repeat(40),
    ),
    fc.string({ maxLength: 12 }),
  ),
  group: fc.constantFrom("", "plant-a/line-1", "bad group"),
  status: fc.constantFrom("", "ok", "warn\u0007"),
  time: fc.oneof(
    fc.constantFrom(NOW, NOW + 10_000, NOW + 10_001, -1, 8.64e15 + 1, NaN, Infinity),
    fc.double({ min: 0, max: 2e12 }),
  ),
  values: fc.array(
    fc.tuple(
      fc.constantFrom("t", "h", "p", "9bad", "t"),
      fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, 1)),
    ),
    { maxLength: 5 },
  ),
});

function build(rows: Row[]): ReadingBlock {
  const builder = new ReadingBlockBuilder();
  for (const r of rows) {
    builder.begin(r.sensor, r.group, r.time, r.status);
    for (const [name, value] of r.values) builder.addValue(name, value);
  }
  return builder.build();
}

/** The reason a reading is refused, worked out from the rules alone, in their order. */
function modelReason(r: Row, limits: ReadingLimits): string | null {
  const metrics = (): string | null => {
    if (r.values.length === 0) return "reading has no metrics";
    if (r.values.length > limits.maxMetrics) {
      return `too many metrics (${r.values.length} > ${limits.maxMetrics})`;
    }
    for (let v = 0; v < r.values.length; v++) {
      const [name, value] = r.values[v];
      const problem = checkMetricName(name, limits) ?? checkValue(name, value);
      if (problem !== null) return problem;
      if (r.values.slice(0, v).some(([other]) => other === name)) {
        return `metric "${name}" appears twice`;
      }
    }
    return null;
  };
  return checkSensorId(r.sensor, limits) ?? checkGroup(r.group, limits) ??
    checkStatus(r.status, limits) ?? checkTimeMs(r.time) ??
    checkNotFuture(r.time, limits, NOW) ?? metrics();
}

Deno.test("readings decoded with the table's keys are refused and kept exactly as the rules say, whatever limits judged the same ids before", () => {
  const short = { ...DEFAULT_READING_LIMITS, maxSensorIdLength: 4, maxMetrics: 3 };
  fc.assert(
    fc.property(
      fc.array(row, { maxLength: 30 }),
      fc.array(fc.constantFrom(DEFAULT_READING_LIMITS, short), { minLength: 1, maxLength: 3 }),
      (rows, judges) => {
        const bytes = encodeReadingBlock(build(rows));
        // Each judgement decodes the batch again: the table's marks of the earlier ones are kept.
        for (const limits of judges) {
          const { block } = decodeIngestBatch(bytes);
          assert(liveKeys(block.known) !== undefined);
          const { block: kept, refused } = filterValidReadings(block, limits, NOW);
          const expected = rows.flatMap((r, index) => {
            const reason = modelReason(r, limits);
            return reason === null ? [] : [{ index, reason }];
          });
          assertEquals(refused, expected);
          const keptIds = Array.from(
            { length: kept.length },
            (_, i) => kept.strings[kept.sensor[i]],
          );
          const refusedAt = new Set(expected.map((r) => r.index));
          assertEquals(keptIds, rows.filter((_, i) => !refusedAt.has(i)).map((r) => r.sensor));
          if (expected.length === 0) assert(kept === block);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a sensor id whose bytes are not UTF-8 is refused as such, before and after its readable neighbours are known", () => {
  const bytes = encodeReadingBlock(build([
    { sensor: "s\u00e9", group: "", status: "", time: NOW, values: [["t", 1]] },
    { sensor: "s1", group: "", status: "", time: NOW, values: [["t", 1]] },
  ]));
  // "é" is C3 A9: make it C3 28, not UTF-8.
  const at = bytes.findIndex((b, i) => b === 0xc3 && bytes[i + 1] === 0xa9);
  bytes[at + 1] = 0x28;
  for (let k = 0; k < 2; k++) {
    const { block } = decodeIngestBatch(bytes);
    const { refused, block: kept } = filterValidReadings(block, DEFAULT_READING_LIMITS, NOW);
    assertEquals(refused, [{ index: 0, reason: "sensorId is not valid UTF-8" }]);
    assertEquals(kept.strings[kept.sensor[0]], "s1");
  }
});
