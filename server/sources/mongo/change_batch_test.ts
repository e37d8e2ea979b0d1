import { ObjectId, Timestamp } from "bson";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { ChangeBatch, idKey } from "./change_batch.ts";
import { DocumentIds } from "./document_ids.ts";
import { DEFAULT_READING_LIMITS } from "../../ingest/readings/limits.ts";

const NOW = Date.UTC(2026, 10, 30);

function insert(id: unknown, doc: Record<string, unknown>) {
  return {
    _id: { _data: "82" },
    operationType: "insert",
    documentKey: { _id: id },
    fullDocument: { _id: id, ...doc },
  };
}

Deno.test("change batch puts readings into one block per run, keeping a delete in its place", () => {
  const ids = new DocumentIds();
  const batch = new ChangeBatch(ids, DEFAULT_READING_LIMITS, { now: () => NOW });
  const a = new ObjectId(), b = new ObjectId();
  batch.add(insert(a, { sensorId: "a", timestamp: new Date(NOW - 10), reading: { t: 1 } }));
  batch.add(insert(b, {
    sensorId: "b",
    timestamp: NOW - 5,
    group: "g/1",
    status: "ok",
    reading: { t: 2, h: 3, note: "x" },
  }));
  batch.add({ _id: {}, operationType: "delete", documentKey: { _id: a } });
  batch.add({
    _id: {},
    operationType: "update",
    documentKey: { _id: b },
    fullDocument: { _id: b, sensorId: "b", timestamp: NOW, reading: { t: 4 } },
  });
  batch.add({ _id: {}, operationType: "update", documentKey: { _id: a }, fullDocument: null });
  const taken = batch.take();
  assertEquals(taken.events, 5);
  assertEquals(taken.readings, 3);
  assertEquals(taken.ops, { insert: 2, delete: 1, update: 2 });
  assertEquals(taken.parts.map((p) => p.kind), ["readings", "remove", "readings"]);
  const first = taken.parts[0];
  if (first.kind !== "readings") throw new Error("expected readings");
  assertEquals(first.block.length, 2);
  assertEquals([...first.block.timeMs], [NOW - 10, NOW - 5]);
  assertEquals(first.block.strings[first.block.group[1]], "g/1");
  assertEquals(taken.parts[1], { kind: "remove", sensorId: "a" });
  assertEquals(batch.take().events, 0);
});

Deno.test("invalid documents are skipped with their _id and reason; the batch goes on", () => {
  const batch = new ChangeBatch(new DocumentIds(), DEFAULT_READING_LIMITS, { now: () => NOW });
  batch.add(insert(1, { sensorId: 7, timestamp: NOW, reading: { t: 1 } }));
  batch.add(insert(2, { sensorId: "x", timestamp: "yesterday", reading: { t: 1 } }));
  batch.add(insert(3, { sensorId: "x", timestamp: NOW, reading: { t: Infinity } }));
  batch.add(insert(4, { sensorId: "x", timestamp: NOW, reading: [] }));
  batch.add({ operationType: "insert", documentKey: { _id: 5 }, fullDocument: "nope" });
  batch.add(null);
  batch.add(insert(6, { sensorId: "ok", timestamp: NOW, reading: { t: 1 }, $where: 1 }));
  const taken = batch.take();
  assertEquals(taken.readings, 1);
  assertEquals(taken.invalid.map((i) => i.id), [
    idKey(1),
    idKey(2),
    idKey(3),
    idKey(4),
    idKey(5),
    "(no _id)",
  ]);
  assertEquals(taken.invalid[0].reason, "sensorId must be a string");
});

Deno.test("a delete removes a sensor only through its newest document; drop invalidates", () => {
  const ids = new DocumentIds();
  const batch = new ChangeBatch(ids, DEFAULT_READING_LIMITS, { now: () => NOW });
  batch.add(insert(1, { sensorId: "s", timestamp: NOW - 2, reading: { t: 1 } }));
  batch.add(insert(2, { sensorId: "s", timestamp: NOW - 1, reading: { t: 2 } }));
  batch.add({ operationType: "delete", documentKey: { _id: 1 } });
  assertEquals(batch.take().parts.map((p) => p.kind), ["readings"]);
  assertEquals(ids.size, 1);
  batch.add({ operationType: "delete", documentKey: { _id: 2 } });
  batch.add({ operationType: "drop" });
  const taken = batch.take();
  assertEquals(taken.parts, [{ kind: "remove", sensorId: "s" }]);
  assertEquals(taken.invalidated, "drop");
  assertEquals(ids.size, 0);
  // Saved and restored with the checkpoint.
  ids.note(idKey(9), "t");
  assertEquals(DocumentIds.restore(ids.save()).deleted(idKey(9)), "t");
});

Deno.test("idKey gives an ObjectId the text canonical EJSON gives it", () => {
  const id = new ObjectId();
  assertEquals(idKey(id), JSON.stringify({ $oid: id.toHexString() }));
  assertEquals(idKey(7), '{"$numberInt":"7"}');
});

Deno.test("a block carries when its readings were written: the latest wallTime, else the end of the clusterTime's second, a scan's clock; none without either", () => {
  const ids = new DocumentIds();
  const batch = new ChangeBatch(ids, DEFAULT_READING_LIMITS, { now: () => NOW });
  const reading = (sensorId: string) => ({ sensorId, timestamp: NOW + 9_000, reading: { t: 1 } });
  // A fast clock's reading, written at NOW - 20 and NOW - 10: the block is bounded by the later.
  batch.add({ ...insert(new ObjectId(), reading("a")), wallTime: new Date(NOW - 10) });
  batch.add({ ...insert(new ObjectId(), reading("b")), wallTime: new Date(NOW - 20) });
  const removed = new ObjectId();
  batch.add(insert(removed, reading("c")));
  batch.add({ _id: {}, operationType: "delete", documentKey: { _id: removed } });
  // Before MongoDB 6.0: clusterTime only (whole seconds).
  const second = Math.floor(NOW / 1000) - 3;
  const alsoRemoved = new ObjectId();
  batch.add({
    ...insert(alsoRemoved, reading("d")),
    clusterTime: new Timestamp({ t: second, i: 1 }),
  });
  batch.add({ _id: {}, operationType: "delete", documentKey: { _id: alsoRemoved } });
  batch.add(insert(new ObjectId(), reading("e")));
  const parts = batch.take().parts.flatMap((p) => p.kind === "readings" ? [p.block] : []);
  assertEquals(parts.map((block) => block.acceptedMs), [NOW - 10, (second + 1) * 1000, undefined]);
  // A rebuild's scan: the documents were there by the scan's clock.
  batch.addDocument({ _id: new ObjectId(), ...reading("f") });
  const [scanned] = batch.take().parts;
  assertEquals(scanned.kind === "readings" && scanned.block.acceptedMs, NOW);
});
