import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { keyedRowIds, onlyDuplicateIds } from "./keyed_rows.ts";

Deno.test("a keyed batch's row ids follow from scope, key, body and index, and differ otherwise", async () => {
  const batch = { scope: "k1", id: "gw-1:0001", fingerprint: "ab" };
  const ids = await keyedRowIds(batch, [0, 2, 5]);
  assertEquals(ids, await keyedRowIds({ ...batch }, [0, 2, 5]));
  assert(/^[0-9a-f]{32}:0$/.test(ids[0]), ids[0]);
  assertEquals(ids.map((id) => id.split(":")[1]), ["0", "2", "5"]);
  for (const other of [{ scope: "k2" }, { id: "gw-1:0002" }, { fingerprint: "cd" }]) {
    const [id] = await keyedRowIds({ ...batch, ...other }, [0]);
    assert(id !== ids[0], JSON.stringify(other));
  }
  // The parts cannot run into each other.
  const [a] = await keyedRowIds({ scope: "a:b", id: "c", fingerprint: "" }, [0]);
  const [b] = await keyedRowIds({ scope: "a", id: "b:c", fingerprint: "" }, [0]);
  assert(a !== b);
});

Deno.test("only duplicate _id errors with the write concern met count as stored", () => {
  // As the driver's WriteError has them: the server's message, no key pattern.
  const dup = {
    code: 11000,
    errmsg: 'E11000 duplicate key error collection: db.c index: _id_ dup key: { _id: "a:0" }',
  };
  const other = {
    code: 11000,
    errmsg:
      "E11000 duplicate key error collection: db.c index: sensorId_1_timestamp_1 dup key: { }",
  };
  const met = { getWriteConcernError: () => undefined };
  assert(onlyDuplicateIds({ writeErrors: [dup, dup], result: met }));
  assert(onlyDuplicateIds({ writeErrors: [{ code: 11000, keyPattern: { _id: 1 } }], result: met }));
  assert(!onlyDuplicateIds({ writeErrors: [dup, other], result: met }), "another unique index");
  assert(!onlyDuplicateIds({ writeErrors: [{ code: 11000 }], result: met }), "says no index");
  assert(!onlyDuplicateIds({ writeErrors: [], result: met }));
  assert(!onlyDuplicateIds({ writeErrors: [dup, { code: 121 }], result: met }));
  assert(!onlyDuplicateIds({ writeErrors: [{ code: 11000, keyPattern: { sensorId: 1 } }] }));
  assert(!onlyDuplicateIds({ writeErrors: [dup], result: { getWriteConcernError: () => ({}) } }));
  assert(!onlyDuplicateIds(new Error("connection reset")));
  assert(!onlyDuplicateIds(null));
});
