import { assertEquals } from "../../tests/testing/assert.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";
import { ingestHandler } from "./ingest_handler.ts";
import { IngestStats } from "./ingest_stats.ts";
import { IdempotencyStore } from "./idempotency_store.ts";
import { DEFAULT_READING_LIMITS } from "./readings/mod.ts";
import { KvLog } from "../store/mod.ts";

const post = (body: string, headers: Record<string, string> = {}) =>
  new Request("http://x/api/ingest", {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });

Deno.test("ingest appends the valid readings, answers the refused ones by index, and counts both", async () => {
  await withTempKv(async (kv) => {
    const log = new KvLog(kv);
    const stats = new IngestStats();
    const ingest = ingestHandler(log, {
      maxBodyBytes: 4096,
      maxBatchReadings: 100,
      limits: DEFAULT_READING_LIMITS,
      idempotency: new IdempotencyStore(kv),
    }, stats);
    const now = Date.now();
    const docs = [
      { sensorId: "a", timestamp: now, reading: { t: 1 } },
      { sensorId: "", timestamp: now, reading: { t: 2 } },
      { sensorId: "c", timestamp: now, reading: { t: "hot" } },
      { sensorId: "d", timestamp: now, reading: { t: 4, h: 40 } },
    ];
    const response = await ingest(post(JSON.stringify(docs)));
    assertEquals(response.status, 200);
    const answer = await response.json();
    assertEquals(answer.accepted, 2);
    assertEquals(answer.refused.map((r: { index: number }) => r.index), [1, 2]);
    // What the answer says is in the log.
    const stored = (await log.read(null)).flatMap(({ block }) =>
      Array.from({ length: block.length }, (_, i) => block.strings[block.sensor[i]])
    );
    assertEquals(stored, ["a", "d"]);
    assertEquals([stats.requests, stats.accepted, stats.refused], [1, 2, 2]);
    assertEquals(Object.values(stats.refusedBy).reduce((a, b) => a + b), 2);

    // The same batch with a key is applied once; its retry gets the first answer.
    const keyed = () => ingest(post(JSON.stringify(docs), { "idempotency-key": "b-1" }));
    const first = await keyed();
    const again = await keyed();
    assertEquals(await again.json(), await first.json());
    assertEquals(again.headers.get("idempotent-replayed"), "true");
    assertEquals(stats.idempotent.first, 1);
    assertEquals(stats.idempotent.replayed, 1);
    assertEquals((await log.read(null)).reduce((n, e) => n + e.block.length, 0), 4);
    // Another body under that key is refused, and counted by status.
    const other = await ingest(post("[]", { "idempotency-key": "b-1" }));
    assertEquals(other.status, 422);
    const big = await ingest(post("[" + " ".repeat(5000) + "]"));
    assertEquals(big.status, 413);
    assertEquals(stats.rejectedRequests, { 413: 1, 422: 1 });
  });
});
