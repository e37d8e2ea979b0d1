import { assert, assertEquals } from "../../tests/testing/assert.ts";
import {
  decodeIngestBatch,
  encodeReadingBlock,
  STAMP_BYTES,
  stampIngestBatch,
} from "../../protocol/ingest_codec.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { Chunker } from "./chunker.ts";

Deno.test("a block stamped in its room leaves the chunker without the room: chunking it again copies and keeps the first chunk's bytes", () => {
  const readings: {
    sensorId: string;
    group: string;
    timeMs: number;
    values: Record<string, number>;
  }[] = [
    { sensorId: "s-1", group: "g", timeMs: 1_000, values: { t: 21.5 } },
    { sensorId: "s-2", group: "g", timeMs: 1_001, values: { t: 22.5, h: 40 } },
  ];
  const body = encodeReadingBlock(blockFromReadings(readings));
  const buffer = new Uint8Array(STAMP_BYTES + body.byteLength);
  buffer.set(body, STAMP_BYTES);
  const { block } = decodeIngestBatch(buffer.subarray(STAMP_BYTES), { stampRoom: true });
  assert(block.stampRoom);

  const first = new Chunker({ maxBytes: 60_000, acceptedMs: 5_000 });
  first.add(block);
  const [chunk] = first.finishChunks();
  assertEquals(chunk.bytes, stampIngestBatch(body, 5_000));
  assertEquals(chunk.block.stampRoom, undefined);

  const kept = chunk.bytes.slice();
  const again = new Chunker({ maxBytes: 60_000, acceptedMs: 9_000 });
  again.add(chunk.block);
  const [second] = again.finishChunks();
  assertEquals(second.bytes, stampIngestBatch(body, 9_000));
  assertEquals(chunk.bytes, kept);
});
