import fc from "fast-check";
import { assertEquals } from "../tests/testing/assert.ts";
import { prefixSums, sliceRows } from "./reading_block.ts";
import type { ReadingBlock } from "./reading_block.ts";

/**
 * A block over a string table that may list one text twice and strings no row
 * uses, with rows that may share any string in any role.
 */
const blocks = fc.record({
  strings: fc.array(fc.constantFrom("", "a", "b", "ok", "plant-a", "t", "h", "x"), {
    minLength: 1,
    maxLength: 12,
  }),
  rows: fc.array(
    fc.record({
      sensor: fc.nat(),
      group: fc.nat(),
      status: fc.nat(),
      metrics: fc.array(fc.nat(), { maxLength: 4 }),
    }),
    { minLength: 1, maxLength: 40 },
  ),
}).map(({ strings, rows }): ReadingBlock => {
  const at = (n: number) => n % strings.length;
  const metricCount = Uint8Array.from(rows, (r) => r.metrics.length);
  return {
    length: rows.length,
    strings,
    sensor: Uint32Array.from(rows, (r) => at(r.sensor)),
    group: Uint32Array.from(rows, (r) => at(r.group)),
    status: Uint32Array.from(rows, (r) => at(r.status)),
    timeMs: Float64Array.from(rows, (_, i) => 1_000 + i),
    metricCount,
    metricStart: prefixSums(metricCount),
    metric: Uint32Array.from(rows.flatMap((r) => r.metrics.map(at))),
    value: Float64Array.from(rows.flatMap((r, i) => r.metrics.map((_, k) => i * 10 + k))),
  };
});

/**
 * The indexes a slice's strings must have for its chunk to be the log's bytes:
 * the source's string indexes in order of first use, row by row (sensor, group,
 * status, then each metric), each index once.
 */
function firstUse(block: ReadingBlock, from: number, to: number): number[] {
  const order: number[] = [];
  const seen = new Set<number>();
  const use = (index: number) => {
    if (!seen.has(index)) seen.add(index), order.push(index);
  };
  for (let row = from; row < to; row++) {
    use(block.sensor[row]);
    use(block.group[row]);
    use(block.status[row]);
    for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) use(block.metric[v]);
  }
  return order;
}

Deno.test("sliceRows numbers the strings in order of first use, row by row, and each column points at the same text", () => {
  fc.assert(
    fc.property(blocks, fc.nat(), fc.nat(), (block, a, b) => {
      const from = a % (block.length + 1);
      const to = from + (b % (block.length - from + 1));
      const slice = sliceRows(block, from, to);
      const order = firstUse(block, from, to);
      assertEquals(slice.strings, order.map((index) => block.strings[index]));
      // Each reference is the position of its source index in that order.
      const position = new Map(order.map((index, k) => [index, k]));
      const expect = (column: Uint32Array, start: number, end: number) =>
        Array.from(column.subarray(start, end), (index) => position.get(index));
      assertEquals(Array.from(slice.sensor), expect(block.sensor, from, to));
      assertEquals(Array.from(slice.group), expect(block.group, from, to));
      assertEquals(Array.from(slice.status), expect(block.status, from, to));
      const first = block.metricStart[from], last = block.metricStart[to];
      assertEquals(Array.from(slice.metric), expect(block.metric, first, last));
      assertEquals(Array.from(slice.value), Array.from(block.value.subarray(first, last)));
      assertEquals(Array.from(slice.metricCount), Array.from(block.metricCount.subarray(from, to)));
      assertEquals(slice.length, to - from);
    }),
    { numRuns: 500 },
  );
});
