import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { parseJsonReadings } from "./json.ts";
import { filterValidReadings } from "./filter.ts";
import { ReadingBlockBuilder } from "../../../protocol/reading_block.ts";
import { DEFAULT_READING_LIMITS as limits } from "./limits.ts";
import { parseTimestamp } from "./validate.ts";
import { refusalKind } from "./refusal_kind.ts";

const good = {
  sensorId: "sensor_1",
  timestamp: "2026-11-22T10:00:00.250Z",
  reading: { temperature: 21.5 },
};

Deno.test("each bad JSON reading is refused with its index and a reason; batch-mates are kept", () => {
  const cases: [unknown, RegExp][] = [
    [{ ...good, sensorId: undefined }, /missing sensorId/],
    [{ ...good, sensorId: 17 }, /sensorId must be a string/],
    [{ ...good, sensorId: "x".repeat(129) }, /longer than 128/],
    [{ ...good, sensorId: "a\u0000b" }, /control character U\+0000/],
    [{ ...good, group: "plant a" }, /group "plant a"/],
    [{ ...good, group: "a//b" }, /group/],
    [{ ...good, timestamp: "yesterday" }, /ISO-8601/],
    [{ ...good, timestamp: "2026-11-22T10:00:00" }, /ISO-8601 with a zone/],
    [{ ...good, timestamp: -1 }, /before 1970/],
    [{ ...good, timestamp: undefined }, /missing timestamp/],
    [{ ...good, reading: { temperature: Infinity } }, /"temperature" is not a finite number/],
    [{ ...good, reading: { "bad name": 1 } }, /metric name "bad name"/],
    [
      { ...good, reading: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`m${i}`, i])) },
      /too many metrics \(33 > 32\)/,
    ],
    [{ ...good, reading: { unit: "C" } }, /no numeric metrics/],
    [{ ...good, reading: [1, 2] }, /reading must be an object/],
    ["not an object", /must be a JSON object/],
  ];
  const documents = cases.flatMap(([bad]) => [good, bad]);
  const { block, refused } = parseJsonReadings(documents, limits);
  assertEquals(block.length, cases.length);
  assertEquals(refused.map((r) => r.index), cases.map((_, i) => 2 * i + 1));
  for (const r of refused) {
    assert(refusalKind(r.reason) !== "other", `"${r.reason}" has a kind`);
    const [, pattern] = cases[(r.index - 1) / 2];
    assert(pattern.test(r.reason), `#${r.index}: "${r.reason}" should match ${pattern}`);
  }
});

Deno.test("a JSON number too large for a double is refused as non-finite", () => {
  const body =
    `[{"sensorId":"s","timestamp":1,"reading":{"t":1e400}},{"sensorId":"s","timestamp":1,"reading":{"t":2}}]`;
  const { block, refused } = parseJsonReadings(JSON.parse(body), limits);
  assertEquals(block.length, 1);
  assertEquals(refused, [{ index: 0, reason: 'value of "t" is not a finite number' }]);
});

Deno.test("timestamps as ISO-8601 with any zone or as epoch ms give the right instant", () => {
  assertEquals(parseTimestamp("2026-11-22T10:00:00.250Z"), Date.UTC(2026, 10, 22, 10, 0, 0, 250));
  assertEquals(parseTimestamp("2026-11-22T12:00:00+02:00"), Date.UTC(2026, 10, 22, 10));
  assertEquals(parseTimestamp(1_795_000_000_000), 1_795_000_000_000);
  assertEquals(parseTimestamp("1795000000000"), 1_795_000_000_000);
  assertEquals(typeof parseTimestamp("2026-13-45T99:00:00Z"), "string");
});

Deno.test("binary readings are validated one by one: each bad kind refused, good rows kept in order", () => {
  const b = new ReadingBlockBuilder();
  const add = (id: string, group: string, time: number, values: [string, number][]) => {
    b.begin(id, group, time, "");
    for (const [name, value] of values) b.addValue(name, value);
  };
  add("ok-1", "g", 1, [["t", 1]]);
  add("", "g", 1, [["t", 1]]);
  add("ok-2", "bad group!", 1, [["t", 1]]);
  add("ok-3", "g", NaN, [["t", 1]]);
  add("ok-4", "g", 1, [["t", NaN]]);
  add("ok-5", "g", 1, [["t", 1], ["t", 2]]);
  add("ok-6", "g", 1, []);
  add("ok-7", "g", 1, [["9lives", 1]]);
  add("ok-8", "", 2, [["t", 8]]);
  const { block, refused } = filterValidReadings(b.build(), limits);
  assertEquals(refused.map((r) => r.index), [1, 2, 3, 4, 5, 6, 7]);
  const reasons = refused.map((r) => r.reason).join(" | ");
  for (
    const pattern of [
      /missing sensorId/,
      /group/,
      /finite/,
      /"t" is not a finite/,
      /appears twice/,
      /no metrics/,
      /"9lives"/,
    ]
  ) {
    assert(pattern.test(reasons), `${pattern} in ${reasons}`);
  }
  assertEquals(block.length, 2);
  assertEquals([block.strings[block.sensor[0]], block.strings[block.sensor[1]]], ["ok-1", "ok-8"]);
  assertEquals([...block.value], [1, 8]);
});

Deno.test("readings stamped more than maxFutureMs ahead of the server clock are refused in both encodings", () => {
  const now = Date.parse("2026-11-22T10:00:00Z");
  const docs = [
    { ...good, timestamp: now + 10_000 }, // exactly at the limit: kept
    { ...good, timestamp: now + 10_001 },
    { ...good, timestamp: "2026-11-22T10:05:00Z" },
  ];
  const json = parseJsonReadings(docs, limits, now);
  assertEquals(json.block.length, 1);
  assertEquals(json.refused.map((r) => r.index), [1, 2]);
  assert(json.refused[1].reason.includes("300 s in the future"), json.refused[1].reason);
  assertEquals(refusalKind(json.refused[0].reason), "future_timestamp");

  const builder = new ReadingBlockBuilder();
  for (const t of [now + 10_000, now + 10_001, now - 1]) {
    builder.begin("s", "", t, "");
    builder.addValue("t", 1);
  }
  const binary = filterValidReadings(builder.build(), { ...limits, maxFutureMs: 10_000 }, now);
  assertEquals(binary.refused.map((r) => r.index), [1]);
  assertEquals(Array.from(binary.block.timeMs), [now + 10_000, now - 1]);
});
