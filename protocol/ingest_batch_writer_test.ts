import * as flatbuffers from "flatbuffers";
import fc from "fast-check";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { IngestBatch } from "./schema_generated.ts";
import { IngestBatchWriter } from "./ingest_batch_writer.ts";
import { decodeIngestBatch } from "./ingest_codec.ts";

interface Reading {
  sensorId: string;
  group: string;
  timeMs: number;
  metrics: [string, number][];
  status: string;
}

/** Reads a batch back with only the generated accessors, into plain readings. */
function readBack(bytes: Uint8Array): { batchId: string | null; readings: Reading[] } {
  const bb = new flatbuffers.ByteBuffer(bytes);
  assert(bb.__has_identifier("PLSB"), "file identifier PLSB");
  const batch = IngestBatch.getRootAsIngestBatch(bb);
  const strings = Array.from({ length: batch.stringsLength() }, (_, i) => batch.strings(i));
  const n = batch.sensorLength();
  assertEquals(batch.timeMsLength(), n);
  assertEquals(batch.metricCountLength(), n);
  assertEquals(batch.metricLength(), batch.valueLength());
  // A missing group/status column means "" for every reading.
  const groupOf = (i: number) => batch.groupLength() ? strings[batch.group(i)!] : "";
  const statusOf = (i: number) => batch.statusLength() ? strings[batch.status(i)!] : "";
  const readings: Reading[] = [];
  let v = 0;
  for (let i = 0; i < n; i++) {
    const metrics: [string, number][] = [];
    for (let k = 0; k < batch.metricCount(i)!; k++, v++) {
      metrics.push([strings[batch.metric(v)!], batch.value(v)!]);
    }
    readings.push({
      sensorId: strings[batch.sensor(i)!],
      group: groupOf(i),
      timeMs: batch.timeMs(i)!,
      metrics,
      status: statusOf(i),
    });
  }
  assertEquals(v, batch.valueLength(), "metric_count sums to the value count");
  assertEquals(new Set(strings).size, strings.length, "each string is stored once");
  return { batchId: batch.batchId(), readings };
}

function write(writer: IngestBatchWriter, readings: Reading[], batchId?: string): Uint8Array {
  for (const r of readings) {
    writer.add(
      r.sensorId,
      r.group,
      r.timeMs,
      r.metrics.map(([name]) => name),
      r.metrics.map(([, value]) => value),
      r.status,
    );
  }
  assertEquals(writer.length, readings.length);
  return writer.finish(batchId);
}

// Any Unicode text that survives UTF-8 (no lone surrogates).
const text = fc.string({ unit: "grapheme", maxLength: 12 });

const reading: fc.Arbitrary<Reading> = fc.record({
  sensorId: fc.oneof(fc.constantFrom("sensor_1", "sensor_2", "sensor_3"), text),
  group: fc.oneof(fc.constantFrom("", "plant-a/line-1"), text),
  timeMs: fc.double(),
  metrics: fc.array(
    fc.tuple(fc.oneof(fc.constantFrom("temperature", "humidity"), text), fc.double()),
    { maxLength: 6 },
  ),
  status: fc.oneof(fc.constantFrom("", "ok"), text),
}).map((r) => ({ ...r })); // plain objects, to compare with what readBack builds

Deno.test("writer round trip: the generated reader returns exactly the readings added", () => {
  const writer = new IngestBatchWriter({ initialSize: 16 });
  fc.assert(
    fc.property(
      fc.array(fc.array(reading, { maxLength: 80 }), { minLength: 1, maxLength: 4 }),
      fc.option(text, { nil: undefined }),
      (batches, batchId) => {
        // One writer across all batches: nothing may leak from one into the next.
        for (const readings of batches) {
          const decoded = readBack(write(writer, readings, batchId));
          assertEquals(decoded.batchId, batchId ?? null);
          assertEquals(decoded.readings, readings);
          assertEquals(writer.length, 0);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("writer output passes the server's verifying decoder", () => {
  const writer = new IngestBatchWriter();
  fc.assert(
    fc.property(fc.array(reading, { maxLength: 50 }), (readings) => {
      const block = decodeIngestBatch(write(writer, readings, "b-1")).block;
      assertEquals(block.length, readings.length);
      for (let i = 0; i < readings.length; i++) {
        assertEquals(block.strings[block.sensor[i]], readings[i].sensorId);
        assertEquals(block.strings[block.group[i]], readings[i].group);
        assertEquals(block.strings[block.status[i]], readings[i].status);
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("a batch with no readings encodes and reads back empty", () => {
  const writer = new IngestBatchWriter();
  const bytes = writer.finish();
  assertEquals(readBack(bytes), { batchId: null, readings: [] });
  assertEquals(decodeIngestBatch(bytes).block.length, 0);
  assertEquals(readBack(writer.finish("empty")).batchId, "empty");
});

Deno.test("writer grows its columns past their first size and interns repeated strings", () => {
  const writer = new IngestBatchWriter({ initialSize: 64 });
  const names = ["temperature", "humidity", "pressure"];
  const values = new Float64Array(3);
  const expected: Reading[] = [];
  for (let i = 0; i < 5_000; i++) {
    values[0] = i / 10;
    values[1] = 50 - i / 100;
    values[2] = 1000 + i;
    const group = `plant-${"ab"[i % 2]}/line-${i % 3}`;
    writer.add(`sensor_${i % 700}`, group, 1_700_000_000_000 + i, names, values, "ok");
    expected.push({
      sensorId: `sensor_${i % 700}`,
      group,
      timeMs: 1_700_000_000_000 + i,
      metrics: [["temperature", i / 10], ["humidity", 50 - i / 100], ["pressure", 1000 + i]],
      status: "ok",
    });
  }
  assertEquals(writer.valueCount, 15_000);
  const bytes = writer.finish();
  const batch = IngestBatch.getRootAsIngestBatch(new flatbuffers.ByteBuffer(bytes));
  // 700 sensors + 6 groups + "ok" + 3 metric names.
  assertEquals(batch.stringsLength(), 700 + 6 + 1 + 3);
  assertEquals(readBack(bytes).readings, expected);
});

Deno.test("finish returns a copy that later batches do not overwrite", () => {
  const writer = new IngestBatchWriter();
  writer.add("sensor_a", "", 1, ["t"], [1]);
  const first = writer.finish();
  const snapshot = first.slice();
  writer.add("sensor_b", "g", 2, ["t", "h"], [2, 3], "warn");
  writer.finish();
  assertEquals(first, snapshot);
  assertEquals(readBack(first).readings, [
    { sensorId: "sensor_a", group: "", timeMs: 1, metrics: [["t", 1]], status: "" },
  ]);
});

Deno.test("writer refuses mismatched metric names and values, and more than 255 metrics", () => {
  const writer = new IngestBatchWriter();
  let message = "";
  try {
    writer.add("s", "", 0, ["a", "b"], [1]);
  } catch (error) {
    assert(error instanceof RangeError);
    message = error.message;
  }
  assertEquals(message, "Cannot add a reading: 2 metric names for 1 values");
  const many = Array.from({ length: 256 }, (_, i) => `m${i}`);
  let refused = false;
  try {
    writer.add("s", "", 0, many, new Float64Array(256));
  } catch (error) {
    refused = error instanceof RangeError;
  }
  assert(refused, "256 metrics are refused");
  assertEquals(writer.length, 0, "a refused reading is not half-added");
});
