import fc from "fast-check";
import * as flatbuffers from "flatbuffers";
import { assertEquals } from "../tests/testing/assert.ts";
import { IngestBatch } from "./schema_generated.ts";
import { encodeReadingBlock } from "./ingest_codec.ts";
import { prefixSums } from "./reading_block.ts";
import type { ReadingBlock } from "./reading_block.ts";

/** The chunk format as the generated code writes it, one element and one `createString` at a time. */
function generatedEncoding(block: ReadingBlock, batchId?: string, acceptedMs?: number): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const id = batchId === undefined ? 0 : b.createString(batchId);
  const strings = IngestBatch.createStringsVector(b, block.strings.map((s) => b.createString(s)));
  const sensor = IngestBatch.createSensorVector(b, Array.from(block.sensor));
  const group = IngestBatch.createGroupVector(b, Array.from(block.group));
  const status = IngestBatch.createStatusVector(b, Array.from(block.status));
  const timeMs = IngestBatch.createTimeMsVector(b, Array.from(block.timeMs));
  const metricCount = IngestBatch.createMetricCountVector(b, Array.from(block.metricCount));
  const metric = IngestBatch.createMetricVector(b, Array.from(block.metric));
  const value = IngestBatch.createValueVector(b, Array.from(block.value));
  IngestBatch.startIngestBatch(b);
  if (batchId !== undefined) IngestBatch.addBatchId(b, id);
  IngestBatch.addStrings(b, strings);
  IngestBatch.addSensor(b, sensor);
  IngestBatch.addGroup(b, group);
  IngestBatch.addStatus(b, status);
  IngestBatch.addTimeMs(b, timeMs);
  IngestBatch.addMetricCount(b, metricCount);
  IngestBatch.addMetric(b, metric);
  IngestBatch.addValue(b, value);
  if (acceptedMs !== undefined) IngestBatch.addAcceptedMs(b, acceptedMs);
  b.finish(IngestBatch.endIngestBatch(b), "PLSB");
  return b.asUint8Array().slice();
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constant(""),
);
const number = fc.oneof(
  fc.double(),
  fc.constantFrom(-0, NaN, Infinity, 1.5e300),
  fc.integer({ min: 0, max: 2 ** 53 }),
);

/** Blocks with any strings (ASCII, not, lone surrogates), indexes and values, columns of their own lengths. */
const blocks = fc.record({
  strings: fc.array(text, { minLength: 1, maxLength: 2_000 }),
  rows: fc.array(
    fc.record({
      sensor: fc.nat(),
      group: fc.nat(),
      status: fc.nat(),
      timeMs: number,
      metrics: fc.array(fc.tuple(fc.nat(), number), { maxLength: 5 }),
    }),
    { maxLength: 300 },
  ),
  // Indexes need not lie within the table here: the encoder copies them as they are.
  wide: fc.boolean(),
}).map(({ strings, rows, wide }): ReadingBlock => {
  const index = (n: number) => wide ? (n * 2654435761) >>> 0 : n % strings.length;
  const metricCount = Uint8Array.from(rows, (r) => r.metrics.length);
  return {
    length: rows.length,
    strings,
    sensor: Uint32Array.from(rows, (r) => index(r.sensor)),
    group: Uint32Array.from(rows, (r) => index(r.group)),
    status: Uint32Array.from(rows, (r) => index(r.status)),
    timeMs: Float64Array.from(rows, (r) => r.timeMs),
    metricCount,
    metricStart: prefixSums(metricCount),
    metric: Uint32Array.from(rows.flatMap((r) => r.metrics.map(([m]) => index(m)))),
    value: Float64Array.from(rows.flatMap((r) => r.metrics.map(([, v]) => v))),
  };
});

Deno.test("encodeReadingBlock writes the same bytes as the generated vector and string writers", () => {
  fc.assert(
    fc.property(
      blocks,
      fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
      fc.option(fc.double({ noNaN: true }), { nil: undefined }),
      (block, batchId, acceptedMs) => {
        assertEquals(
          Array.from(encodeReadingBlock(block, batchId, acceptedMs)),
          Array.from(generatedEncoding(block, batchId, acceptedMs)),
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("encodeReadingBlock writes the same bytes as the generated writers for columns that are views", () => {
  // Columns at odd places in bigger buffers (a decoded body's zero-copy views).
  const big = new ArrayBuffer(4096);
  const sensor = new Uint32Array(big, 4, 3);
  sensor.set([0, 1, 0xffffffff]);
  const timeMs = new Float64Array(big, 64, 3);
  timeMs.set([1, -0, 1.7e12]);
  const metricCount = new Uint8Array(big, 200, 3);
  metricCount.set([1, 0, 2]);
  const value = new Float64Array(big, 304, 3);
  value.set([Number.MIN_VALUE, -1e-300, 42]);
  const block: ReadingBlock = {
    length: 3,
    strings: ["s-1", "ü", "plant-a/line-1", "temperature", ""],
    sensor,
    group: new Uint32Array(big, 1024, 3).fill(2),
    status: new Uint32Array(big, 1040, 3).fill(4),
    timeMs,
    metricCount,
    metricStart: prefixSums(metricCount),
    metric: new Uint32Array(big, 2048, 3).fill(3),
    value,
  };
  assertEquals(
    Array.from(encodeReadingBlock(block, undefined, 1.7e12)),
    Array.from(generatedEncoding(block, undefined, 1.7e12)),
  );
});
