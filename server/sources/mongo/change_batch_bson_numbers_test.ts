import fc from "fast-check";
import { BSON, Decimal128, Long } from "bson";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { ChangeBatch } from "./change_batch.ts";
import { DocumentIds } from "./document_ids.ts";
import { DEFAULT_READING_LIMITS } from "../../ingest/readings/limits.ts";

const NOW = Date.UTC(2026, 11, 3);

/** A document as the driver hands it over: through BSON, with its default promotions. */
function throughBson(doc: Record<string, unknown>): Record<string, unknown> {
  return BSON.deserialize(BSON.serialize(doc));
}

/** What the change batch takes of one inserted document: its metrics and values, or why not. */
function taken(doc: Record<string, unknown>): [string, number][] | string {
  const batch = new ChangeBatch(new DocumentIds(), DEFAULT_READING_LIMITS, { now: () => NOW });
  batch.add({
    _id: { _data: "82" },
    operationType: "insert",
    documentKey: { _id: 1 },
    fullDocument: { _id: 1, ...doc },
  });
  const out = batch.take();
  if (out.invalid.length > 0) return out.invalid[0].reason;
  const part = out.parts[0];
  if (part?.kind !== "readings") return "nothing";
  const b = part.block;
  return Array.from(
    { length: b.metricCount[0] },
    (_, k) => [b.strings[b.metric[b.metricStart[0] + k]], b.value[b.metricStart[0] + k]],
  );
}

Deno.test("a Decimal128 or a NumberLong metric counts as the number its JSON text would (it was dropped)", () => {
  const doc = throughBson({
    sensorId: "s1",
    timestamp: NOW,
    reading: {
      t: 21.5,
      p: Decimal128.fromString("1013.25"),
      big: Long.fromString("9007199254740993"), // past 2^53: the driver keeps a Long
      e: Decimal128.fromString("-2.5E+3"),
    },
  });
  assertEquals(taken(doc), [
    ["t", 21.5],
    ["p", JSON.parse("1013.25")],
    ["big", JSON.parse("9007199254740993")],
    ["e", JSON.parse("-2.5E+3")],
  ]);
});

Deno.test("a Decimal128 NaN or Infinity is refused as not finite, as the JSON rules refuse them", () => {
  for (const text of ["NaN", "Infinity", "-Infinity"]) {
    const doc = throughBson({
      sensorId: "s1",
      timestamp: NOW,
      reading: { t: Decimal128.fromString(text) },
    });
    assertEquals(taken(doc), 'value of "t" is not a finite number', text);
  }
});

Deno.test("a NumberLong or Decimal128 timestamp is read as its epoch ms", () => {
  for (const timestamp of [Long.fromNumber(NOW - 5), Decimal128.fromString(String(NOW - 5))]) {
    const batch = new ChangeBatch(new DocumentIds(), DEFAULT_READING_LIMITS, { now: () => NOW });
    batch.addDocument(throughBson({ _id: 2, sensorId: "s", timestamp, reading: { t: 1 } }));
    const part = batch.take().parts[0];
    assertEquals(part?.kind === "readings" ? part.block.timeMs[0] : null, NOW - 5);
  }
});

Deno.test("any finite decimal text stored as Decimal128 is taken as JSON ingest takes the same text (property)", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }).map(String),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
        fc.tuple(fc.integer({ min: -99_999, max: 99_999 }), fc.integer({ min: -30, max: 30 }))
          .map(([m, e]) => `${m}E${e}`),
      ),
      (text) => {
        const doc = throughBson({
          sensorId: "s1",
          timestamp: NOW,
          reading: { d: Decimal128.fromString(text.replace("e", "E")) },
        });
        assertEquals(taken(doc), [["d", JSON.parse(text.replace(/^(-?)(\d+)E/, "$1$2e"))]]);
      },
    ),
    { numRuns: 500 },
  );
});
