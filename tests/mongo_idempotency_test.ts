// Idempotency keys in Mongo mode, end to end: the real driver against the
// wire-level test server. Each accepted reading of a keyed batch must be a
// document exactly once, across retries, lease expiry and a kill -9 between
// MongoDB's insert and the completion of the batch's record; the feed must
// equal a recomputation of what was sent, once.
import type { Document } from "bson";
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { MongoWireServer } from "./testing/mongo_wire_server.ts";
import { spawnServer, stopServer } from "./testing/server_process.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";
import { blockFromReadings } from "../protocol/reading_block.ts";

const DB = "pulseboard";
const COLL = "readings";
const BASE = Date.now() - 600_000;

/** Values unique per reading, so one stored twice moves its sensor's average. */
function readings(tag: number, count: number): PlainReading[] {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `k${i % 7}`,
    group: "plant-a/line-1",
    timeMs: BASE + tag * 10_000 + i,
    values: { v: tag * 1_000 + (i * 37) % 101 },
  }));
}

/** A JSON body; the reading at `refusedAt` (if any) is invalid, so row and batch index differ. */
function json(batch: PlainReading[], refusedAt = -1): string {
  const docs: unknown[] = batch.map((r) => ({
    sensorId: r.sensorId,
    group: r.group,
    timestamp: r.timeMs,
    reading: r.values,
  }));
  if (refusedAt >= 0) docs.splice(refusedAt, 0, { sensorId: "", timestamp: BASE, reading: {} });
  return JSON.stringify(docs);
}

async function post(
  url: string | URL,
  body: string | Uint8Array,
  headers: Record<string, string>,
): Promise<Response> {
  return await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: body as BodyInit,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** How often each reading (sensor@time) is a document in the collection. */
function stored(wire: MongoWireServer): Map<string, number> {
  const counts = new Map<string, number>();
  for (const doc of wire.documents(DB, COLL) as Document[]) {
    const at = `${doc.sensorId}@${(doc.timestamp as Date).getTime()}`;
    counts.set(at, (counts.get(at) ?? 0) + 1);
  }
  return counts;
}

function assertStoredOnce(wire: MongoWireServer, sent: PlainReading[]): void {
  const counts = stored(wire);
  assertEquals(wire.documents(DB, COLL).length, sent.length, "documents in the collection");
  for (const r of sent) assertEquals(counts.get(`${r.sensorId}@${r.timeMs}`), 1, r.sensorId);
}

async function feedEquals(url: string | URL, sent: PlainReading[]): Promise<void> {
  const client = new FeedClient(new URL(url));
  await client.opened;
  try {
    await eventually(
      () => sameState(client.state(), recompute(sent)),
      10_000,
      "the feed equals a recomputation of what was sent, once",
    );
  } finally {
    await client.close();
  }
}

async function withMongoPulseboard(run: (url: URL, wire: MongoWireServer) => Promise<void>) {
  const wire = new MongoWireServer().start();
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mongo-idem-" });
  const pb = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: `${dir}/store.kv`,
    tickMs: 20,
    checkpointEveryMs: 200,
    logLevel: "error",
    source: "mongo",
    mongoUri: wire.uri(),
    mongoDb: DB,
    mongoCollection: COLL,
    idempotencyLeaseMs: 500,
  });
  try {
    await run(pb.url, wire);
  } finally {
    await pb.shutdown();
    await pb.finished;
    wire.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("mongo: an Idempotency-Key batch is stored once; retries before and after the lease replay its answer; another body is 422", async () => {
  await withMongoPulseboard(async (url, wire) => {
    const sent = readings(1, 40);
    const body = json(sent, 3);
    const key = { "idempotency-key": "gw-1:0001" };

    const first = await post(url, body, key);
    assertEquals(first.status, 200);
    assertEquals(first.headers.get("idempotent-replayed"), null);
    const answer = await first.text();
    assertEquals(JSON.parse(answer).accepted, 40);
    assertEquals(JSON.parse(answer).refused.map((r: { index: number }) => r.index), [3]);

    const status = await (await fetch(new URL("/api/ingest/gw-1%3A0001", url))).json();
    assertEquals([status.status, status.accepted, status.refused, status.appended], [
      "done",
      40,
      1,
      40,
    ]);

    const again = await post(url, body, key);
    assertEquals([again.status, again.headers.get("idempotent-replayed")], [200, "true"]);
    assertEquals(await again.text(), answer);
    await new Promise((r) => setTimeout(r, 800)); // past the lease
    const later = await post(url, body, key);
    assertEquals([later.status, later.headers.get("idempotent-replayed")], [200, "true"]);
    assertEquals(await later.text(), answer);

    const other = await post(url, json(readings(2, 5)), key);
    assertEquals(other.status, 422);
    await other.body?.cancel();

    assertStoredOnce(wire, sent);
    await feedEquals(url, sent);
  });
});

Deno.test("mongo: a FlatBuffers batch_id is the key: stored once, replayed byte for byte", async () => {
  await withMongoPulseboard(async (url, wire) => {
    const sent = readings(3, 30);
    const flat = encodeReadingBlock(blockFromReadings(sent), "fb-batch-1");
    const fb = { "content-type": "application/x-flatbuffers" };

    const first = await post(url, flat, fb);
    assertEquals([first.status, first.headers.get("idempotent-replayed")], [200, null]);
    const answer = await first.text();
    assertEquals(JSON.parse(answer), { accepted: 30, refused: [] });
    for (const headers of [fb, { ...fb, "idempotency-key": "fb-batch-1" }]) {
      const again = await post(url, flat, headers);
      assertEquals([again.status, again.headers.get("idempotent-replayed")], [200, "true"]);
      assertEquals(await again.text(), answer);
    }
    const status = await (await fetch(new URL("/api/ingest/fb-batch-1", url))).json();
    assertEquals([status.status, status.appended], ["done", 30]);

    assertStoredOnce(wire, sent);
    await feedEquals(url, sent);
  });
});

Deno.test({
  name:
    "mongo: kill -9 between MongoDB's insert and the batch's completion, then retries: each reading stored once, the answer replayed",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const wire = new MongoWireServer().start();
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mongo-idem-crash-" });
  const env = {
    PULSEBOARD_SOURCE: "mongo",
    PULSEBOARD_MONGO_URI: wire.uri(),
    PULSEBOARD_MONGO_DB: DB,
    PULSEBOARD_MONGO_COLLECTION: COLL,
  };
  const args = [
    "--port",
    "0",
    "--data",
    `${dir}/store.kv`,
    "--idempotency-lease",
    "1s",
    "--checkpoint",
    "100",
    "--tick",
    "20",
  ];
  const sent = readings(4, 500);
  const body = json(sent, 10);
  const key = { "idempotency-key": "gw-9:0042" };
  try {
    const server = await spawnServer(args, { env });
    try {
      // The documents are in; the process dies before it hears so.
      wire.faults.afterInsert = async () => {
        server.child.kill("SIGKILL");
        await server.child.status;
      };
      const lost = await post(server.url, body, key).then(
        async (response) => `answered ${response.status}: ${await response.text()}`,
        () => null,
      );
      assertEquals(lost, null, "the request died with its server");
      assertEquals(wire.documents(DB, COLL).length, sent.length, "inserted before the kill");
    } finally {
      await stopServer(server, "SIGKILL");
    }

    const second = await spawnServer(args, { env });
    try {
      const status = await (await fetch(new URL("/api/ingest/gw-9%3A0042", second.url))).json();
      assertEquals(status.status, "pending");
      // Another body under the key is refused even now: its first body may be stored.
      const other = await post(second.url, json(readings(5, 3)), key);
      assertEquals(other.status, 422);
      await other.body?.cancel();

      // A client retries after 409 (the dead process's lease) until it is answered.
      let response = await post(second.url, body, key);
      for (let tries = 0; response.status === 409 && tries < 50; tries++) {
        await response.body?.cancel();
        await new Promise((r) => setTimeout(r, 200));
        response = await post(second.url, body, key);
      }
      assertEquals(response.status, 200);
      const answer = await response.text();
      assertEquals(JSON.parse(answer).accepted, sent.length);
      assertEquals(JSON.parse(answer).refused.map((r: { index: number }) => r.index), [10]);
      const replay = await post(second.url, body, key);
      assertEquals([replay.status, replay.headers.get("idempotent-replayed")], [200, "true"]);
      assertEquals(await replay.text(), answer);
      const done = await (await fetch(new URL("/api/ingest/gw-9%3A0042", second.url))).json();
      assertEquals([done.status, done.accepted, done.appended], ["done", sent.length, sent.length]);

      assertStoredOnce(wire, sent);
      await feedEquals(second.url, sent);
    } finally {
      await stopServer(second);
    }
    assert(wire.documents(DB, COLL).length === sent.length);
  } finally {
    wire.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
