import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import {
  blockFromReadings,
  DEFAULT_READING_LIMITS as limits,
  parseJsonReadings,
  ReadingBlockBuilder,
} from "../readings/mod.ts";
import type { ReadingBlock } from "../readings/mod.ts";
import { encodeReadingBlock } from "../../../protocol/ingest_codec.ts";
import { addPayload } from "./payload.ts";

const NOW = Date.UTC(2026, 10, 22, 12);
const options = { limits, receivedAt: NOW, maxReadings: 10_000 };
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** A block's readings as plain objects, for comparing blocks built different ways. */
function rows(block: ReadingBlock) {
  const s = block.strings;
  return Array.from({ length: block.length }, (_, i) => ({
    sensorId: s[block.sensor[i]],
    group: s[block.group[i]],
    status: s[block.status[i]],
    timeMs: block.timeMs[i],
    values: Array.from(
      { length: block.metricCount[i] },
      (_, k) => [s[block.metric[block.metricStart[i] + k]], block.value[block.metricStart[i] + k]],
    ),
  }));
}

Deno.test("a JSON reading is accepted or refused exactly as HTTP ingest treats the same document with the topic's sensor and group", () => {
  const metricName = fc.oneof(
    fc.constantFrom("temperature", "h", "_x", "a.b", "1bad", "bad name", ""),
    fc.string({ maxLength: 8 }),
  );
  // -0 included: JSON text carries it as 0, on both paths.
  const value = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constant(-0),
    fc.string(),
    fc.constant(null),
  );
  const reading = fc.oneof(
    fc.dictionary(metricName, value, { maxKeys: 5 }),
    fc.constantFrom(null, 3, "x", [] as unknown[]),
  );
  const timestamp = fc.option(
    fc.oneof(
      fc.integer({ min: -10, max: NOW + 60_000 }),
      fc.constantFrom("2026-11-22T12:00:00Z", "2026-02-30T00:00:00Z", "never", "", "1700000000000"),
    ),
    { nil: undefined },
  );
  const status = fc.option(
    fc.oneof(fc.constantFrom("ok", "warn", " x"), fc.string({ maxLength: 40 })),
    {
      nil: undefined,
    },
  );
  const target = fc.record({
    group: fc.constantFrom("", "plant-z/line-9", "a"),
    sensorId: fc.constantFrom("s1", "sensor_17", "é"),
  });
  fc.assert(
    fc.property(reading, timestamp, status, target, (reading, timestamp, status, target) => {
      const doc: Record<string, unknown> = { reading };
      if (timestamp !== undefined) doc.timestamp = timestamp;
      if (status !== undefined) doc.status = status;
      const builder = new ReadingBlockBuilder();
      const got = addPayload(builder, encode(doc), target, options);
      // HTTP ingest of the same document as JSON text (where -0 is 0 too), stamped
      // with the receive time when it has none.
      const http = parseJsonReadings(
        [JSON.parse(JSON.stringify({
          ...doc,
          timestamp: timestamp ?? NOW,
          sensorId: target.sensorId,
          ...(target.group ? { group: target.group } : {}),
        }))],
        limits,
        NOW,
      );
      assertEquals(got.accepted, http.block.length);
      assertEquals(got.refused, http.refused);
      assertEquals(rows(builder.build()), rows(http.block));
    }),
    { numRuns: 3_000 },
  );
});

Deno.test("payloads that are not a JSON reading or a batch are refused with a reason and add nothing", () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(), /payload is empty/],
    [new TextEncoder().encode("{not json"), /not valid JSON .* nor an IngestBatch/],
    [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/],
    [encode([{ reading: { t: 1 } }]), /must be a JSON object/],
    [new TextEncoder().encode(" 42"), /must be a JSON object/],
    [encode({ sensorId: "other", reading: { t: 1 } }), /must not hold sensorId or group/],
    [encode({ group: "plant-b", reading: { t: 1 } }), /must not hold sensorId or group/],
    [encode({ reading: {} }), /no numeric metrics/],
    [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), /not valid (UTF-8|JSON)/],
    [new Uint8Array([8, 0, 0, 0, 0x50, 0x4c, 0x53, 0x42, 9, 9]), /not a valid IngestBatch/],
    [
      Uint8Array.from([
        32,
        0,
        0,
        0,
        0x50,
        0x4c,
        0x53,
        0x42,
        ...Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256),
      ]),
      /not a valid IngestBatch/,
    ],
  ];
  for (const [payload, reason] of cases) {
    const builder = new ReadingBlockBuilder();
    const got = addPayload(builder, payload, { group: "g", sensorId: "s1" }, options);
    assertEquals(got.accepted, 0);
    assertEquals(got.refused.length, 1);
    assert(reason.test(got.refused[0].reason), got.refused[0].reason);
    assertEquals(builder.length, 0);
  }
});

Deno.test("a JSON reading without a timestamp is stamped with the receive time", () => {
  const builder = new ReadingBlockBuilder();
  const got = addPayload(builder, encode({ reading: { t: 21.5 }, status: "ok" }), {
    group: "plant-z/line-9",
    sensorId: "s1",
  }, options);
  assertEquals(got, { accepted: 1, refused: [] });
  assertEquals(rows(builder.build()), [{
    sensorId: "s1",
    group: "plant-z/line-9",
    status: "ok",
    timeMs: NOW,
    values: [["t", 21.5]],
  }]);
});

Deno.test("an IngestBatch payload keeps its sensor ids; readings outside the topic's group are refused, those without one get it", () => {
  const batch = encodeReadingBlock(blockFromReadings([
    { sensorId: "a", timeMs: NOW - 5, values: { t: 1 } },
    { sensorId: "b", group: "plant-z/line-9", timeMs: NOW - 4, values: { t: 2 } },
    { sensorId: "c", group: "plant-z/line-9/cell-1", timeMs: NOW - 3, values: { t: 3 } },
    { sensorId: "d", group: "plant-y", timeMs: NOW - 2, values: { t: 4 } },
    { sensorId: "e", group: "plant-z/line-90", timeMs: NOW - 1, values: { t: 5 } },
    { sensorId: " f", timeMs: NOW, values: { t: 6 } },
    { sensorId: "g", timeMs: NOW, values: { t: 7 }, status: "warn" },
  ]));
  const builder = new ReadingBlockBuilder();
  const got = addPayload(builder, batch, { group: "plant-z/line-9", sensorId: "gw-1" }, options);
  assertEquals(got.accepted, 4);
  assertEquals(got.refused.map((r) => r.index), [3, 4, 5]);
  assert(/outside the topic's group "plant-z\/line-9"/.test(got.refused[0].reason));
  assert(/surrounding spaces/.test(got.refused[2].reason));
  assertEquals(
    rows(builder.build()).map((r) => [r.sensorId, r.group, r.status]),
    [
      ["a", "plant-z/line-9", ""],
      ["b", "plant-z/line-9", ""],
      ["c", "plant-z/line-9/cell-1", ""],
      ["g", "plant-z/line-9", "warn"],
    ],
  );
  // To the default group's topic, only readings without a group (or in "default") go.
  const other = new ReadingBlockBuilder();
  const atDefault = addPayload(other, batch, { group: "", sensorId: "gw-1" }, options);
  assertEquals(atDefault.accepted, 2);
  assertEquals(rows(other.build()).map((r) => [r.sensorId, r.group]), [["a", ""], ["g", ""]]);
});

Deno.test("a batch over the reading limit is refused whole", () => {
  const batch = encodeReadingBlock(blockFromReadings(
    Array.from({ length: 11 }, (_, i) => ({ sensorId: `s${i}`, timeMs: NOW, values: { t: i } })),
  ));
  const builder = new ReadingBlockBuilder();
  const got = addPayload(builder, batch, { group: "", sensorId: "gw" }, {
    ...options,
    maxReadings: 10,
  });
  assertEquals([got.accepted, got.refused.length, builder.length], [0, 1, 0]);
  assert(/more than the limit of 10/.test(got.refused[0].reason), got.refused[0].reason);
});
