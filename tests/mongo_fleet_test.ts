// Mongo mode end to end: the fleet's caps (--max-sensors, the router's 1,024
// metric names) while the collection is loaded or rebuilt, when the router
// starts over and its counts are partial. The real driver against
// tests/testing/mongo_wire_server.ts, whose scan is held half way.
import type { Document } from "bson";
import { assert, assertEquals } from "./testing/assert.ts";
import { MongoWireServer } from "./testing/mongo_wire_server.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { createApiKey } from "./testing/keys_cli.ts";
import { eventually } from "./testing/recompute.ts";

const DB = "pulseboard";
const COLL = "readings";
/** The source hands the scan over 5,000 documents at a time: the first batch is routed, then held. */
const FIRST_BATCH = 5_000;

async function health(url: URL) {
  return await (await fetch(new URL("/healthz", url))).json();
}

function post(pb: Pulseboard, docs: unknown[]): Promise<Response> {
  return fetch(new URL("/api/ingest", pb.url), {
    method: "POST",
    body: JSON.stringify(docs),
    headers: { "content-type": "application/json" },
  });
}

/** `post` as a client does: again after a 503, until the server has caught up (10 s at most). */
async function postSettled(pb: Pulseboard, docs: unknown[]): Promise<Response> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const response = await post(pb, docs);
    if (response.status !== 503 || Date.now() > deadline) return response;
    await response.body?.cancel();
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Scans held and not released yet: a failed test releases them, so its server can stop. */
const held = new Set<() => void>();

/** Posts one reading once the fleet is settled and expects it refused (200, none accepted) for `reason`. */
async function assertRefused(
  pb: Pulseboard,
  doc: { sensorId: string; reading: Record<string, number> },
  reason: RegExp,
): Promise<void> {
  const response = await postSettled(pb, [{ ...doc, timestamp: Date.now() }]);
  const body = await response.json();
  assertEquals([response.status, body.accepted], [200, 0]);
  assert(reason.test(body.refused[0].reason), body.refused[0].reason);
}

/** A scan held after its first batch until `release`. */
function holdScan(wire: MongoWireServer): () => void {
  let resolve!: () => void;
  wire.faults.findGate = new Promise((r) => resolve = r);
  const release = () => {
    wire.faults.findGate = null;
    held.delete(release);
    resolve();
  };
  held.add(release);
  return release;
}

async function withServer(
  wire: MongoWireServer,
  maxSensors: number,
  run: (pb: Pulseboard) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mongo-fleet-" });
  const pb = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: `${dir}/store.kv`,
    tickMs: 20,
    logLevel: "error",
    source: "mongo",
    mongoUri: wire.uri(),
    mongoDb: DB,
    mongoCollection: COLL,
    maxSensors,
  });
  try {
    await run(pb);
  } finally {
    for (const release of [...held]) release();
    await pb.shutdown();
    await pb.finished;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * While the router holds part of the collection (the first load, or a
 * rebuild's refill), a new sensor waits (503) and a sensor it has is taken.
 */
async function duringRefill(pb: Pulseboard, label: string): Promise<void> {
  await eventually(async () => (await health(pb.url)).fleet.sensors === FIRST_BATCH, 10_000, label);
  const fresh = await post(pb, [{
    sensorId: `new-${label}`,
    timestamp: Date.now(),
    reading: { t: 1 },
  }]);
  assertEquals(fresh.status, 503, `${label}: a new sensor cannot be counted yet`);
  assert(fresh.headers.get("retry-after"), `${label}: 503 says when to come back`);
  await fresh.body?.cancel();
  const known = await post(pb, [{ sensorId: "s0", timestamp: Date.now(), reading: { t: 2 } }]);
  assertEquals(
    [known.status, (await known.json()).accepted],
    [200, 1],
    `${label}: a sensor the router has is still taken`,
  );
}

Deno.test("mongo: --max-sensors holds while the collection is loaded and while it is rebuilt", async () => {
  const total = FIRST_BATCH + 1_000;
  const wire = new MongoWireServer().start();
  const at = new Date(Date.now() - 60_000);
  wire.insert(
    DB,
    COLL,
    Array.from({ length: total }, (_, i) => ({
      sensorId: `s${i}`,
      group: "plant-a/l1",
      timestamp: at,
      reading: { t: i },
    })),
  );
  try {
    let release = holdScan(wire);
    await withServer(wire, total, async (pb) => {
      await duringRefill(pb, "first load");
      release();
      await eventually(
        async () => (await health(pb.url)).fleet.sensors === total,
        10_000,
        "loaded",
      );
      // Full now: a new sensor is refused for the cap, not taken past it.
      await assertRefused(pb, { sensorId: "one-more", reading: { t: 1 } }, /--max-sensors/);

      // History lost: the router starts over and is refilled from the collection.
      release = holdScan(wire);
      wire.stop();
      // Written while the server was away, then forgotten by the history: the token is lost.
      wire.insert(DB, COLL, [{ sensorId: "s1", timestamp: new Date(), reading: { t: 3 } }]);
      wire.truncateHistory();
      await wire.restart();
      await duringRefill(pb, "rebuild");
      release();
      await eventually(async () => (await health(pb.url)).mongo.resyncs === 1, 10_000, "rebuilt");
      await new Promise((r) => setTimeout(r, 300));
      const h = await health(pb.url);
      assertEquals([h.fleet.sensors, h.fleet.maxSensors], [total, total]);
      assertEquals(
        wire.documents(DB, COLL).length,
        total + 3,
        "only s0's and s1's readings were added",
      );
    });
  } finally {
    wire.stop();
  }
});

Deno.test("mongo: a new metric name waits while the collection is loaded, so no value acknowledged is dropped", async () => {
  const wire = new MongoWireServer().start();
  const at = new Date(Date.now() - 60_000);
  // The first batch names one metric; the documents after it bring the names to 1,024.
  const docs: Document[] = Array.from({ length: FIRST_BATCH }, (_, i) => ({
    sensorId: `s${i % 100}`,
    timestamp: at,
    reading: { m0: i },
  }));
  for (let m = 1; m < 1_024; m++) {
    docs.push({ sensorId: `s${m % 100}`, timestamp: at, reading: { [`m${m}`]: m } });
  }
  wire.insert(DB, COLL, docs);
  try {
    const release = holdScan(wire);
    await withServer(wire, DEFAULT_CONFIG.maxSensors, async (pb) => {
      await eventually(
        async () => (await health(pb.url)).fleet.sensors === 100,
        10_000,
        "first batch",
      );
      assertEquals((await health(pb.url)).fleet.metricNames, 1);
      const fresh = await post(pb, [{
        sensorId: "s0",
        timestamp: Date.now(),
        reading: { extra: 1 },
      }]);
      assertEquals(fresh.status, 503, "a new metric name cannot be counted yet");
      await fresh.body?.cancel();
      const known = await post(pb, [{ sensorId: "s0", timestamp: Date.now(), reading: { m0: 7 } }]);
      assertEquals([known.status, (await known.json()).accepted], [200, 1]);
      release();
      await eventually(
        async () => (await health(pb.url)).fleet.metricNames === 1_024,
        10_000,
        "loaded",
      );
      // Now it is judged against the whole count: refused for the cap, with a reason.
      await assertRefused(
        pb,
        { sensorId: "s0", reading: { extra: 1 } },
        /metric name "extra" is new/,
      );
      await new Promise((r) => setTimeout(r, 300));
      assertEquals((await health(pb.url)).fleet.droppedValues, 0, "nothing acknowledged dropped");
      const s0 = await (await fetch(new URL("/api/sensors?q=s0&limit=1", pb.url))).json();
      assertEquals(s0.sensors[0].metrics.m0.value, 7);
    });
  } finally {
    wire.stop();
  }
});

Deno.test("mongo: a sensor another writer moved is judged by the router's newer group, not by this instance's older claim", async () => {
  const wire = new MongoWireServer().start();
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mongo-claim-" });
  const data = `${dir}/store.kv`;
  const key = (name: string, groups: string) => createApiKey(data, name, groups);
  const ka = await key("a", "plant-a"), kb = await key("b", "plant-b");
  const pb = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data,
    tickMs: 20,
    logLevel: "error",
    source: "mongo",
    mongoUri: wire.uri(),
    mongoDb: DB,
    mongoCollection: COLL,
  });
  const write = async (k: string, group: string) => {
    for (;;) {
      const r = await fetch(new URL("/api/ingest", pb.url), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${k}` },
        body: JSON.stringify([{
          sensorId: "victim",
          group,
          timestamp: Date.now(),
          reading: { t: 1 },
        }]),
      });
      if (r.status !== 503) return await r.json();
      await r.body?.cancel();
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const groupNow = async () =>
    (await (await fetch(new URL("/api/sensors?q=victim", pb.url))).json()).sensors[0]?.group;
  try {
    assertEquals((await write(kb, "plant-b/l1")).accepted, 1);
    await eventually(async () => (await groupNow()) === "plant-b/l1", 5_000, "plant-b");
    // Another writer (an ops tool, another instance) moves it, straight into the collection.
    wire.insert(DB, COLL, [{
      sensorId: "victim",
      group: "plant-a/l1",
      timestamp: new Date(),
      reading: { t: 2 },
    }]);
    await eventually(async () => (await groupNow()) === "plant-a/l1", 5_000, "plant-a");
    assertEquals((await write(ka, "plant-a/l1")).accepted, 1, "plant-a's key writes its sensor");
    const b = await write(kb, "plant-b/l1");
    assertEquals(
      [b.accepted, b.refused[0]?.reason],
      [0, 'sensor "victim" is in group "plant-a/l1", which this key may not write'],
    );
  } finally {
    await pb.shutdown();
    await pb.finished;
    wire.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
