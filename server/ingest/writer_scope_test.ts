import { assertEquals } from "../../tests/testing/assert.ts";
import { withinScope } from "./writer_scope.ts";
import { batchIndexes } from "./idempotent_ingest.ts";
import { parseJsonReadings } from "./readings/mod.ts";
import { DEFAULT_READING_LIMITS } from "./readings/mod.ts";

const NOW = 1_800_000_000_000;

Deno.test("a key's scope refuses other groups' readings by their index in the batch", () => {
  // Batch indexes 0..5; reading 1 is invalid (no sensorId), so the block holds 0, 2, 3, 4, 5.
  const docs = [
    { sensorId: "s0", group: "plant-a/line-1", timestamp: NOW, reading: { t: 0 } },
    { group: "plant-a", timestamp: NOW, reading: { t: 1 } },
    { sensorId: "s2", group: "plant-b", timestamp: NOW, reading: { t: 2 } },
    { sensorId: "s3", group: "plant-a", timestamp: NOW, reading: { t: 3 } },
    { sensorId: "s4", timestamp: NOW, reading: { t: 4 } }, // the default group
    { sensorId: "s5", group: "plant-ab", timestamp: NOW, reading: { t: 5 } }, // not under plant-a
  ];
  const parsed = parseJsonReadings(docs, DEFAULT_READING_LIMITS, NOW);
  const scoped = withinScope(parsed, { id: "k", name: "k", groups: ["plant-a"] });
  assertEquals(scoped.refused.map((r) => r.index), [1, 2, 4, 5]);
  assertEquals(scoped.refused[1].reason, 'group "plant-b" is not allowed for this key');
  assertEquals(scoped.refused[2].reason, 'group "default" is not allowed for this key');
  const kept = scoped.block;
  assertEquals(
    Array.from({ length: kept.length }, (_, i) => kept.strings[kept.sensor[i]]),
    ["s0", "s3"],
  );
  // A key for every group keeps the batch as it was.
  assertEquals(withinScope(parsed, { id: "k", name: "k", groups: ["*"] }), parsed);
});

Deno.test("batch indexes of accepted readings skip the refused ones", () => {
  const refused = [{ index: 0, reason: "x" }, { index: 2, reason: "x" }, { index: 3, reason: "x" }];
  // A batch of 7: 0, 2 and 3 refused, so the 4 accepted are 1, 4, 5, 6.
  assertEquals(Array.from(batchIndexes(4, refused)), [1, 4, 5, 6]);
  assertEquals(Array.from(batchIndexes(3, [])), [0, 1, 2]);
});
