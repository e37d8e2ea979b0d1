import fc from "fast-check";
import { BSON } from "bson";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { ChangeBatch, MAX_DOCUMENT_ID_CHARS } from "./change_batch.ts";
import { DocumentIds } from "./document_ids.ts";
import { DEFAULT_READING_LIMITS } from "../../ingest/readings/limits.ts";

const NOW = Date.UTC(2026, 11, 3);

function insert(batch: ChangeBatch, id: unknown, sensorId: string): void {
  batch.add({
    _id: { _data: "82" },
    operationType: "insert",
    documentKey: { _id: id },
    fullDocument: { _id: id, sensorId, timestamp: NOW, reading: { t: 1 } },
  });
}

/** The `_id`'s canonical EJSON length, computed here on its own. */
function ejsonLength(id: unknown): number {
  return BSON.EJSON.stringify(id as BSON.Document, { relaxed: false }).length;
}

Deno.test("a document whose _id is longer than the bound is refused with a reason, and its _id is not kept", () => {
  const ids = new DocumentIds();
  const batch = new ChangeBatch(ids, DEFAULT_READING_LIMITS, { now: () => NOW });
  const huge = "x".repeat(1_000_000);
  insert(batch, huge, "s1");
  const out = batch.take();
  assertEquals(out.readings, 0);
  assertEquals(out.invalid.length, 1);
  assert(out.invalid[0].reason.startsWith("_id too long"), out.invalid[0].reason);
  // The logged _id is cut too.
  assert(out.invalid[0].id.length <= MAX_DOCUMENT_ID_CHARS + 20, `${out.invalid[0].id.length}`);
  assertEquals(ids.save(), []);
});

Deno.test("the _id bound is exact, every kept _id fits it, and a checkpoint restores the same ids", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          id: fc.oneof(
            fc.string({ maxLength: 40 }),
            // Around the bound (a string's EJSON is its JSON: two quotes more).
            fc.integer({ min: MAX_DOCUMENT_ID_CHARS - 6, max: MAX_DOCUMENT_ID_CHARS + 2 })
              .map((n) => "i".repeat(n)),
            fc.integer(),
            fc.record({
              a: fc.integer({ min: MAX_DOCUMENT_ID_CHARS - 40, max: MAX_DOCUMENT_ID_CHARS })
                .map((n) => "a".repeat(n)),
              b: fc.integer(),
            }),
          ),
          sensor: fc.constantFrom("s1", "s2", "s3"),
        }),
        { maxLength: 12 },
      ),
      (docs) => {
        const ids = new DocumentIds();
        const batch = new ChangeBatch(ids, DEFAULT_READING_LIMITS, { now: () => NOW });
        const newest = new Map<string, string>();
        let refused = 0;
        for (const { id, sensor } of docs) {
          insert(batch, id, sensor);
          const text = BSON.EJSON.stringify(id as BSON.Document, { relaxed: false });
          if (ejsonLength(id) > MAX_DOCUMENT_ID_CHARS) {
            refused++;
            continue;
          }
          // A document that moved to another sensor no longer stands for the old one.
          for (const [s, t] of newest) if (t === text && s !== sensor) newest.delete(s);
          newest.set(sensor, text);
        }
        const out = batch.take();
        assertEquals(out.invalid.length, refused);
        assertEquals(out.readings, docs.length - refused);
        const saved = ids.save();
        for (const [, id] of saved) assert(id.length <= MAX_DOCUMENT_ID_CHARS);
        assertEquals(new Map(saved), newest);
        assertEquals(DocumentIds.restore(JSON.parse(JSON.stringify(saved))).save(), saved);
      },
    ),
  );
});
