import fc from "fast-check";
import * as flatbuffers from "flatbuffers";
import { IngestBatch } from "./schema_generated.ts";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import {
  decodeIngestBatch,
  encodeReadingBlock,
  STAMP_BYTES,
  stampIngestBatch,
} from "./ingest_codec.ts";
import { IngestBatchWriter } from "./ingest_batch_writer.ts";
import { blockFromReadings, ReadingBlockBuilder } from "./reading_block.ts";
import { Buffer } from "node:buffer";
import type { ReadingBlock } from "./reading_block.ts";

const reading = fc.record({
  sensor: fc.string({ maxLength: 20 }),
  group: fc.constantFrom("", "plant-a/line-1", "b"),
  time: fc.double({ noNaN: true, min: 0, max: 4e12 }),
  values: fc.array(
    fc.tuple(fc.constantFrom("t", "h", "p", "ünïcode"), fc.double({ noNaN: true })),
    { maxLength: 5 },
  ),
});

interface Row {
  sensor: string;
  group: string;
  time: number;
  values: [string, number][];
}

function build(readings: Row[]): ReadingBlock {
  const builder = new ReadingBlockBuilder();
  for (const r of readings) {
    builder.begin(r.sensor, r.group, r.time, "ok");
    for (const [name, value] of r.values) builder.addValue(name, value);
  }
  return builder.build();
}

/** The readings of a block as plain rows, resolved through its own strings. */
function rows(block: ReadingBlock) {
  return Array.from({ length: block.length }, (_, i) => ({
    sensor: block.strings[block.sensor[i]],
    group: block.strings[block.group[i]],
    status: block.strings[block.status[i]],
    time: block.timeMs[i],
    values: Array.from(
      { length: block.metricCount[i] },
      (
        _,
        k,
      ) => [
        block.strings[block.metric[block.metricStart[i] + k]],
        block.value[block.metricStart[i] + k],
      ],
    ),
  }));
}

Deno.test("IngestBatch round trip gives back every reading, for any readings", () => {
  fc.assert(
    fc.property(
      fc.array(reading, { maxLength: 50 }),
      fc.option(fc.string()),
      (readings, batchId) => {
        const block = build(readings);
        const decoded = decodeIngestBatch(encodeReadingBlock(block, batchId ?? undefined));
        assertEquals(rows(decoded.block), rows(block));
        assertEquals(decoded.batchId, batchId ?? null);
      },
    ),
  );
});

Deno.test("IngestBatch round trip keeps every string, ASCII or not (ASCII is written without TextEncoder)", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: "grapheme", maxLength: 10 })),
        {
          maxLength: 30,
        },
      ),
      (ids) => {
        const block = build(
          ids.map((sensor) => ({ sensor, group: "g", time: 1, values: [["t", 2]] })),
        );
        const decoded = decodeIngestBatch(encodeReadingBlock(block)).block;
        assertEquals(rows(decoded).map((r) => r.sensor), ids);
        // Every string came back as valid UTF-8: the fallback encodes what is not ASCII.
        assertEquals(decoded.notUtf8 ?? [], []);
      },
    ),
  );
});

Deno.test("a misaligned buffer still decodes", () => {
  const bytes = encodeReadingBlock(
    build([{ sensor: "s", group: "", time: 5, values: [["t", 1.5]] }]),
  );
  const shifted = new Uint8Array(bytes.length + 1).subarray(1);
  shifted.set(bytes);
  assertEquals(rows(decodeIngestBatch(shifted).block), [{
    sensor: "s",
    group: "",
    status: "ok",
    time: 5,
    values: [["t", 1.5]],
  }]);
});

Deno.test("truncated, bit-flipped and random buffers throw TypeError or decode consistently, never anything else", () => {
  const valid = encodeReadingBlock(
    build(
      Array.from(
        { length: 20 },
        (_, i) => ({ sensor: `s${i}`, group: "g", time: i, values: [["t", i], ["h", -i]] }),
      ),
    ),
  );
  let state = 99;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const candidates: Uint8Array[] = [];
  for (let n = 0; n < valid.length; n++) candidates.push(valid.slice(0, n));
  for (let i = 0; i < 20_000; i++) {
    const mutated = valid.slice();
    const flips = 1 + Math.floor(random() * 4);
    for (let f = 0; f < flips; f++) {
      mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
    }
    candidates.push(mutated);
  }
  for (let i = 0; i < 2_000; i++) {
    candidates.push(
      Uint8Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)),
    );
  }
  let decoded = 0;
  for (const bytes of candidates) {
    try {
      const { block } = decodeIngestBatch(bytes);
      // Whatever decodes is internally consistent: every index within the string table.
      for (const column of [block.sensor, block.group, block.status, block.metric]) {
        for (const index of column) assert(index < block.strings.length);
      }
      assertEquals(block.metricStart[block.length], block.metric.length);
      assertEquals(block.value.length, block.metric.length);
      assertEquals(block.timeMs.length, block.length);
      decoded++;
    } catch (error) {
      assert(
        error instanceof TypeError,
        `unexpected ${(error as Error).name}: ${(error as Error).message}`,
      );
    }
  }
  assert(decoded > 0 && decoded < candidates.length, `${decoded} of ${candidates.length} decoded`);
});

Deno.test("structural faults are refused for the whole batch with a reason", () => {
  const block = build([{ sensor: "s", group: "g", time: 1, values: [["t", 1]] }]);
  const bad = (patch: Partial<ReadingBlock>, pattern: RegExp) => {
    try {
      decodeIngestBatch(encodeReadingBlock({ ...block, ...patch }));
      throw new Error("accepted");
    } catch (error) {
      assert(error instanceof TypeError && pattern.test(error.message), (error as Error).message);
    }
  };
  bad({ sensor: new Uint32Array([0, 0]) }, /time_ms has 1 entries for 2 readings|group has/);
  bad({ sensor: new Uint32Array([99]) }, /sensor index 99 .* past the string table/);
  bad({ metricCount: new Uint8Array([2]) }, /metric_count sums to 2/);
  try {
    decodeIngestBatch(
      encodeReadingBlock(
        build(Array.from({ length: 5 }, () => ({ sensor: "s", group: "", time: 1, values: [] }))),
      ),
      {
        maxReadings: 4,
      },
    );
    throw new Error("accepted");
  } catch (error) {
    assert(error instanceof RangeError, String(error));
  }
});

Deno.test("a batch_id longer than maxBatchIdBytes is refused; without the bound (log chunks) it decodes", () => {
  const block = build([{ sensor: "s", group: "g", time: 1, values: [["t", 1]] }]);
  const id = "é".repeat(64); // 64 characters, 128 bytes
  assertEquals(
    decodeIngestBatch(encodeReadingBlock(block, id), { maxBatchIdBytes: 128 }).batchId,
    id,
  );
  const longer = encodeReadingBlock(block, `${id}x`);
  assertEquals(decodeIngestBatch(longer).batchId, `${id}x`);
  try {
    decodeIngestBatch(longer, { maxBatchIdBytes: 128 });
    throw new Error("accepted");
  } catch (error) {
    assert(
      error instanceof TypeError && /batch_id of 129 bytes/.test(error.message),
      String(error),
    );
  }
});

Deno.test("a batch handed over as a Node Buffer at an unaligned offset (an MQTT payload) decodes like its bytes", () => {
  const bytes = encodeReadingBlock(blockFromReadings([
    { sensorId: "s1", group: "g", timeMs: 1_700_000_000_000, values: { t: 1.5 } },
  ]));
  // A Buffer whose slice() is a view, not a copy: at offset 3 in a larger pool, as aedes hands payloads over.
  const pool = Buffer.alloc(bytes.byteLength + 8);
  pool.set(bytes, 3);
  const payload = pool.subarray(3, 3 + bytes.byteLength);
  assertEquals(payload.byteOffset % 4, 3);
  const { block } = decodeIngestBatch(payload);
  assertEquals([block.length, block.strings[block.sensor[0]], block.value[0]], [1, "s1", 1.5]);
});

Deno.test("a string table whose entries alias one string is refused before any is decoded", () => {
  // 20,000 entries pointing at one 400 KB string: a 490 KB body that decoded to 4.4 GB.
  const b = new flatbuffers.Builder(1024);
  const shared = b.createString("é".repeat(200 * 1024));
  const strings = IngestBatch.createStringsVector(b, Array(20_000).fill(shared));
  IngestBatch.startIngestBatch(b);
  IngestBatch.addStrings(b, strings);
  b.finish(IngestBatch.endIngestBatch(b));
  let refused = "";
  try {
    decodeIngestBatch(b.asUint8Array().slice(), { maxReadings: 10_000 });
  } catch (error) {
    assert(error instanceof TypeError, String(error));
    refused = error.message;
  }
  assert(/strings of more than \d+ bytes in all/.test(refused), refused);
  // Every string written once, however long, decodes.
  const long = "é".repeat(20_000);
  const block = blockFromReadings([{ sensorId: "s", group: long, timeMs: 1, values: { t: 1 } }]);
  assertEquals(decodeIngestBatch(encodeReadingBlock(block)).block.strings.includes(long), true);
});

Deno.test("a stamped batch decodes to the same readings and batch id, with its accepted_ms, for any readings", () => {
  fc.assert(
    fc.property(
      fc.array(reading, { maxLength: 50 }),
      fc.option(fc.string()),
      fc.double({ min: 1, max: 4e12, noNaN: true }),
      fc.option(fc.double({ min: 1, max: 4e12, noNaN: true })),
      (readings, batchId, acceptedMs, sent) => {
        const block = build(readings);
        // What a client sends (its accepted_ms, if any, is not the server's).
        const body = encodeReadingBlock(block, batchId ?? undefined, sent ?? undefined);
        const body8 = decodeIngestBatch(body);
        assertEquals(body8.acceptedMs, sent);
        assertEquals(body8.block.acceptedMs, undefined);
        const stamped = stampIngestBatch(body8.block.encoded!, acceptedMs);
        assertEquals(stamped.byteLength, body.byteLength + STAMP_BYTES);
        const decoded = decodeIngestBatch(stamped);
        assertEquals(rows(decoded.block), rows(block));
        assertEquals(decoded.batchId, batchId ?? null);
        assertEquals(decoded.acceptedMs, acceptedMs);
        // Stamped again (a chunk's bytes are never, but the layout allows it).
        assertEquals(
          decodeIngestBatch(stampIngestBatch(stamped, acceptedMs + 1)).acceptedMs,
          acceptedMs + 1,
        );
      },
    ),
  );
});

Deno.test("a stamped batch without its optional columns (a client's body) decodes; an unstamped one has no accepted_ms", () => {
  const writer = new IngestBatchWriter();
  writer.add("s1", "", 1_700_000_000_000, ["t", "h"], [1.5, 2]);
  writer.add("s2", "", 1_700_000_000_001, [], []);
  const body = writer.finish();
  const plain = decodeIngestBatch(body);
  assertEquals(plain.acceptedMs, null);
  const stamped = decodeIngestBatch(stampIngestBatch(plain.block.encoded!, 1_700_000_000_500));
  assertEquals(rows(stamped.block), rows(plain.block));
  assertEquals(stamped.acceptedMs, 1_700_000_000_500);
  // Log chunks encoded again (cut to size) carry it too.
  assertEquals(decodeIngestBatch(encodeReadingBlock(plain.block, undefined, 42)).acceptedMs, 42);
  assertEquals(decodeIngestBatch(encodeReadingBlock(plain.block)).acceptedMs, null);
});
