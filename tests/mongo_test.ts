// Mongo mode end to end: the real driver against the wire-level test server
// (tests/mongo_wire_server.ts), real Pulseboard servers, real WebSocket clients.
import { ObjectId } from "bson";
import type { Document } from "bson";
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { MongoWireServer } from "./testing/mongo_wire_server.ts";
import { spawnServer } from "./testing/server_process.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { createApiKey } from "./testing/keys_cli.ts";

const DB = "pulseboard";
const COLL = "readings";
const BASE = Date.now() - 3_600_000;

/** A reading document; values are unique per (sensor, n) so a duplicate changes the average. */
function reading(sensor: number, n: number): PlainReading {
  return {
    sensorId: `m${sensor}`,
    group: `plant-${"ab"[sensor % 2]}/line-1`,
    timeMs: BASE + n * 10 + sensor,
    values: { temperature: 20 + n / 100 + sensor / 7, humidity: (n * 13 + sensor) % 97 },
  };
}

function toDoc(r: PlainReading, extra: Document = {}): Document {
  return {
    sensorId: r.sensorId,
    group: r.group,
    timestamp: new Date(r.timeMs),
    reading: r.values,
    status: "ok",
    ...extra,
  };
}

async function health(url: URL) {
  return await (await fetch(new URL("/healthz", url))).json();
}

/** /healthz once it says degraded (within 10 s), checked to be the source's doing. */
async function degraded(url: URL) {
  let h = await health(url);
  const deadline = Date.now() + 10_000;
  while (h.status !== "degraded" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    h = await health(url);
  }
  assertEquals([h.status, h.mongo.state, h.mongo.connected], ["degraded", "degraded", false]);
  return h;
}

async function withPulseboard(
  wire: MongoWireServer,
  run: (pb: Pulseboard) => Promise<void>,
  options: { data?: string; extra?: string } = {},
): Promise<void> {
  const dir = options.data ? null : await Deno.makeTempDir({ prefix: "pulseboard-mongo-" });
  const pb = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: options.data ?? `${dir}/store.kv`,
    tickMs: 20,
    checkpointEveryMs: 200,
    logLevel: "error",
    source: "mongo",
    mongoUri: wire.uri(options.extra),
    mongoDb: DB,
    mongoCollection: COLL,
  });
  try {
    await run(pb);
  } finally {
    await pb.shutdown();
    await pb.finished;
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("mongo inserts, updates, replaces and deletes reach a WebSocket client with correct values", async () => {
  const wire = new MongoWireServer().start();
  // Documents already there are loaded by the first start's scan.
  const readings: PlainReading[] = [];
  for (let n = 0; n < 5; n++) for (let s = 0; s < 4; s++) readings.push(reading(s, n));
  wire.insert(DB, COLL, readings.map((r) => toDoc(r)));
  try {
    await withPulseboard(wire, async (pb) => {
      const client = new FeedClient(pb.url);
      await client.opened;
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "scan");

      // Inserts from another writer.
      const more = Array.from({ length: 40 }, (_, i) => reading(i % 4, 5 + i));
      wire.insert(DB, COLL, more.map((r) => toDoc(r)));
      readings.push(...more);
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "inserts");

      // A per-sensor document, upsert style: replaced, then updated in place.
      const id = new ObjectId();
      const upserted = { ...reading(9, 100), sensorId: "gauge" };
      wire.insert(DB, COLL, [toDoc(upserted, { _id: id })]);
      const replaced = { ...reading(9, 101), sensorId: "gauge" };
      wire.replace(DB, COLL, toDoc(replaced, { _id: id }));
      wire.update(DB, COLL, id, {
        "reading.temperature": 99.5,
        timestamp: new Date(BASE + 5_000),
        status: "alarm",
      });
      readings.push(upserted, replaced, {
        ...replaced,
        timeMs: BASE + 5_000,
        values: { ...replaced.values, temperature: 99.5 },
      });
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "upserts");

      // An invalid document is skipped and counted; the stream goes on.
      wire.insert(DB, COLL, [{ sensorId: 42, timestamp: "never", reading: { t: 1 } }]);
      // Deleting the sensor's document removes it from the dashboard.
      wire.delete(DB, COLL, id);
      await eventually(() => ![...client.sensors.values()].some((s) => s.id === "gauge"), 5_000);
      const expected = recompute(readings.filter((r) => r.sensorId !== "gauge"));
      assert(sameState(client.state(), expected), "the rest is unchanged");
      assertEquals(client.gaps, 0);

      const h = await health(pb.url);
      assertEquals(h.status, "ok");
      assertEquals(h.mongo.invalidDocuments, 1);
      assertEquals(h.mongo.events, { insert: 42, replace: 1, update: 1, delete: 1 });
      // A late joiner's snapshot has no removed sensor either.
      const late = new FeedClient(pb.url);
      await late.opened;
      await eventually(() => late.snapshots === 1, 5_000);
      assert(sameState(late.state(), expected), "snapshot after the delete");
      await late.close();
      await client.close();
    });
  } finally {
    wire.stop();
  }
});

Deno.test("mongo ingest writes through the driver, answers after the ack, and the stream brings it back", async () => {
  const wire = new MongoWireServer().start();
  try {
    await withPulseboard(wire, async (pb) => {
      const client = new FeedClient(pb.url);
      await client.opened;
      const readings = Array.from({ length: 300 }, (_, i) => reading(i % 6, i));
      const docs: unknown[] = readings.map((r) => ({
        sensorId: r.sensorId,
        group: r.group,
        timestamp: r.timeMs,
        reading: r.values,
      }));
      docs.push({ sensorId: "bad", timestamp: "soon", reading: { t: 1 } });
      const response = await fetch(new URL("/api/ingest", pb.url), {
        method: "POST",
        body: JSON.stringify(docs),
        headers: { "content-type": "application/json" },
      });
      const body = await response.json();
      assertEquals([response.status, body.accepted, body.refused.length], [200, 300, 1]);
      // Acknowledged means stored: the documents are in the collection already.
      const stored = wire.documents(DB, COLL);
      assertEquals(stored.length, 300);
      assert(stored[0].timestamp instanceof Date, "timestamps stored as BSON dates");
      assertEquals(wire.commands.insert, 1);
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "ingested");
      await client.close();
    });
  } finally {
    wire.stop();
  }
});

Deno.test("with a scoped API key, mongo ingest is taken once the collection is loaded and keeps other groups' sensors out", async () => {
  const wire = new MongoWireServer().start();
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mongo-keys-" });
  const data = `${dir}/store.kv`;
  try {
    // A sensor of plant-b, in the collection before the server starts.
    wire.insert(DB, COLL, [toDoc(reading(1, 0))]);
    const key = await createApiKey(data, "a", "plant-a");
    await withPulseboard(wire, async (pb) => {
      const post = (sensorId: string, group: string) =>
        fetch(new URL("/api/ingest", pb.url), {
          method: "POST",
          body: JSON.stringify([{ sensorId, group, timestamp: Date.now(), reading: { t: 1 } }]),
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        });
      // 503 only while the groups may be behind the collection (the first load), then taken.
      let answer = await post("m0", "plant-a/line-1");
      const deadline = Date.now() + 10_000;
      while (answer.status === 503 && Date.now() < deadline) {
        await answer.body?.cancel();
        await new Promise((r) => setTimeout(r, 100));
        answer = await post("m0", "plant-a/line-1");
      }
      assertEquals([answer.status, (await answer.json()).accepted], [200, 1]);
      const taken = await post("m1", "plant-a/line-1");
      const body = await taken.json();
      assertEquals([taken.status, body.accepted], [200, 0], "m1 is plant-b's");
      assertEquals(
        body.refused[0].reason,
        'sensor "m1" is in group "plant-b/line-1", which this key may not write',
      );
      assertEquals(wire.documents(DB, COLL).length, 2, "only m0's reading was written");
    }, { data });
  } finally {
    wire.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a resumable error and a dropped connection mid-stream lose and duplicate nothing", async () => {
  const wire = new MongoWireServer({ maxBatch: 25 }).start();
  try {
    await withPulseboard(wire, async (pb) => {
      const client = new FeedClient(pb.url);
      await client.opened;
      const readings: PlainReading[] = [];
      const insert = (from: number, count: number) => {
        const batch = Array.from({ length: count }, (_, i) => reading(i % 5, from + i));
        wire.insert(DB, COLL, batch.map((r) => toDoc(r)));
        readings.push(...batch);
      };
      insert(0, 100);
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "first");
      const streams = wire.changeStreams.length;
      // A primary stepping down (with the label a 4.4+ server attaches) while events wait.
      wire.faults.getMoreErrors.push({
        code: 10107,
        codeName: "NotWritablePrimary",
        errmsg: "not primary",
        errorLabels: ["ResumableChangeStreamError"],
      });
      insert(100, 120);
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "step-down");
      // A network blip: the connection closes in the middle of a getMore.
      wire.faults.closeOnGetMore = 1;
      insert(220, 130);
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "blip");
      const resumed = wire.changeStreams.slice(streams);
      assert(resumed.length >= 2, `the driver resumed twice, saw ${resumed.length}`);
      assert(resumed.every((s) => s.resumeAfter !== null), "each resume used the cached token");
      const h = await health(pb.url);
      // Exactly what was inserted went to the shards: nothing lost, nothing twice.
      assertEquals(h.mongo.readingsRead, 350);
      assert(h.mongo.resumes >= 2);
      assertEquals(client.gaps, 0);
      await client.close();
    });
  } finally {
    wire.stop();
  }
});

Deno.test("history lost: the state is rebuilt from the collection in a new epoch, clients resync", async () => {
  const wire = new MongoWireServer().start();
  try {
    await withPulseboard(wire, async (pb) => {
      const client = new FeedClient(pb.url);
      await client.opened;
      const first = Array.from({ length: 60 }, (_, i) => reading(i % 3, i));
      wire.insert(DB, COLL, first.map((r) => toDoc(r)));
      await eventually(() => sameState(client.state(), recompute(first)), 5_000, "first");
      const epoch = client.epoch;
      const snapshots = client.snapshots;
      // The oplog rolls over while the connection is down: the token is gone (286).
      wire.stop();
      const stale = Array.from({ length: 30 }, (_, i) => reading(3 + (i % 2), 100 + i));
      wire.insert(DB, COLL, stale.map((r) => toDoc(r)));
      const gone = wire.documents(DB, COLL).find((d) => d.sensorId === "m0")!;
      wire.delete(DB, COLL, gone._id);
      wire.truncateHistory();
      await wire.restart();
      // The collection now holds everything but one document of m0.
      const current = [...first, ...stale].filter((r) =>
        !(r.sensorId === "m0" && r.timeMs === gone.timestamp.getTime())
      );
      await eventually(
        () => client.epoch !== epoch && sameState(client.state(), recompute(current)),
        10_000,
        "rebuilt state in a new epoch",
      );
      const resync = client.subscribed.at(-1)!;
      assertEquals([resync.recovered, resync.epoch], [false, client.epoch]);
      assertEquals(client.snapshots, snapshots + 1);
      const h = await health(pb.url);
      assertEquals(h.mongo.resyncs, 1);
      assertEquals(h.status, "ok");
      const metrics = await (await fetch(new URL("/metrics", pb.url))).text();
      assert(/pulseboard_mongo_resyncs_total 1/.test(metrics), "resync counted");
      assert(/pulseboard_mongo_connected 1/.test(metrics), "connected");
      await client.close();
    });
  } finally {
    wire.stop();
  }
});

Deno.test("while MongoDB is unreachable /healthz says degraded, the last state is served, and it comes back", async () => {
  const wire = new MongoWireServer().start();
  try {
    await withPulseboard(wire, async (pb) => {
      const client = new FeedClient(pb.url);
      await client.opened;
      const readings = Array.from({ length: 40 }, (_, i) => reading(i % 4, i));
      wire.insert(DB, COLL, readings.map((r) => toDoc(r)));
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "before");
      wire.stop();
      let h = await degraded(pb.url);
      assert((await fetch(new URL("/readyz", pb.url))).status === 503);
      // Still serving the last state to a new client.
      const during = new FeedClient(pb.url);
      await during.opened;
      await eventually(() => during.snapshots === 1, 5_000);
      assert(sameState(during.state(), recompute(readings)), "last state served");
      await during.close();
      // Ingest cannot be acknowledged now: 503 with Retry-After, nothing half-done.
      const refused = await fetch(new URL("/api/ingest", pb.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([{ sensorId: "x", timestamp: BASE, reading: { t: 1 } }]),
      });
      assertEquals(refused.status, 503);
      assert(refused.headers.has("retry-after"));
      await refused.body?.cancel();
      // Written while we could not see it; picked up from the token on return.
      const more = Array.from({ length: 20 }, (_, i) => reading(i % 4, 100 + i));
      wire.insert(DB, COLL, more.map((r) => toDoc(r)));
      readings.push(...more);
      await wire.restart();
      await eventually(() => sameState(client.state(), recompute(readings)), 15_000, "after");
      await eventually(() => client.values.size > 0, 1_000);
      h = await health(pb.url);
      assertEquals([h.status, h.mongo.state, h.mongo.readingsRead], ["ok", "streaming", 60]);
      await client.close();
    });
  } finally {
    wire.stop();
  }
});

Deno.test("MongoDB down when the server starts: it serves, says degraded, and streams once MongoDB is up", async () => {
  const wire = new MongoWireServer().start();
  wire.stop(); // its port is known, nothing listens on it
  try {
    await withPulseboard(wire, async (pb) => {
      let h = await degraded(pb.url);
      const client = new FeedClient(pb.url);
      await client.opened;
      // MongoDB comes up with documents already in it, and more arrive on the stream.
      const readings = Array.from({ length: 30 }, (_, i) => reading(i % 3, i));
      wire.insert(DB, COLL, readings.slice(0, 20).map((r) => toDoc(r)));
      await wire.restart();
      await eventually(
        async () => (await health(pb.url)).mongo.state === "streaming",
        15_000,
        "up",
      );
      wire.insert(DB, COLL, readings.slice(20).map((r) => toDoc(r)));
      await eventually(() => sameState(client.state(), recompute(readings)), 10_000, "caught up");
      h = await health(pb.url);
      assertEquals([h.status, h.mongo.state, h.mongo.lastError], ["ok", "streaming", null]);
      await client.close();
    });
  } finally {
    wire.stop();
  }
});

Deno.test("two instances on one change stream end in identical state, each with its own checkpoint", async () => {
  const wire = new MongoWireServer().start();
  try {
    await withPulseboard(wire, async (a) => {
      await withPulseboard(wire, async (b) => {
        const ca = new FeedClient(a.url);
        const cb = new FeedClient(b.url);
        await Promise.all([ca.opened, cb.opened]);
        const readings: PlainReading[] = [];
        for (let round = 0; round < 4; round++) {
          const batch = Array.from({ length: 50 }, (_, i) => reading(i % 7, round * 50 + i));
          readings.push(...batch);
          // Writes go through either instance; both see all of them.
          const via = round % 2 === 0 ? a : b;
          const response = await fetch(new URL("/api/ingest", via.url), {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(batch.map((r) => ({
              sensorId: r.sensorId,
              group: r.group,
              timestamp: r.timeMs,
              reading: r.values,
            }))),
          });
          assertEquals((await response.json()).accepted, 50);
        }
        const expected = recompute(readings);
        await eventually(
          () => sameState(ca.state(), expected) && sameState(cb.state(), expected),
          10_000,
          "both instances",
        );
        await eventually(
          async () => {
            const [ha, hb] = await Promise.all([health(a.url), health(b.url)]);
            return ha.mongo.checkpointsSaved > 0 && hb.mongo.checkpointsSaved > 0;
          },
          5_000,
          "a checkpoint on each",
        );
        await Promise.all([ca.close(), cb.close()]);
      });
    });
  } finally {
    wire.stop();
  }
});

Deno.test("a standalone server is refused with a one-line hint and a non-zero exit", async () => {
  const wire = new MongoWireServer({ standalone: true }).start();
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "--port", "0", "--data", ":memory:"],
      cwd: new URL("..", import.meta.url).pathname,
      env: {
        PULSEBOARD_SOURCE: "mongo",
        PULSEBOARD_MONGO_URI: wire.uri(),
        PULSEBOARD_MONGO_DB: DB,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").filter((l) =>
      !l.startsWith("{")
    );
    assertEquals(output.code, 1);
    assertEquals(stderr.length, 1, stderr.join("\n"));
    assert(/replica set/.test(stderr[0]) && /--replSet rs0/.test(stderr[0]), stderr[0]);
    assert(/rs\.initiate\(\)/.test(stderr[0]), stderr[0]);
  } finally {
    wire.stop();
  }
});

Deno.test("restart resumes from the checkpointed token: kill -9 and SIGTERM both end equal to a recomputation", async () => {
  const wire = new MongoWireServer().start();
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mongo-restart-" });
  const env = {
    PULSEBOARD_SOURCE: "mongo",
    PULSEBOARD_MONGO_URI: wire.uri(),
    PULSEBOARD_MONGO_DB: DB,
    PULSEBOARD_MONGO_COLLECTION: COLL,
  };
  const args = ["--port", "0", "--data", `${dir}/store.kv`, "--checkpoint", "100", "--tick", "20"];
  const readings: PlainReading[] = [];
  let n = 0;
  const insert = (count: number) => {
    const batch = Array.from({ length: count }, () => reading(n % 6, n++));
    wire.insert(DB, COLL, batch.map((r) => toDoc(r)));
    readings.push(...batch);
  };
  try {
    for (const signal of ["SIGKILL", "SIGTERM"] as const) {
      const server = await spawnServer(args, { env });
      const url = new URL(server.url);
      const client = new FeedClient(url);
      await client.opened;
      insert(150);
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "before");
      await eventually(
        async () => {
          const h = await health(url);
          return h.mongo.checkpointsSaved > 0 && !h.mongo.checkpointBehind;
        },
        5_000,
        "a checkpoint of it all",
      );
      // More events after the checkpoint: kill -9 loses the state of these, not the events.
      insert(50);
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "more");
      await client.close();
      server.child.kill(signal);
      const status = await server.child.status;
      if (signal === "SIGTERM") assertEquals(status.code, 0);
      const streams = wire.changeStreams.length;
      insert(30); // while it is down

      const again = await spawnServer(args, { env });
      const url2 = new URL(again.url);
      const after = new FeedClient(url2);
      await after.opened;
      await eventually(() => sameState(after.state(), recompute(readings)), 10_000, "after").catch(
        (e) => {
          const want = recompute(readings), got = after.state();
          const diff = Object.keys({ ...want, ...got }).filter((k) =>
            JSON.stringify(want[k]) !== JSON.stringify(got[k])
          ).map((k) => `${k}: want ${JSON.stringify(want[k])} got ${JSON.stringify(got[k])}`);
          const streamsSeen = JSON.stringify(wire.changeStreams.slice(streams));
          throw new Error(`${signal}: ${e.message}\nstreams ${streamsSeen}\n${diff.join("\n")}`);
        },
      );
      const h = await health(url2);
      // It resumed after its checkpoint's token, not from the start (no rebuild scan).
      assertEquals(h.mongo.resyncs, 0);
      assert(wire.changeStreams[streams].resumeAfter !== null, "resumed with a token");
      if (signal === "SIGTERM") {
        // The final checkpoint covered everything: only what came while it was down is read.
        assertEquals(h.mongo.eventsRead, 30);
      } else assert(h.mongo.eventsRead >= 30 && h.mongo.eventsRead <= 80, `${h.mongo.eventsRead}`);
      await after.close();
      again.child.kill("SIGTERM");
      await again.child.status;
    }
  } finally {
    wire.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("kill -9 right after the first checkpoint: documents written during the first scan are not counted twice", async () => {
  const wire = new MongoWireServer().start();
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mongo-scan-race-" });
  const env = {
    PULSEBOARD_SOURCE: "mongo",
    PULSEBOARD_MONGO_URI: wire.uri(),
    PULSEBOARD_MONGO_DB: DB,
    PULSEBOARD_MONGO_COLLECTION: COLL,
  };
  // A long interval: the first checkpoint is the only one before the kill.
  const args = ["--port", "0", "--data", `${dir}/store.kv`, "--checkpoint", "5000", "--tick", "20"];
  const readings = Array.from({ length: 120 }, (_, n) => reading(n % 6, n));
  const scanned = [...readings];
  // Written after the rebuild pinned its stream and before its scan: both see them.
  wire.faults.beforeFind = () => wire.insert(DB, COLL, scanned.map((r) => toDoc(r)));
  try {
    const server = await spawnServer(args, { env });
    const url = new URL(server.url);
    await eventually(
      async () => (await health(url)).mongo.checkpointsSaved > 0,
      10_000,
      "a checkpoint",
    );
    server.child.kill("SIGKILL");
    await server.child.status;
    // Written while it is down, read once: a doubled scan would now change the averages.
    const later = Array.from({ length: 30 }, (_, i) => reading(i % 6, 120 + i));
    wire.insert(DB, COLL, later.map((r) => toDoc(r)));
    readings.push(...later);

    const again = await spawnServer(args, { env });
    const client = new FeedClient(new URL(again.url));
    await client.opened;
    // Settle: every event after the checkpoint's token is read before comparing.
    await eventually(
      async () => (await health(new URL(again.url))).mongo.caughtUp,
      10_000,
      "caught up",
    );
    await eventually(() => Object.keys(client.state()).length === 12, 5_000, "every metric");
    await new Promise((r) => setTimeout(r, 300));
    const got = client.state(), want = recompute(readings);
    assert(sameState(got, want), `got ${JSON.stringify(got)}\nwant ${JSON.stringify(want)}`);
    await client.close();
    again.child.kill("SIGTERM");
    await again.child.status;
  } finally {
    wire.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("deno task sim --mongo inserts simulated documents straight into the collection", async () => {
  const wire = new MongoWireServer().start();
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "sim/main.ts",
        "--mongo",
        wire.uri(),
        "--db",
        DB,
        "--collection",
        "simulated",
        "--sensors",
        "20",
        "--rate",
        "500",
        "--batch",
        "50",
        "--duration",
        "1",
      ],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    const docs = wire.documents(DB, "simulated");
    assert(docs.length >= 200, `${docs.length} documents: ${stdout}`);
    assert(/accepted \d+/.test(stdout), stdout);
    const doc = docs[0];
    assert(typeof doc.sensorId === "string" && doc.timestamp instanceof Date, "ingest shape");
    assert(typeof doc.reading.temperature === "number" && typeof doc.group === "string");
  } finally {
    wire.stop();
  }
});

const promtool = await new Deno.Command("promtool", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "mongo-mode /metrics passes promtool and has the mongo series",
  ignore: !promtool,
}, async () => {
  const wire = new MongoWireServer().start();
  try {
    await withPulseboard(wire, async (pb) => {
      await eventually(async () => (await health(pb.url)).mongo.connected, 5_000, "stream open");
      wire.insert(DB, COLL, [toDoc(reading(1, 1)), { sensorId: "", timestamp: 1, reading: {} }]);
      await eventually(
        async () => (await health(pb.url)).mongo.invalidDocuments === 1,
        5_000,
        "read",
      );
      const text = await (await fetch(new URL("/metrics", pb.url))).text();
      const check = new Deno.Command("promtool", {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = check.stdin.getWriter();
      await writer.write(new TextEncoder().encode(text));
      await writer.close();
      const result = await check.output();
      const problems = new TextDecoder().decode(result.stdout) +
        new TextDecoder().decode(result.stderr);
      assert(result.success, problems);
      for (
        const series of [
          'pulseboard_mongo_events_total{op="insert"}',
          "pulseboard_mongo_invalid_documents_total 1",
          "pulseboard_mongo_resumes_total",
          "pulseboard_mongo_resyncs_total 0",
          "pulseboard_mongo_connected 1",
          "pulseboard_mongo_handoff_seconds_count",
        ]
      ) assert(text.includes(series), `${series} in /metrics`);
    });
  } finally {
    wire.stop();
  }
});
