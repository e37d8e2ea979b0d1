import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { ChangeBatch } from "./change_batch.ts";
import { DocumentIds } from "./document_ids.ts";
import { DEFAULT_READING_LIMITS } from "../../ingest/readings/limits.ts";

const NOW = Date.UTC(2026, 11, 3);
const MAX = DEFAULT_READING_LIMITS.maxMetrics;

function insert(batch: ChangeBatch, reading: Record<string, unknown>): void {
  batch.add({
    _id: { _data: "82" },
    operationType: "insert",
    documentKey: { _id: 1 },
    fullDocument: { _id: 1, sensorId: "s1", timestamp: NOW, reading },
  });
}

Deno.test("a reading with far too many metrics is refused after reading one past the limit, not every key", () => {
  // Each value is a getter that counts its reads: the walk's length, without a clock.
  let reads = 0;
  const reading: Record<string, unknown> = {};
  for (let k = 0; k < 100_000; k++) {
    Object.defineProperty(reading, `m${k}`, {
      enumerable: true,
      get: () => {
        reads++;
        return k;
      },
    });
  }
  const batch = new ChangeBatch(new DocumentIds(), DEFAULT_READING_LIMITS, { now: () => NOW });
  insert(batch, reading);
  const out = batch.take();
  assertEquals(out.readings, 0);
  assertEquals(out.invalid.length, 1);
  assert(out.invalid[0].reason.startsWith("too many metrics"), out.invalid[0].reason);
  assert(reads <= MAX + 1, `read ${reads} values for a limit of ${MAX}`);
});

Deno.test("the metric limit is exact: up to the limit is taken, one more is refused, other keys do not count", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: MAX + 5 }),
      fc.integer({ min: 0, max: 40 }),
      (numeric, other) => {
        const reading: Record<string, unknown> = {};
        for (let k = 0; k < other; k++) reading[`x${k}`] = `text ${k}`;
        for (let k = 0; k < numeric; k++) reading[`m${k}`] = k + 0.5;
        const batch = new ChangeBatch(new DocumentIds(), DEFAULT_READING_LIMITS, {
          now: () => NOW,
        });
        insert(batch, reading);
        const out = batch.take();
        if (numeric <= MAX) {
          assertEquals(out.invalid, []);
          assertEquals(out.readings, 1);
        } else {
          assertEquals(out.readings, 0);
          assert(out.invalid[0].reason.startsWith("too many metrics"), out.invalid[0].reason);
        }
      },
    ),
  );
});
