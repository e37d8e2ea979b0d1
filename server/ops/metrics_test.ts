import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { PrometheusMetrics } from "./metrics.ts";
import type { SourceHealth } from "./health.ts";
import { HubStats } from "../../actors/hub/hub_stats.ts";
import { allocateStates } from "../../protocol/columns.ts";

function sourceHealth(over: Partial<SourceHealth> = {}): SourceHealth {
  return {
    caughtUp: true,
    chunksRead: 0,
    readingsRead: 0,
    replayedReadings: 0,
    startCursor: null,
    checkpointsSaved: 0,
    lastCheckpointAt: 0,
    checkpointBehind: false,
    pendingReadings: 0,
    readingsCommitted: 0,
    connected: true,
    problem: null,
    writeError: null,
    details: null,
    changeStream: null,
    ...over,
  };
}

/** The value of an unlabelled series, or of one with these labels. */
function value(page: string, name: string, labels = ""): number | undefined {
  const line = page.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

function setUp(kind: "log" | "mongo") {
  const ingest = {
    requests: 0,
    accepted: 0,
    refusedBy: {} as Record<string, number>,
    rejectedRequests: {} as Record<string, number>,
  };
  const hub = new HubStats();
  let health = sourceHealth();
  const handOffs: ((h: { receivedAt: number; handedAt: number }) => void)[] = [];
  const shards = [{ depth: 3, restarts: 0, failed: false }, {
    depth: 0,
    restarts: 2,
    failed: true,
  }];
  const metrics = new PrometheusMetrics({
    ingest,
    hub,
    source: {
      kind,
      health: () => health,
      observeHandOffs: (listener) => void handOffs.push(listener),
    },
    shards: { health: () => shards },
  });
  return {
    metrics,
    ingest,
    hub,
    handOffs,
    setHealth: (h: Partial<SourceHealth>) => (health = sourceHealth(h)),
  };
}

Deno.test("metrics mirror the stages' counters: each scrape adds what grew since the last", async () => {
  const { metrics, ingest, hub, setHealth } = setUp("log");
  ingest.requests = 5;
  ingest.accepted = 40;
  ingest.refusedBy = { timestamp: 2 };
  hub.framesSent = 7;
  hub.sessions = 3;
  setHealth({ readingsCommitted: 100, readingsRead: 70, replayedReadings: 0, caughtUp: false });
  let page = await metrics.render();
  assertEquals(value(page, "pulseboard_ingest_requests_total"), 5);
  assertEquals(value(page, "pulseboard_readings_ingested_total"), 40);
  assertEquals(value(page, "pulseboard_readings_refused_total", '{reason="timestamp"}'), 2);
  assertEquals(value(page, "pulseboard_frames_sent_total"), 7);
  assertEquals(value(page, "pulseboard_clients"), 3);
  assertEquals(value(page, "pulseboard_log_lag_readings"), 30, "committed - read");
  assertEquals(value(page, "pulseboard_log_caught_up"), 0);
  assertEquals(value(page, "pulseboard_shard_mailbox_depth", '{shard="0"}'), 3);
  assertEquals(value(page, "pulseboard_shard_restarts_total", '{shard="1"}'), 2);
  assertEquals(value(page, "pulseboard_shards_failed"), 1);
  ingest.requests = 8;
  hub.framesSent = 7; // no change: the counter stays
  page = await metrics.render();
  assertEquals(value(page, "pulseboard_ingest_requests_total"), 8);
  assertEquals(value(page, "pulseboard_frames_sent_total"), 7);
  assertEquals(
    value(page, "pulseboard_mongo_connected"),
    undefined,
    "no change stream in log mode",
  );
});

Deno.test("in mongo mode the change stream's counters and hand-off times are metrics too", async () => {
  const { metrics, handOffs, setHealth } = setUp("mongo");
  setHealth({
    connected: false,
    changeStream: { events: { insert: 9, delete: 1 }, invalidDocuments: 2, resumes: 1, resyncs: 0 },
  });
  handOffs.forEach((h) => h({ receivedAt: 0, handedAt: 3 })); // 3 ms
  const page = await metrics.render();
  assertEquals(value(page, "pulseboard_mongo_events_total", '{op="insert"}'), 9);
  assertEquals(value(page, "pulseboard_mongo_invalid_documents_total"), 2);
  assertEquals(value(page, "pulseboard_mongo_connected"), 0);
  assertEquals(value(page, "pulseboard_mongo_handoff_seconds_count"), 1);
  assertEquals(value(page, "pulseboard_mongo_handoff_seconds_bucket", '{le="0.0025"}'), 0);
  assertEquals(value(page, "pulseboard_mongo_handoff_seconds_bucket", '{le="0.005"}'), 1);
});

Deno.test("the hub's observer feeds the tick, tick-part and freshness histograms, sampled per tick", async () => {
  const { metrics } = setUp("log");
  const parts = { apply: 0.8, judge: 0.2, order: 2, frames: 0.6, sends: 0.3, topics: 0.1 };
  metrics.hubObserver.tick(4, parts); // 4 ms
  const updates = allocateStates(1_000);
  updates.timeMs.fill(9_900); // sent at 10 000: 100 ms fresh
  metrics.hubObserver.sent(updates, 10_000);
  const page = await metrics.render();
  assertEquals(value(page, "pulseboard_hub_tick_seconds_count"), 1);
  assertEquals(value(page, "pulseboard_hub_tick_seconds_bucket", '{le="0.0025"}'), 0);
  assertEquals(value(page, "pulseboard_hub_tick_seconds_bucket", '{le="0.005"}'), 1);
  // Each part once, in the first bucket that holds it: order (2 ms) only from 0.0025 s.
  for (const [part, ms] of Object.entries(parts)) {
    assertEquals(value(page, "pulseboard_hub_tick_part_seconds_count", `{part="${part}"}`), 1);
    assertEquals(
      value(page, "pulseboard_hub_tick_part_seconds_sum", `{part="${part}"}`),
      ms / 1000,
    );
  }
  assertEquals(
    value(page, "pulseboard_hub_tick_part_seconds_bucket", '{le="0.001",part="order"}'),
    0,
  );
  assertEquals(
    value(page, "pulseboard_hub_tick_part_seconds_bucket", '{le="0.0025",part="order"}'),
    1,
  );
  assertEquals(
    value(page, "pulseboard_hub_tick_part_seconds_bucket", '{le="0.001",part="apply"}'),
    1,
  );
  // 1000 updates, at most 64 observed: every ceil(1000 / 64) = 16th, 0 to 992: 63, all of 0.1 s.
  assertEquals(value(page, "pulseboard_freshness_seconds_count"), 63);
  assertEquals(value(page, "pulseboard_freshness_seconds_bucket", '{le="0.05"}'), 0);
  assertEquals(value(page, "pulseboard_freshness_seconds_bucket", '{le="0.1"}'), 63);
  assert(page.includes("# TYPE pulseboard_freshness_seconds histogram"));
});

Deno.test("with MQTT ingest its counters are series too, every label from the first scrape; without it, none", async () => {
  const off = await setUp("log").metrics.render();
  assert(!off.includes("pulseboard_mqtt_"), "no MQTT series without MQTT ingest");
  const counters = {
    publishes: {
      listener: { accepted: 4, duplicate: 1, invalid: 0 },
      bridge: { accepted: 0, duplicate: 0, invalid: 2 },
    },
    readingsAccepted: 30,
    readingsRefused: { timestamp: 3 },
    connects: { accepted: 5, bad_key: 2 },
    connections: 4,
    tooLarge: 1,
    commits: 2,
    pendingReadings: 7,
    bridgeConnected: true,
  };
  const metrics = new PrometheusMetrics({
    ingest: { requests: 0, accepted: 0, refusedBy: {}, rejectedRequests: {} },
    hub: new HubStats(),
    source: { kind: "log", health: () => sourceHealth() },
    shards: { health: () => [] },
    mqtt: { counters: () => counters },
  });
  let page = await metrics.render();
  const publishes = "pulseboard_mqtt_publishes_total";
  assertEquals(value(page, publishes, '{source="listener",outcome="accepted"}'), 4);
  assertEquals(value(page, publishes, '{source="listener",outcome="invalid"}'), 0);
  assertEquals(value(page, publishes, '{source="bridge",outcome="invalid"}'), 2);
  assertEquals(value(page, "pulseboard_mqtt_readings_ingested_total"), 30);
  assertEquals(value(page, "pulseboard_mqtt_readings_refused_total", '{reason="timestamp"}'), 3);
  assertEquals(value(page, "pulseboard_mqtt_connects_total", '{outcome="bad_key"}'), 2);
  assertEquals(value(page, "pulseboard_mqtt_connections"), 4);
  assertEquals(value(page, "pulseboard_mqtt_too_large_total"), 1);
  assertEquals(value(page, "pulseboard_mqtt_commits_total"), 2);
  assertEquals(value(page, "pulseboard_mqtt_pending_readings"), 7);
  assertEquals(value(page, "pulseboard_mqtt_bridge_connected"), 1);
  // Counters add what grew since the last scrape; the gauges read the present.
  counters.publishes.listener.accepted = 9;
  counters.bridgeConnected = false;
  page = await metrics.render();
  assertEquals(value(page, publishes, '{source="listener",outcome="accepted"}'), 9);
  assertEquals(value(page, "pulseboard_mqtt_bridge_connected"), 0);
});
