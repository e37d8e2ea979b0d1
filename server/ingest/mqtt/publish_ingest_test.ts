import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { withTempKv } from "../../../tests/testing/temp_kv.ts";
import { KvLog } from "../../store/mod.ts";
import { DEFAULT_READING_LIMITS } from "../readings/mod.ts";
import { GroupCommit } from "./group_commit.ts";
import { PublishIngest } from "./publish_ingest.ts";
import type {
  InboundPublish,
  IngestSession,
  PublishIngestOptions,
  PublishOutcome,
} from "./publish_ingest.ts";
import { FleetLimit } from "../fleet_limit.ts";
import { KvRetryRecords } from "./retry_records.ts";
import { RetryWindow } from "./retry_window.ts";
import { MqttStats } from "./stats.ts";

const NOW = Date.UTC(2026, 10, 22, 12);

function setup(kv: Deno.Kv, options: Partial<PublishIngestOptions> = {}) {
  const log = new KvLog(kv);
  const stats = new MqttStats();
  const records = new KvRetryRecords(kv, { ttlMs: 60_000 });
  const ingest = new PublishIngest(
    { commit: new GroupCommit(log), records, stats },
    { limits: DEFAULT_READING_LIMITS, maxBatchReadings: 10_000, now: () => NOW, ...options },
  );
  const send = (session: IngestSession, publish: Partial<InboundPublish> & { body: unknown }) =>
    new Promise<PublishOutcome>((resolve) =>
      ingest.handle(session, {
        topic: publish.topic ?? "pulseboard/plant-z/line-9/s1",
        payload: new TextEncoder().encode(JSON.stringify(publish.body)),
        qos: publish.qos ?? 1,
        messageId: publish.messageId,
        dup: publish.dup ?? false,
      }, resolve)
    );
  const stored = async () => {
    const rows: string[] = [];
    for (const entry of await log.read(null, 1000)) {
      const b = entry.block;
      for (let i = 0; i < b.length; i++) {
        rows.push(
          `${b.strings[b.group[i]]}/${b.strings[b.sensor[i]]}=${b.value[b.metricStart[i]]}`,
        );
      }
    }
    return rows;
  };
  return { ingest, stats, records, send, stored };
}

const session = (over: Partial<IngestSession> = {}): IngestSession => ({
  source: "listener",
  scope: "",
  clientId: "dev-1",
  persistent: true,
  epoch: 0,
  writer: null,
  window: new RetryWindow({ firstPublishes: 100 }),
  ...over,
});

Deno.test("a retry on a new connection of a committed publish is acknowledged and not stored again; a new message reusing its id is stored", async () => {
  await withTempKv(async (kv) => {
    const { send, stored, stats } = setup(kv);
    const first = session();
    assertEquals(
      (await send(first, { messageId: 7, body: { reading: { t: 1 } } })).kind,
      "accepted",
    );
    // The PUBACK was lost: the device reconnects and resends the same publish (no DUP flag, as mqtt.js).
    const again = session();
    assertEquals(
      (await send(again, { messageId: 7, body: { reading: { t: 1 } } })).kind,
      "duplicate",
    );
    // The same id for another message once the first was acknowledged: a new reading.
    assertEquals(
      (await send(again, { messageId: 7, body: { reading: { t: 2 } } })).kind,
      "accepted",
    );
    assertEquals(await stored(), ["plant-z/line-9/s1=1", "plant-z/line-9/s1=2"]);
    assertEquals([stats.publishes.listener.accepted, stats.publishes.listener.duplicate], [2, 1]);
    assertEquals(stats.readingsAccepted, 2);
  });
});

Deno.test("a retry that overtakes its original's commit waits for it and is not stored twice", async () => {
  await withTempKv(async (kv) => {
    const { send, stored } = setup(kv);
    const body = { reading: { t: 5 } };
    const [a, b] = await Promise.all([
      send(session(), { messageId: 9, body }),
      send(session(), { messageId: 9, body, dup: true }),
    ]);
    assertEquals([a.kind, b.kind], ["accepted", "duplicate"]);
    assertEquals(await stored(), ["plant-z/line-9/s1=5"]);
  });
});

Deno.test("clean sessions, QoS 0 and other clients' or keys' ids are never taken for retries", async () => {
  await withTempKv(async (kv) => {
    const { send, stored } = setup(kv);
    const body = { reading: { t: 3 } };
    assertEquals((await send(session(), { messageId: 1, body })).kind, "accepted");
    // A clean session never resends: the same id and payload are a new reading.
    const clean = session({ persistent: false });
    assertEquals((await send(clean, { messageId: 1, body })).kind, "accepted");
    assertEquals((await send(session(), { qos: 0, body })).kind, "accepted");
    assertEquals(
      (await send(session({ clientId: "dev-2" }), { messageId: 1, body })).kind,
      "accepted",
    );
    assertEquals((await send(session({ scope: "k2" }), { messageId: 1, body })).kind, "accepted");
    assertEquals((await stored()).length, 5);
  });
});

Deno.test("only the first publishes of a connection, each id's first use, are looked up", async () => {
  await withTempKv(async (kv) => {
    const { send, stored, records } = setup(kv);
    const body = { reading: { t: 4 } };
    assertEquals((await send(session(), { messageId: 3, body })).kind, "accepted");
    const looked: number[] = [];
    const committed = records.committed.bind(records);
    records.committed = (key) => {
      looked.push(key[4] as number);
      return committed(key);
    };
    const later = session({ window: new RetryWindow({ firstPublishes: 2 }) });
    assertEquals(
      (await send(later, { messageId: 5, body: { reading: { t: 0 } } })).kind,
      "accepted",
    );
    assertEquals(
      (await send(later, { messageId: 5, body: { reading: { t: 9 } } })).kind,
      "accepted",
    );
    // Past the window a publish is new, even one that matches an old record.
    assertEquals((await send(later, { messageId: 3, body })).kind, "accepted");
    assertEquals(looked, [5]);
    assertEquals((await stored()).length, 4);
  });
});

Deno.test("a key may publish only to its groups' topics; bad topics and payloads are invalid and store nothing", async () => {
  await withTempKv(async (kv) => {
    const { send, stored, stats } = setup(kv);
    const keyed = session({ writer: { id: "k1", name: "line 9", groups: ["plant-z/line-9"] } });
    const outside = await send(keyed, {
      topic: "pulseboard/plant-z/line-90/s1",
      messageId: 1,
      body: { reading: { t: 1 } },
    });
    assertEquals(outside.kind, "not_allowed");
    assert(outside.kind === "not_allowed" && /outside the key's groups/.test(outside.reason));
    assertEquals(
      (await send(keyed, { topic: "pulseboard/s1", body: { reading: { t: 1 } } })).kind,
      "not_allowed",
    );
    const bad = await send(keyed, {
      topic: "pulseboard/plant-z/line-9/s1",
      body: { reading: "x" },
    });
    assertEquals(bad.kind, "invalid");
    assertEquals(
      (await send(keyed, { topic: "elsewhere/s1", body: { reading: { t: 1 } } })).kind,
      "invalid",
    );
    assertEquals(
      (await send(keyed, { topic: "pulseboard/plant-z/line-9/a/s2", body: { reading: { t: 2 } } }))
        .kind,
      "accepted",
    );
    assertEquals(await stored(), ["plant-z/line-9/a/s2=2"]);
    assertEquals(stats.publishes.listener.not_allowed, 2);
    assertEquals(stats.publishes.listener.invalid, 2);
    assertEquals(stats.readingsRefused, { malformed: 1, topic: 1 });
  });
});

Deno.test("refused topics, however long or many, are not cached; accepted ones are cached within a budget of bytes", async () => {
  await withTempKv(async (kv) => {
    const budget = 64 * 1024;
    const { ingest, send, stats } = setup(kv, { topicCacheBytes: budget });
    const open = session({ persistent: false });
    const keyed = session({
      persistent: false,
      writer: { id: "k1", name: "line 9", groups: ["plant-z/line-9"] },
    });
    const pad = "a".repeat(60_000);
    const body = { reading: { t: 1 } };
    for (let i = 0; i < 20; i++) {
      // Outside pulseboard/, a sensor id over 128 characters, a group over 128: invalid.
      assertEquals((await send(open, { topic: `elsewhere/${i}${pad}`, body })).kind, "invalid");
      assertEquals((await send(open, { topic: `pulseboard/${i}-${pad}`, body })).kind, "invalid");
      assertEquals(
        (await send(open, { topic: `pulseboard/${i}${"g".repeat(200)}/s`, body })).kind,
        "invalid",
      );
      // A valid topic outside the key's groups.
      assertEquals(
        (await send(keyed, { topic: `pulseboard/plant-y/s${i}`, body })).kind,
        "not_allowed",
      );
    }
    assertEquals(ingest.cachedTopics, { entries: 0, bytes: 0 });
    assertEquals(stats.publishes.listener.invalid, 60);
    // Accepted topics are cached, up to the budget (the oldest go first), whatever their number.
    for (let i = 0; i < 400; i++) {
      const topic = `pulseboard/plant-z/line-9/${"s".repeat(100)}${i}`;
      assertEquals((await send(keyed, { topic, body })).kind, "accepted");
    }
    const { entries, bytes } = ingest.cachedTopics;
    assert(bytes <= budget, `${bytes} bytes cached over a budget of ${budget}`);
    assert(entries > 50 && entries < 400, `${entries} topics cached`);
    // A cached topic still answers as before.
    const again = `pulseboard/plant-z/line-9/${"s".repeat(100)}399`;
    assertEquals((await send(open, { topic: again, body })).kind, "accepted");
  });
});

Deno.test("a publish with a sensor or metric name the router does not have, while it refills, is not acknowledged (failed, Busy) and stores nothing", async () => {
  await withTempKv(async (kv) => {
    // The router has s1 and its metric t, and is being refilled (its counts are partial).
    let settled = false;
    const fleet = new FleetLimit({
      sensorCount: 1,
      metricCount: 1,
      maxMetrics: 1024,
      droppedValues: 0,
      hasSensor: (id) => id === "s1",
      hasMetric: (name) => name === "t",
    }, { maxSensors: 10, settled: () => settled });
    const { send, stored, stats } = setup(kv, { fleet });
    const known = await send(session(), { messageId: 1, body: { reading: { t: 1 } } });
    assertEquals(known.kind, "accepted", "a sensor the router has is taken");
    const newSensor = await send(session(), {
      topic: "pulseboard/plant-z/line-9/s2",
      messageId: 2,
      body: { reading: { t: 2 } },
    });
    const newMetric = await send(session(), { messageId: 3, body: { reading: { h: 3 } } });
    for (const outcome of [newSensor, newMetric]) {
      assert(outcome.kind === "failed" && outcome.error instanceof Deno.errors.Busy);
    }
    assertEquals(await stored(), ["plant-z/line-9/s1=1"]);
    assertEquals([stats.publishes.listener.failed, stats.publishes.listener.invalid], [2, 0]);
    // Once the router is whole, the device's resend is judged and taken.
    settled = true;
    const resent = await send(session(), {
      topic: "pulseboard/plant-z/line-9/s2",
      messageId: 2,
      body: { reading: { t: 2 } },
    });
    assertEquals(resent.kind, "accepted");
  });
});
