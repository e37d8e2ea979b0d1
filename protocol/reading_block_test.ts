import fc from "fast-check";
import { assertEquals } from "../tests/testing/assert.ts";
import { blockFromReadings, sliceRows } from "./reading_block.ts";
import type { ReadingBlock } from "./reading_block.ts";

/** The readings a block holds, as plain objects (what any encoding must keep). */
function plain(block: ReadingBlock) {
  return Array.from({ length: block.length }, (_, i) => {
    const values: [string, number][] = [];
    for (let v = block.metricStart[i]; v < block.metricStart[i + 1]; v++) {
      values.push([block.strings[block.metric[v]], block.value[v]]);
    }
    return {
      sensorId: block.strings[block.sensor[i]],
      group: block.strings[block.group[i]],
      status: block.strings[block.status[i]],
      timeMs: block.timeMs[i],
      values,
    };
  });
}

const reading = fc.record({
  sensorId: fc.constantFrom("a", "b", "c", "d", "sensor_with_a_longer_id"),
  group: fc.constantFrom("", "plant-a", "plant-b/line-1"),
  status: fc.constantFrom("", "ok", "warn"),
  timeMs: fc.integer({ min: 0, max: 2 ** 42 }),
  values: fc.dictionary(
    fc.constantFrom("t", "h", "p", "v", "x"),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    { maxKeys: 5 },
  ),
});

Deno.test("sliceRows holds exactly the rows of its range, with only the strings they use", () => {
  fc.assert(
    fc.property(
      fc.array(reading, { minLength: 1, maxLength: 60 }),
      fc.nat(),
      fc.nat(),
      (rows, a, b) => {
        const block = blockFromReadings(rows);
        const from = a % (block.length + 1);
        const to = from + (b % (block.length - from + 1));
        const slice = sliceRows(block, from, to);
        assertEquals(plain(slice), plain(block).slice(from, to));
        // Every string is used, once: nothing from the rest of the block rides along.
        const used = new Set<number>([
          ...slice.sensor,
          ...slice.group,
          ...slice.status,
          ...slice.metric,
        ]);
        assertEquals(used.size, slice.strings.length);
        assertEquals(new Set(slice.strings).size, slice.strings.length);
        assertEquals(slice.metricStart[slice.length], slice.value.length);
      },
    ),
    { numRuns: 500 },
  );
});
