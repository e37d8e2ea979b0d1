// What the numbers mean, end to end: avg, min and max in the feed and in
// GET /api/sensors cover the same readings, a sensor's last --window readings
// in arrival order (late ones included); last is the newest event time, a tie
// going to the later arrival. Both say how many readings that is.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

Deno.test("feed and API show avg, min and max of the last --window readings in arrival order, and say the window", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-count-window-" });
  const window = 5;
  const base = Date.UTC(2026, 10, 22, 12);
  // Per sensor: an early extreme that leaves the window, late readings (older
  // event times) that stay in it, and event-time ties.
  const readings: PlainReading[] = [];
  for (let i = 0; i < 40; i++) {
    for (const sensorId of ["a", "b", "c"]) {
      const late = i % 6 === 5;
      readings.push({
        sensorId,
        timeMs: late ? base : base + Math.floor(i / 2) * 1000,
        values: { v: i === 0 ? -1000 : i === 1 ? 1000 : ((i * 37) % 23) - 11 + sensorId.length },
      });
    }
  }
  const expected = recompute(readings, window);
  const sinceStart = Math.min(...readings.map((r) => r.values.v));
  assert(Object.values(expected).every((m) => m.min > sinceStart), "the extremes left the window");
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: `${dir}/store.kv`,
    tickMs: 20,
    window,
  });
  try {
    const client = new FeedClient(server.url);
    await client.opened;
    const response = await fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      body: JSON.stringify(readings.map((r) => ({
        sensorId: r.sensorId,
        timestamp: r.timeMs,
        reading: r.values,
      }))),
      headers: { "content-type": "application/json" },
    });
    assertEquals((await response.json()).accepted, readings.length);
    await eventually(() => sameState(client.state(), expected), 10_000, "feed state");
    assertEquals(client.countWindow, window, "the snapshot says how many readings");

    const body = await (await fetch(new URL("/api/sensors", server.url))).json();
    assertEquals(body.countWindow, window, "the API says how many readings");
    for (const sensor of body.sensors) {
      const m = sensor.metrics.v;
      const e = expected[`${sensor.id}/v`];
      assertEquals([m.value, m.timeMs, m.min, m.max], [e.last, e.timeMs, e.min, e.max], sensor.id);
      assert(Math.abs(m.avg - e.avg) <= 1e-9 * Math.max(1, Math.abs(e.avg)), sensor.id);
    }
    await client.close();
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
