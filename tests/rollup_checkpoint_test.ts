// Rollups not yet written when the server stops are saved with its final
// checkpoint (a stop does not wait for them): after the restart they are
// served at once, equal to a recomputation, and written by the first flush.
import { KEYS } from "../server/store/keys.ts";
import { assert, assertEquals } from "./testing/assert.ts";
import { eventually, recomputeWindows } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { shardFor } from "../actors/shards/shard_for.ts";

async function health(url: URL) {
  return await (await fetch(new URL("/healthz", url))).json();
}

Deno.test("rollups not written at a stop go with its checkpoint: served right after the restart, then written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-rollup-checkpoint-" });
  // Recent enough for the 1 s rollups' retention.
  const base = Date.now() - (Date.now() % 60_000) - 600_000;
  const readings: PlainReading[] = [];
  for (let t = 0; t < 90_000; t += 250) {
    for (const sensorId of ["a", "b", "c"]) {
      readings.push({
        sensorId,
        timeMs: base + t,
        values: { v: (t / 250) % 17 + sensorId.length },
      });
    }
  }
  const config = {
    ...DEFAULT_CONFIG,
    port: 0,
    data: `${dir}/store.kv`,
    tickMs: 20,
    // Nothing is written by the flusher in the first run.
    rollupFlushMs: 3_600_000,
  };
  let server = await startPulseboard(config);
  try {
    for (let i = 0; i < readings.length; i += 300) {
      const response = await fetch(new URL("/api/ingest", server.url), {
        method: "POST",
        body: JSON.stringify(
          readings.slice(i, i + 300).map((r) => ({
            sensorId: r.sensorId,
            timestamp: r.timeMs,
            reading: r.values,
          })),
        ),
        headers: { "content-type": "application/json" },
      });
      assertEquals(response.status, 200);
    }
    await eventually(() => server.hubStats.sensors === 3, 5_000, "the sensors in the view");
    let h = await health(server.url);
    const deadline = Date.now() + 10_000;
    while (h.history.rollupChunksBuffered < 3 * 80 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      h = await health(server.url);
    }
    assert(h.history.rollupChunksBuffered >= 3 * 80, "closed windows are buffered");
    assertEquals(h.history.rollupChunksWritten, 0, "and none written");
  } finally {
    await server.shutdown();
    await server.finished;
  }
  const kv = await Deno.openKv(config.data);
  let stored = 0;
  for (const prefix of [KEYS.rollup, KEYS.rollupBlock, KEYS.rollupSpan]) {
    for await (const _ of kv.list({ prefix: [prefix] })) stored++;
  }
  kv.close();
  assertEquals(stored, 0, "the stop wrote no rollup: they are in the checkpoint");

  server = await startPulseboard({ ...config, rollupFlushMs: 100 });
  try {
    // Served at once from the restored buffer (or, once written, from the store).
    const recount = recomputeWindows(readings, (id) => shardFor(id, DEFAULT_CONFIG.shards));
    const newest = base + 90_000 - 250;
    for (const sensorId of ["a", "b", "c"]) {
      const closed = [...recount.windows].filter(([key]) => {
        const [id, , size, start] = key.split("/");
        return id === sensorId && size === "1000" && Number(start) + 1_000 <= newest - 5_000;
      });
      const { points } = await (await fetch(
        new URL(
          `/api/sensors/${sensorId}/history?metric=v&from=${base}&to=${base + 60_000}&maxPoints=61`,
          server.url,
        ),
      )).json();
      const expected = closed.filter(([key]) => Number(key.split("/")[3]) < base + 60_000);
      assertEquals(points.length, expected.length, sensorId);
      for (const [i, [key, w]] of expected.entries()) {
        assertEquals([points[i].t, points[i].count, points[i].min, points[i].max], [
          Number(key.split("/")[3]),
          w.count,
          w.min,
          w.max,
        ], key);
      }
    }
    // The first flush writes them.
    let h = await health(server.url);
    const deadline = Date.now() + 10_000;
    while (h.history.rollupChunksWritten === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      h = await health(server.url);
    }
    assert(h.history.rollupChunksWritten > 0, "written after the restart");
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
