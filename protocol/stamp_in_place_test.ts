import fc from "fast-check";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import {
  decodeIngestBatch,
  encodeReadingBlock,
  STAMP_BYTES,
  stampIngestBatch,
  stampIngestBatchInPlace,
} from "./ingest_codec.ts";
import { blockFromReadings } from "./reading_block.ts";

const reading = fc.record({
  sensorId: fc.string({ minLength: 1, maxLength: 20 }),
  group: fc.constantFrom("", "plant-a/line-1", "b"),
  timeMs: fc.double({ noNaN: true, min: 0, max: 4e12 }),
  values: fc.dictionary(
    fc.constantFrom("t", "h", "p"),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
  ),
});

/** `body` in a fresh buffer behind `room` free bytes, as ingest reads a body with headroom. */
function withRoom(body: Uint8Array, room: number): Uint8Array<ArrayBuffer> {
  const buffer = new Uint8Array(room + body.byteLength).fill(0xee);
  buffer.set(body, room);
  return buffer.subarray(room);
}

Deno.test("a batch stamped in its room has the bytes of one stamped by copy, and the batch's own bytes are untouched", () => {
  fc.assert(
    fc.property(
      fc.array(reading, { maxLength: 40 }),
      fc.option(fc.string({ maxLength: 10 })),
      fc.double({ min: 1, max: 4e12, noNaN: true }),
      (readings, batchId, acceptedMs) => {
        const body = encodeReadingBlock(blockFromReadings(readings), batchId ?? undefined);
        const roomy = withRoom(body, STAMP_BYTES);
        const decoded = decodeIngestBatch(roomy, { stampRoom: true });
        assertEquals(decoded.block.stampRoom, true);
        const copied = stampIngestBatch(body, acceptedMs);
        const inPlace = stampIngestBatchInPlace(roomy, acceptedMs);
        assertEquals(inPlace.byteLength, inPlace.buffer.byteLength);
        assertEquals([...inPlace], [...copied]);
        assertEquals([...roomy], [...body]);
        assertEquals(decodeIngestBatch(inPlace).acceptedMs, acceptedMs);
      },
    ),
  );
});

Deno.test("a body without exactly the stamp's room before it and nothing after is not marked for stamping in place", () => {
  const body = encodeReadingBlock(
    blockFromReadings([{ sensorId: "s-1", timeMs: 1, values: { t: 1 } }]),
  );
  // No room asked, too little room, more room, bytes after it: each is left alone.
  assertEquals(decodeIngestBatch(withRoom(body, STAMP_BYTES)).block.stampRoom, undefined);
  assertEquals(
    decodeIngestBatch(withRoom(body, STAMP_BYTES - 8), { stampRoom: true }).block.stampRoom,
    undefined,
  );
  assertEquals(
    decodeIngestBatch(withRoom(body, STAMP_BYTES + 8), { stampRoom: true }).block.stampRoom,
    undefined,
  );
  const trailing = new Uint8Array(STAMP_BYTES + body.byteLength + 8);
  trailing.set(body, STAMP_BYTES);
  const view = trailing.subarray(STAMP_BYTES, STAMP_BYTES + body.byteLength);
  assertEquals(decodeIngestBatch(view, { stampRoom: true }).block.stampRoom, undefined);
  let threw = false;
  try {
    stampIngestBatchInPlace(view, 1);
  } catch (error) {
    threw = error instanceof RangeError;
  }
  assert(threw, "stamping without room must throw");
});
