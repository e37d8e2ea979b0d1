// Sensors whose clocks run ahead of the server's (by up to --max-future, over
// the grace) cannot make other readings late, end to end: a real server on
// port 0 with a Deno KV file, readings posted through the API at the real
// clock, the feed's late counts and the history answers (open windows)
// compared with a recount from the log. A restart from the final checkpoint,
// and one that replays the whole log, hold the same windows: the bound is
// what the log recorded, not the clock at the replay.
import { assert, assertEquals } from "./testing/assert.ts";
import { eventually, recomputeWindows } from "./testing/recompute.ts";
import { readLog } from "./testing/read_log.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { KEYS } from "../server/store/keys.ts";
import { shardFor } from "../actors/shards/shard_for.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const HONEST = Array.from({ length: 32 }, (_, i) => `v${i}`);
const FAST = Array.from({ length: 16 }, (_, i) => `fast${i}`);

async function post(url: URL, ids: string[], timeMs: number, value: number): Promise<void> {
  const response = await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: JSON.stringify(
      ids.map((sensorId) => ({ sensorId, timestamp: timeMs, reading: { temperature: value } })),
    ),
    headers: { "content-type": "application/json" },
  });
  assertEquals(response.status, 200, await response.text());
}

async function getJson(url: URL, path: string): Promise<Json> {
  const response = await fetch(new URL(path, url));
  assertEquals(response.status, 200, path);
  return await response.json();
}

/** /healthz once the log source has caught up with every sensor back; polls. */
async function caughtUp(server: Pulseboard): Promise<Json> {
  const deadline = Date.now() + 10_000;
  while (true) {
    const health = await getJson(server.url, "/healthz");
    if (health.log.caughtUp && health.sensors === 48) return health;
    assert(Date.now() < deadline, "the restarted server caught up");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every sensor's 1 s windows as the history answer gives them (from open windows here). */
async function windows(server: Pulseboard, from: number): Promise<Record<string, number[][]>> {
  const out: Record<string, number[][]> = {};
  for (const id of [...HONEST, ...FAST]) {
    const body = await getJson(
      server.url,
      `/api/sensors/${id}/history?metric=temperature&from=${from}&to=${from + 20_000}&maxPoints=21`,
    );
    assertEquals([body.resolution, body.bucketMs], ["1s", 1_000], id);
    out[id] = body.points.map((p: Json) => [p.t, p.count, p.min, p.max]);
  }
  return out;
}

Deno.test("sensors whose clocks run 9.9 s ahead make no honest reading late; restarts from the checkpoint and from the whole log hold the same windows", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-fast-clock-" });
  const config = { ...DEFAULT_CONFIG, port: 0, data: `${dir}/store.kv`, tickMs: 20 };
  let server = await startPulseboard(config);
  const now = Date.now();
  const from = Math.floor(now / 1_000) * 1_000 - 5_000;
  let last = now;
  let before: Record<string, number[][]> = {};
  try {
    await t.step("no honest reading is late", async () => {
      await post(server.url, HONEST, now, 1);
      await post(server.url, FAST, now + 9_900, 1);
      for (let round = 1; round <= 5; round++) {
        await new Promise((r) => setTimeout(r, 500));
        last = Date.now();
        await post(server.url, HONEST, last, 1 + round);
      }
      let sensors: Json[] = [];
      await eventually(
        () => {
          void getJson(server.url, "/api/sensors?limit=100").then((b) => sensors = b.sensors);
          return sensors.length === 48 &&
            sensors.every((s) => s.lastSeenMs === (s.id.startsWith("fast") ? now + 9_900 : last));
        },
        10_000,
        "every reading in the feed",
      );
      assertEquals(sensors.filter((s) => s.lateDropped !== 0).map((s) => s.id), []);
      const metrics = await (await fetch(new URL("/metrics", server.url))).text();
      assert(/pulseboard_late_readings_dropped_total 0\b/.test(metrics), "no late reading counted");
      before = await windows(server, from);
      // Every reading of an honest sensor is in its 1 s windows; the fast ones' window is open.
      for (const id of HONEST) {
        assertEquals(before[id].reduce((n, [, count]) => n + count, 0), 6, id);
      }
      for (const id of FAST) {
        const start = Math.floor((now + 9_900) / 1_000) * 1_000;
        assertEquals(before[id], [[start, 1, 1, 1]], id);
      }
    });

    await t.step(
      "the windows equal a recount from the log, which recorded when each chunk was accepted",
      async () => {
        const stored = await readLog(config.data);
        assertEquals(stored.length, 32 * 6 + 16);
        assert(stored.every((r) => r.acceptedMs !== undefined && r.acceptedMs >= now));
        const recount = recomputeWindows(stored, (id) => shardFor(id, config.shards));
        assertEquals(recount.late.size, 0);
        for (const [id, points] of Object.entries(before)) {
          for (const [start, count, min, max] of points) {
            const w = recount.windows.get(`${id}/temperature/1000/${start}`);
            assertEquals([count, min, max], [w?.count, w?.min, w?.max], `${id}@${start}`);
          }
        }
      },
    );

    await t.step("a restart from the final checkpoint holds the same windows", async () => {
      await server.shutdown();
      await server.finished;
      server = await startPulseboard(config);
      const health = await caughtUp(server);
      assert(health.log.startCursor !== null, "restored from the checkpoint");
      assertEquals(await windows(server, from), before);
    });

    await t.step("a restart that replays the whole log holds the same windows", async () => {
      await server.shutdown();
      await server.finished;
      const kv = await Deno.openKv(config.data);
      for (const prefix of [KEYS.checkpoint, KEYS.checkpointPieces]) {
        for await (const entry of kv.list({ prefix: [prefix] })) await kv.delete(entry.key);
      }
      kv.close();
      server = await startPulseboard(config);
      const health = await caughtUp(server);
      assertEquals([health.log.startCursor, health.log.readingsRead], [null, 32 * 6 + 16]);
      assertEquals(await windows(server, from), before);
      const sensors = (await getJson(server.url, "/api/sensors?limit=100")).sensors;
      assertEquals(sensors.filter((s: Json) => s.lateDropped !== 0).map((s: Json) => s.id), []);
    });
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
