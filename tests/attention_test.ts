// Attention end to end on a real server and a real Deno KV file: a sensor
// held over a threshold (in event time) is critical in /api/sensors and in
// its viewport row, and a clean restart keeps both its status and the run
// over the threshold.
import { assertEquals } from "./testing/assert.ts";
import { withTempKv } from "./testing/temp_kv.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { ATTENTION } from "../protocol/attention.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

async function post(
  server: Pulseboard,
  docs: { sensorId: string; timestamp: number; reading: Record<string, number>; status?: string }[],
): Promise<void> {
  const response = await fetch(new URL("/api/ingest", server.url), {
    method: "POST",
    body: JSON.stringify(docs),
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, docs.length);
}

/** Polls an async check until it holds. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function attention(server: Pulseboard, id: string): Promise<[string, string | null]> {
  const response = await fetch(new URL(`/api/sensors?q=${id}`, server.url));
  const sensor = (await response.json()).sensors.find((s: { id: string }) => s.id === id);
  return sensor ? [sensor.attention, sensor.status] : ["absent", null];
}

// The shards judge on the main thread (--workers 0) or on a worker: the same answers.
for (const workers of [0, 1]) {
  Deno.test(`a sensor held over its critical threshold is critical; a clean restart keeps status and the held run (--workers ${workers})`, async () => {
    await withTempKv(async (_kv, path) => {
      const config = { ...DEFAULT_CONFIG, port: 0, data: path, tickMs: 20, workers };
      let server = await startPulseboard(config);
      try {
        const t0 = Date.now() - 5_000;
        // temperature: critical above 35 °C, held 2 s (the demo's metadata).
        await post(server, [
          { sensorId: "hot", timestamp: t0, reading: { temperature: 40 } },
          { sensorId: "spike", timestamp: t0, reading: { temperature: 40 } },
          { sensorId: "spike", timestamp: t0 + 1_000, reading: { temperature: 22 } },
          { sensorId: "warned", timestamp: t0, status: "warn", reading: { temperature: 22 } },
        ]);
        // One reading over is not enough: not yet held.
        await eventually(
          async () => (await attention(server, "hot"))[0] !== "absent",
          5_000,
          "hot",
        );
        assertEquals((await attention(server, "hot"))[0] === "critical", false);
        // A topic client (full Deltas) and a compact one are told too.
        const full = new FeedClient(server.url);
        const compact = new FeedClient(server.url, { encoding: "compact" });
        await Promise.all([full.opened, compact.opened]);
        await post(server, [{
          sensorId: "hot",
          timestamp: t0 + 2_000,
          reading: { temperature: 41 },
        }]);
        // Fresh (it just reported) and held 2 s in event time: critical.
        await eventually(
          async () => (await attention(server, "hot"))[0] === "critical",
          5_000,
          "crit",
        );
        for (const client of [full, compact]) {
          await eventually(
            () => Promise.resolve(client.attention.get("hot") === ATTENTION.critical),
            5_000,
            "critical on the feed",
          );
        }
        // A late joiner has it in its snapshot (hot reports again, so it is fresh, not stale).
        await post(server, [{
          sensorId: "hot",
          timestamp: t0 + 2_050,
          reading: { temperature: 41 },
        }]);
        await eventually(
          async () => (await attention(server, "hot"))[0] === "critical",
          5_000,
          "c",
        );
        const joiner = new FeedClient(server.url);
        await eventually(() => Promise.resolve(joiner.snapshots === 1), 5_000, "snapshot");
        assertEquals(joiner.attention.get("hot"), ATTENTION.critical);
        await Promise.all([full.close(), compact.close(), joiner.close()]);
        // A one-reading spike never raised anything (it may have gone stale since).
        assertEquals(["ok", "stale"].includes((await attention(server, "spike"))[0]), true);
        assertEquals((await attention(server, "warned"))[1], "warn");

        // hot drops back under: ok at once.
        await post(server, [{
          sensorId: "hot",
          timestamp: t0 + 2_100,
          reading: { temperature: 20 },
        }]);
        await eventually(
          async () => (await attention(server, "hot"))[0] === "ok",
          5_000,
          "ok again",
        );
        // …and goes over again: its new run starts at t0 + 2,200.
        await post(server, [{
          sensorId: "hot",
          timestamp: t0 + 2_200,
          reading: { temperature: 40 },
        }]);

        await server.shutdown();
        server = await startPulseboard(config);
        // The reported status came back with the state.
        assertEquals((await attention(server, "warned"))[1], "warn");
        // One more reading over, 2 s after the run began before the restart: held, so critical
        // (a restart that forgot the run would start it here and wait 2 s more).
        await post(server, [{
          sensorId: "hot",
          timestamp: t0 + 4_200,
          reading: { temperature: 40 },
        }]);
        await eventually(
          async () => (await attention(server, "hot"))[0] === "critical",
          5_000,
          "kept",
        );
      } finally {
        await server.shutdown();
      }
    });
  });
}
