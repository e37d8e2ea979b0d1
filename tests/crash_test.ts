// kill -9 in the middle of ingest under load, several times: no acknowledged
// reading is lost, none is stored or counted twice, and the restarted state
// equals a recomputation from the log.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import {
  eventually,
  recompute,
  recomputeStatus,
  recomputeWindows,
  sameState,
} from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { spawnServer } from "./testing/server_process.ts";
import { readLog } from "./testing/read_log.ts";
import { shardFor } from "../actors/shards/shard_for.ts";

export interface CrashReport {
  acknowledged: number;
  lost: number;
  duplicated: number;
  secondsToFirstDelta: number;
}

/** One crash: load, kill -9 at a random moment, restart, check. */
export async function crashOnce(
  data: string,
  round: number,
  options: { writers?: number; runMs?: number; signal?: Deno.Signal; workers?: number } = {},
) {
  const { writers = 4, runMs = 400, signal = "SIGKILL", workers = 2 } = options;
  const server = await spawnServer([
    "--workers",
    String(workers),
    "--port",
    "0",
    "--data",
    data,
    "--checkpoint",
    "100",
    "--tick",
    "20",
  ]);
  const acked: PlainReading[] = [];
  let stop = false;
  const writer = async (w: number) => {
    for (let n = 0; !stop; n++) {
      const batch = Array.from({ length: 50 }, (_, i) => ({
        sensorId: `r${round}w${w}s${i % 10}`,
        group: "plant-a/line-1",
        timeMs: 1_700_000_000_000 + round * 1e7 + n * 100 + i,
        values: { v: n * 1000 + i },
        // Some readings have none; a sensor's status is its newest one that had one.
        status: ["ok", "warn", ""][(n + i) % 3],
      }));
      const body = JSON.stringify(
        batch.map((r) => ({
          sensorId: r.sensorId,
          group: r.group,
          timestamp: r.timeMs,
          reading: r.values,
          ...(r.status ? { status: r.status } : {}),
        })),
      );
      try {
        const response = await fetch(new URL("/api/ingest", server.url), {
          method: "POST",
          body,
          headers: { "content-type": "application/json" },
        });
        if (response.ok && (await response.json()).accepted === batch.length) acked.push(...batch);
      } catch {
        return; // the server is gone: unacknowledged, so it may or may not be stored
      }
    }
  };
  const writing = Array.from({ length: writers }, (_, w) => writer(w));
  // The load must be running when the server dies: under a busy machine the first answer can
  // take longer than the whole run, so the random moment is counted from it.
  for (const deadline = Date.now() + 30_000; acked.length === 0 && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, runMs / 2 + Math.random() * runMs));
  server.child.kill(signal);
  stop = true;
  const exit = await server.child.status;
  await Promise.all(writing);

  const restartedAt = performance.now();
  const second = await spawnServer([
    "--workers",
    String(workers),
    "--port",
    "0",
    "--data",
    data,
    "--checkpoint",
    "100",
    "--tick",
    "20",
  ]);
  try {
    // After a clean stop the final checkpoint covers everything: nothing to replay.
    const replayed = (await (await fetch(new URL("/healthz", second.url))).json()).log.readingsRead;
    const client = new FeedClient(second.url, { windows: true });
    await client.opened;
    // Readings of this round sent after the restart, so a delta must come.
    const probe = JSON.stringify([{
      sensorId: `probe${round}`,
      timestamp: Date.now(),
      reading: { v: 1 },
    }]);
    await (await fetch(new URL("/api/ingest", second.url), {
      method: "POST",
      body: probe,
      headers: { "content-type": "application/json" },
    })).body?.cancel();
    await eventually(() => client.deltas > 0, 20_000, "first delta after restart");
    const secondsToFirstDelta = (performance.now() - restartedAt) / 1000;

    // What the log holds is the truth (read through a second handle on the
    // same file): compare it with what was acknowledged and what the feed shows.
    const stored = await readLog(data);
    await eventually(
      () => sameState(client.state(), recompute(stored)),
      20_000,
      "state equals the log",
    );
    // Event-time windows (restored open, replayed, and re-published) equal a recount from the log.
    const recount = recomputeWindows(stored, (id) => shardFor(id, 16));
    assert(client.windows.size > 0, "the restarted feed shows windows");
    for (const [key, w] of client.windows) {
      const expected = recount.windows.get(`${key}/${w.startMs}`);
      assert(expected, `window ${key}@${w.startMs} is not in the recount`);
      assertEquals([w.count, w.min, w.max], [expected.count, expected.min, expected.max], key);
      assert(Math.abs(w.sum - expected.sum) <= 1e-6 * Math.max(1, Math.abs(expected.sum)), key);
    }
    for (const [sensor, dropped] of recount.late) {
      if (sensor.startsWith(`r${round}`)) assertEquals(client.late.get(sensor), dropped, sensor);
    }
    // Statuses (of every round so far) equal a recount from the log.
    const page = await (await fetch(new URL("/api/sensors?limit=1000", second.url))).json();
    assertEquals(
      new Map(page.sensors.map((s: { id: string; status: string | null }) => [s.id, s.status])),
      recomputeStatus(stored),
      "statuses after the restart",
    );
    second.child.kill("SIGTERM");
    assertEquals(
      (await second.child.status).code,
      0,
      "SIGTERM after a crash recovery exits cleanly",
    );
    await client.close();
    const key = (r: PlainReading) => `${r.sensorId}@${r.timeMs}`;
    const counts = new Map<string, number>();
    for (const r of stored) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
    const lost = acked.filter((r) => !counts.has(key(r))).length;
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    return {
      acknowledged: acked.length,
      lost,
      duplicated,
      secondsToFirstDelta,
      exitCode: exit.code,
      replayed,
    };
  } catch (error) {
    second.child.kill("SIGKILL");
    await second.child.status.catch(() => {});
    throw error;
  }
}

Deno.test({
  name:
    "kill -9 mid-ingest under load with the shards on 2 workers, three times: nothing acknowledged lost, nothing stored or counted twice",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-crash-load-" });
  const data = `${dir}/store.kv`;
  try {
    for (let round = 0; round < 3; round++) {
      const report = await crashOnce(data, round);
      console.log(
        `crash ${round}: ${report.acknowledged} acknowledged, ${report.lost} lost, ${report.duplicated} duplicated, ` +
          `first delta ${report.secondsToFirstDelta.toFixed(2)} s after the restart began`,
      );
      assert(report.acknowledged > 0, "the load was running when the server died");
      assertEquals([report.lost, report.duplicated], [0, 0], `round ${round}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "SIGTERM under load (shards on 2 workers) exits 0 after a final checkpoint; the restart replays nothing and loses nothing",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-sigterm-load-" });
  try {
    const report = await crashOnce(`${dir}/store.kv`, 0, { signal: "SIGTERM" });
    assert(report.acknowledged > 0, "the load was running when the server was stopped");
    assertEquals(report.exitCode, 0);
    assertEquals([report.lost, report.duplicated], [0, 0]);
    assertEquals(report.replayed, 0, "the final checkpoint covered every committed reading");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
