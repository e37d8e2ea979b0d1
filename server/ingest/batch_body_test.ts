import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { decodeBatchBody } from "./batch_body.ts";
import { DEFAULT_READING_LIMITS } from "./readings/mod.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { encodeReadingBlock } from "../../protocol/ingest_codec.ts";

const options = { limits: DEFAULT_READING_LIMITS, maxBatchReadings: 3 };
const NOW = 1_800_000_000_000;
const bytes = (text: string) => new TextEncoder().encode(text);

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

Deno.test("a JSON body is an array or { readings }, parsed against the clock it is checked by", () => {
  const docs = [
    { sensorId: "a", timestamp: NOW, reading: { t: 1 } },
    { sensorId: "b", timestamp: NOW + 60_000, reading: { t: 2 } }, // a minute ahead
  ];
  for (const body of [JSON.stringify(docs), JSON.stringify({ readings: docs })]) {
    const batch = decodeBatchBody(bytes(body), "json", options);
    assertEquals(batch.batchId, null);
    const now = batch.readings(NOW);
    assertEquals([now.block.length, now.refused.map((r) => r.index)], [1, [1]]);
    // A minute later the second is no longer in the future.
    assertEquals(batch.readings(NOW + 60_000).block.length, 2);
  }
});

Deno.test("a JSON body that is no batch is refused with the error class its status follows", () => {
  const cases: [Uint8Array, string, RegExp][] = [
    [new Uint8Array([0x5b, 0xff, 0x5d]), "TypeError", /not valid UTF-8/],
    [bytes("[{"), "SyntaxError", /not valid JSON/],
    [bytes('{"rows": []}'), "TypeError", /JSON array of readings/],
    [bytes("[{}, {}, {}, {}]"), "RangeError", /holds 4 readings, more than the limit of 3/],
    // Told from the bytes before parsing (the limit of 3 readings allows 64 × 3 + 64 values).
    [bytes(`[${"1,".repeat(256)}1]`), "RangeError", /holds more than 256 JSON values/],
    [bytes("[".repeat(33) + "]".repeat(33)), "RangeError", /deeper than 32 levels/],
  ];
  for (const [body, name, message] of cases) {
    const error = thrown(() => decodeBatchBody(body, "json", options).readings(NOW));
    assertEquals(error.name, name);
    assert(message.test(error.message), error.message);
  }
});

Deno.test("a FlatBuffers body is decoded at once, with its batch id, and validated by the clock", () => {
  const block = blockFromReadings([
    { sensorId: "a", timeMs: NOW, values: { t: 1 } },
    { sensorId: "b", timeMs: NOW + 60_000, values: { t: 2 } },
  ]);
  const batch = decodeBatchBody(encodeReadingBlock(block, "gw-1/42"), "flatbuffers", options);
  assertEquals(batch.batchId, "gw-1/42");
  assertEquals(batch.readings(NOW).refused.map((r) => r.index), [1]);
  assertEquals(batch.readings(NOW + 60_000).refused, []);
  const error = thrown(() => decodeBatchBody(bytes("not flatbuffers"), "flatbuffers", options));
  assertEquals(error.name, "TypeError");
});
