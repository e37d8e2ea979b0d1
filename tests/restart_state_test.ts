// A restart on the same Deno KV file serves the state it had, from the first
// moment its port is open: every sensor, its values and its status. After a
// kill -9, /readyz stays 503 until the replayed log tail is in what it serves.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, recomputeStatus, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { spawnServer } from "./testing/server_process.ts";
import { apiSensors, apiState } from "./testing/api_sensors.ts";
import type { ApiSensor } from "./testing/api_sensors.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

const STATUSES = ["ok", "warn", "fault", ""];

/** Readings with statuses (some none), some late, and some event-time ties within a sensor. */
function fleet(count: number, seed: number, sensors = 40): PlainReading[] {
  let state = seed;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const base = Date.UTC(2026, 10, 22, 12) + seed * 1_000_000;
  const lastTime = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const sensorId = `s${Math.floor(random() * sensors)}`;
    let timeMs = base + i * 10 - (random() < 0.1 ? 5_000 : 0);
    // A tie: same event time as this sensor's previous reading, arriving later.
    if (i % 7 === 0 && lastTime.has(sensorId)) timeMs = lastTime.get(sensorId)!;
    lastTime.set(sensorId, timeMs);
    return {
      sensorId,
      group: `plant-${"ab"[i % 2]}`,
      timeMs,
      status: STATUSES[Math.floor(random() * STATUSES.length)],
      values: {
        temperature: Math.round((20 + random() * 5) * 100) / 100,
        humidity: Math.round((40 + random() * 20) * 10) / 10,
      },
    };
  });
}

async function post(url: URL | string, readings: PlainReading[]): Promise<void> {
  for (let start = 0; start < readings.length; start += 250) {
    const batch = readings.slice(start, start + 250);
    const response = await fetch(new URL("/api/ingest", url), {
      method: "POST",
      body: JSON.stringify(batch.map((r) => ({
        sensorId: r.sensorId,
        group: r.group,
        timestamp: r.timeMs,
        reading: r.values,
        ...(r.status ? { status: r.status } : {}),
      }))),
      headers: { "content-type": "application/json" },
    });
    assertEquals((await response.json()).accepted, batch.length);
  }
}

function statusOf(sensors: ApiSensor[]): Map<string, string | null> {
  return new Map(sensors.map((s) => [s.id, s.status]));
}

function sortedEntries<V>(map: Map<string, V>): [string, V][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : 1));
}

for (const workers of [0, 1]) {
  Deno.test(`a clean restart serves every sensor with its values and status from the moment the port opens (--workers ${workers})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "pulseboard-restart-" });
    const data = `${dir}/store.kv`;
    const readings = fleet(3_000, 3);
    const expected = recompute(readings);
    const expectedStatus = recomputeStatus(readings);
    try {
      const first = await startPulseboard({
        ...DEFAULT_CONFIG,
        port: 0,
        data,
        tickMs: 20,
        workers,
      });
      const watcher = new FeedClient(first.url);
      let before: ApiSensor[];
      try {
        await watcher.opened;
        await post(first.url, readings);
        await eventually(
          () => sameState(watcher.state(), expected),
          10_000,
          "state before restart",
        );
        await eventually(
          () => watcher.values.size === Object.keys(expected).length,
          1_000,
          "every metric",
        );
        before = await apiSensors(first.url);
        assert(
          sameState(apiState(before), expected),
          "the API before the restart is the recomputation",
        );
        assertEquals(sortedEntries(statusOf(before)), sortedEntries(expectedStatus));
        assert([...expectedStatus.values()].some((s) => s !== null), "some sensors have a status");
        await watcher.close();
      } finally {
        await first.shutdown();
        await first.finished;
      }
      const feedBefore = watcher.state();

      // A long tick: were the restored state first taken in by a tick, the
      // moments below would see an empty view.
      const second = await startPulseboard({
        ...DEFAULT_CONFIG,
        port: 0,
        data,
        tickMs: 1_000,
        workers,
      });
      try {
        // The very first things after the port opens, all at once.
        const fresh = new FeedClient(second.url);
        const resuming = new FeedClient(second.url, { resumeFrom: watcher });
        const [ready, sensors, health] = await Promise.all([
          fetch(new URL("/readyz", second.url)),
          apiSensors(second.url),
          fetch(new URL("/healthz", second.url)).then((r) => r.json()),
          fresh.opened,
          resuming.opened,
        ]);
        await ready.body?.cancel();
        assertEquals(sensors, before, "GET /api/sensors equals its answer before the restart");
        assertEquals(health.sensors, expectedStatus.size, "/healthz counts every sensor");
        assert(ready.status === 200 || ready.status === 503, `readyz answered ${ready.status}`);

        resuming.subscribe([{ id: 1, all: true }], true);
        await eventually(() => fresh.snapshots === 1, 5_000, "snapshot");
        assertEquals(fresh.firstSnapshot, feedBefore, "the first snapshot holds every value");
        await eventually(() => resuming.snapshots === 1, 5_000, "snapshot after resume");
        assertEquals(resuming.subscribed.map((s) => s.recovered), [false], "a new epoch: resync");
        assertEquals(resuming.firstSnapshot, feedBefore, "the resync snapshot holds every value");

        // Once ready, still the same state (nothing was replayed after a clean stop).
        const deadline = Date.now() + 10_000;
        let readyNow = false;
        while (!readyNow && Date.now() < deadline) {
          const r = await fetch(new URL("/readyz", second.url));
          readyNow = r.status === 200;
          await r.body?.cancel();
          if (!readyNow) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert(readyNow, "the restarted server became ready");
        assertEquals(await apiSensors(second.url), before);
        await fresh.close();
        await resuming.close();
      } finally {
        await second.shutdown();
        await second.finished;
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

async function health(url: string) {
  return await (await fetch(new URL("/healthz", url))).json();
}

Deno.test({
  name:
    "after kill -9, /readyz is 503 until the served state holds the replayed log tail, statuses included",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-restart-kill-" });
  const data = `${dir}/store.kv`;
  const early = fleet(2_000, 5);
  // The tail touches a few sensors only: the others' statuses come from the checkpoint alone.
  const tail = fleet(1_000, 6, 8);
  const all = [...early, ...tail];
  const args = ["--port", "0", "--data", data, "--checkpoint", "1000"];
  try {
    const first = await spawnServer([...args, "--tick", "20"]);
    try {
      await post(first.url, early);
      const deadline = Date.now() + 10_000;
      while ((await health(first.url)).log.checkpointsSaved === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert((await health(first.url)).log.checkpointsSaved > 0, "a checkpoint was saved");
      await post(first.url, tail);
    } finally {
      first.child.kill("SIGKILL");
      await first.child.status;
    }

    // A long tick, so the replay reaches the shards well before a tick takes it in.
    const second = await spawnServer([...args, "--tick", "500"]);
    try {
      const deadline = Date.now() + 20_000;
      let ready = false;
      while (!ready && Date.now() < deadline) {
        const r = await fetch(new URL("/readyz", second.url));
        ready = r.status === 200;
        await r.body?.cancel();
        if (!ready) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert(ready, "the restarted server became ready");
      const sensors = await apiSensors(second.url);
      assert((await health(second.url)).log.readingsRead > 0, "the log tail was replayed");
      assert(sameState(apiState(sensors), recompute(all)), "ready: the API equals a recomputation");
      assertEquals(sortedEntries(statusOf(sensors)), sortedEntries(recomputeStatus(all)));
    } finally {
      second.child.kill("SIGTERM");
      await second.child.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
