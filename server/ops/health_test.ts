import { assertEquals } from "../../tests/testing/assert.ts";
import { healthReport } from "./health.ts";
import type { HealthInputs, SourceHealth } from "./health.ts";
import { readiness } from "./readiness.ts";
import { HubStats } from "../../actors/hub/hub_stats.ts";

function inputs(source: Partial<SourceHealth>, over: Partial<HealthInputs> = {}): HealthInputs {
  const health: SourceHealth = {
    caughtUp: true,
    chunksRead: 4,
    readingsRead: 40,
    replayedReadings: 0,
    startCursor: null,
    checkpointsSaved: 1,
    lastCheckpointAt: 1_000,
    checkpointBehind: false,
    pendingReadings: 2,
    readingsCommitted: 40,
    connected: true,
    problem: null,
    writeError: null,
    details: null,
    changeStream: null,
    ...source,
  };
  const stats = new HubStats();
  stats.viewCaughtUp = true;
  return {
    source: { kind: "log", health: () => health },
    hub: { stats, failure: null },
    shards: { health: () => [{ depth: 0, restarts: 0, failed: false }], failed: false },
    ingest: { accepted: 40 },
    transport: { connections: 3, feedSockets: 2, feedAborted: 0, feedTooBig: 0, feedViewsPaced: 0 },
    history: () => ({
      rollupChunksWritten: 0,
      rollupChunksBuffered: 0,
      rollupChunksFailed: 0,
      logChunksDeleted: 0,
    }),
    ...over,
  };
}

const at = { startedAt: 0, checkpointEveryMs: 30_000, now: 60_000 };

Deno.test("ready once caught up and served; each problem is named, in order", () => {
  assertEquals(readiness(inputs({}), at), { ready: true, problems: [] });
  const behind = inputs({ caughtUp: false });
  assertEquals(readiness(behind, at).problems, ["the log source is still catching up"]);
  const unserved = inputs({});
  unserved.hub.stats.viewCaughtUp = false;
  assertEquals(readiness(unserved, at).problems, ["the feed has not yet taken in the replay"]);
  const everything = inputs(
    { connected: false, problem: "MongoDB change stream is degraded", checkpointBehind: true },
    {
      hub: { stats: new HubStats(), failure: new Error("x") },
      shards: { health: () => [], failed: true },
    },
  );
  everything.hub.stats.viewCaughtUp = true;
  // The last checkpoint was at 1 s; at 100 s that is 99 s, over 3 × 30 s.
  assertEquals(readiness(everything, { ...at, now: 100_000 }).problems, [
    "MongoDB change stream is degraded",
    "the hub has failed",
    "a shard has failed for good",
    "no checkpoint for 99 s",
  ]);
});

Deno.test("health is degraded when the hub or a shard failed for good, the source cannot read, or the store's last write failed", () => {
  const ok = healthReport(inputs({}));
  assertEquals([ok.status, ok.transport, ok.log], [
    "ok",
    { connections: 3, feedSockets: 2, feedAborted: 0, feedTooBig: 0, feedViewsPaced: 0 },
    {
      caughtUp: true,
      chunksRead: 4,
      readingsRead: 40,
      pendingReadings: 2,
      writeError: null,
      startCursor: null,
      checkpointsSaved: 1,
      lastCheckpointAt: 1_000,
    },
  ]);
  // The store's last write failed (a full disk): degraded, and why.
  const full = healthReport(inputs({ writeError: "database or disk is full" }));
  assertEquals(
    [full.status, (full.log as { writeError: string }).writeError],
    ["degraded", "database or disk is full"],
  );
  const mongo = healthReport(
    inputs({ connected: false, details: { mongo: { state: "degraded" } } }),
  );
  assertEquals([mongo.status, mongo.mongo], ["degraded", { state: "degraded" }]);
  const failed = healthReport(inputs({}, { shards: { health: () => [], failed: true } }));
  assertEquals(failed.status, "degraded");
});

Deno.test("with MQTT ingest, /healthz shows its counters under mqtt and is degraded while its bridge is down", () => {
  assertEquals("mqtt" in healthReport(inputs({})), false, "nothing when MQTT is off");
  let degraded = false;
  const mqtt = {
    health: () => ({ bridge: { connected: !degraded }, readingsAccepted: 12 }),
    get degraded() {
      return degraded;
    },
  };
  const up = healthReport(inputs({}, { mqtt }));
  assertEquals([up.status, up.mqtt], ["ok", { bridge: { connected: true }, readingsAccepted: 12 }]);
  degraded = true;
  const down = healthReport(inputs({}, { mqtt }));
  assertEquals([down.status, down.mqtt], ["degraded", {
    bridge: { connected: false },
    readingsAccepted: 12,
  }]);
});

Deno.test("/healthz reports the process's memory in bytes: RSS, V8 heap total and used, external", () => {
  const { memory } = healthReport(inputs({})) as {
    memory: { rss: number; heapTotal: number; heapUsed: number; external: number };
  };
  assertEquals(Object.keys(memory).sort(), ["external", "heapTotal", "heapUsed", "rss"]);
  // This very process: some MB of heap in use, within its heap, and RSS holds at least the heap used.
  const mb = 2 ** 20;
  assertEquals(
    [memory.heapUsed > mb, memory.heapUsed <= memory.heapTotal, memory.rss >= memory.heapUsed],
    [true, true, true],
  );
});
