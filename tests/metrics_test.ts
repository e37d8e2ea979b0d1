// /metrics in Prometheus text format, checked by the real promtool; /readyz.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

const promtool = await new Deno.Command("promtool", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);
if (!promtool && Deno.env.get("CI") === "true") {
  throw new Error("promtool is missing: CI must check /metrics (apt-get install prometheus)");
}

function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

Deno.test({
  name: "/metrics passes promtool and counts what happened; /readyz is ready once caught up",
  ignore: !promtool,
}, async () => {
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    tickMs: 20,
  });
  const client = new FeedClient(server.url);
  try {
    await client.opened;
    const docs = [
      ...Array.from(
        { length: 7 },
        (_, i) => ({ sensorId: `s${i}`, timestamp: Date.now(), reading: { t: i } }),
      ),
      { sensorId: "", timestamp: 1, reading: { t: 1 } },
      { sensorId: "x", timestamp: "never", reading: { t: 1 } },
      { sensorId: "y", timestamp: 1, reading: { t: 1, u: 1e400 } },
    ];
    const ingest = (body: string, type = "application/json") =>
      fetch(new URL("/api/ingest", server.url), {
        method: "POST",
        body,
        headers: { "content-type": type },
      });
    const response = await ingest(JSON.stringify(docs).replace("null", "1e400"));
    assertEquals((await response.json()).accepted, 7);
    await (await ingest("x", "text/plain")).body?.cancel();
    await eventually(() => client.values.size === 7, 5_000, "client sees the readings");

    const page = await fetch(new URL("/metrics", server.url));
    assert(page.headers.get("content-type")!.startsWith("text/plain"));
    const text = await page.text();
    const check = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    const writer = check.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const result = await check.output();
    const said = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assert(result.success, `promtool: ${said}`);

    assertEquals(sample(text, "pulseboard_readings_ingested_total"), 7);
    assertEquals(sample(text, 'pulseboard_readings_refused_total{reason="sensor_id"}'), 1);
    assertEquals(sample(text, 'pulseboard_readings_refused_total{reason="timestamp"}'), 1);
    assertEquals(sample(text, 'pulseboard_readings_refused_total{reason="value"}'), 1);
    assertEquals(sample(text, 'pulseboard_ingest_rejected_requests_total{status="415"}'), 1);
    assertEquals(sample(text, "pulseboard_clients"), 1);
    // Every sensor is in one attention state (which one depends on how long this took).
    const states = ["critical", "warn", "offline", "stale", "ok", "unknown"];
    assertEquals(
      states.reduce((n, state) => n + sample(text, `pulseboard_sensors{state="${state}"}`), 0),
      7,
    );
    assert(sample(text, "pulseboard_frames_sent_total") >= 1);
    assert(sample(text, "pulseboard_hub_tick_seconds_count") >= 1);
    // Each tick observes every part once: as many part samples as ticks.
    for (const part of ["apply", "judge", "order", "frames", "sends", "topics"]) {
      assertEquals(
        sample(text, `pulseboard_hub_tick_part_seconds_count{part="${part}"}`),
        sample(text, "pulseboard_hub_tick_seconds_count"),
      );
    }
    assert(sample(text, "pulseboard_freshness_seconds_count") >= 1);
    assertEquals(sample(text, 'pulseboard_topic_sessions{topic="*"}'), 1);
    assertEquals(sample(text, 'pulseboard_recoveries_total{result="recovered"}'), 0);

    const ready = await fetch(new URL("/readyz", server.url));
    assertEquals([ready.status, (await ready.json()).ready], [200, true]);
  } finally {
    await client.close();
    await server.shutdown();
    await server.finished;
  }
});
