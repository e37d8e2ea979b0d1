import { assertEquals } from "../../../tests/testing/assert.ts";
import { prefixSums } from "../../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";
import { filterValidReadings } from "./filter.ts";
import { DEFAULT_READING_LIMITS } from "./limits.ts";

/** One reading of sensor "s1" whose metrics are the given string-table indexes. */
function oneReading(strings: string[], metrics: number[]): ReadingBlock {
  const metricCount = Uint8Array.of(metrics.length);
  return {
    length: 1,
    strings,
    sensor: Uint32Array.of(0),
    group: Uint32Array.of(strings.indexOf("")),
    status: Uint32Array.of(strings.indexOf("")),
    timeMs: Float64Array.of(1_700_000_000_000),
    metricCount,
    metricStart: prefixSums(metricCount),
    metric: Uint32Array.from(metrics),
    value: Float64Array.from(metrics, (_, i) => 10 ** i),
  };
}

Deno.test("a metric named twice is refused whether the batch lists its name once or under two string indexes", () => {
  const nowMs = 1_700_000_001_000;
  const once = oneReading(["s1", "", "temperature"], [2, 2]);
  const twice = oneReading(["s1", "", "temperature", "temperature"], [2, 3]);
  for (const block of [once, twice]) {
    const { block: kept, refused } = filterValidReadings(block, DEFAULT_READING_LIMITS, nowMs);
    assertEquals(kept.length, 0);
    assertEquals(refused, [{ index: 0, reason: 'metric "temperature" appears twice' }]);
  }
  const distinct = oneReading(["s1", "", "temperature", "humidity"], [2, 3]);
  const { block: kept, refused } = filterValidReadings(distinct, DEFAULT_READING_LIMITS, nowMs);
  assertEquals([kept.length, refused.length], [1, 0]);
});
