// GET /api/metrics from a real server: the demo's metadata by default, a
// --metrics-config file's otherwise; a bad file stops the start with its reason.
import { assertEquals } from "./testing/assert.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

Deno.test("GET /api/metrics serves the demo's units, precision and thresholds by default", async () => {
  const server = await startPulseboard({ ...DEFAULT_CONFIG, port: 0, data: ":memory:" });
  try {
    const response = await fetch(new URL("/api/metrics", server.url));
    assertEquals(response.status, 200);
    const { metrics } = await response.json();
    assertEquals(
      Object.entries(metrics).map(([k, m]) => {
        const { unit, precision } = m as { unit: string; precision: number };
        return [k, unit, precision];
      }),
      [["temperature", "°C", 0.1], ["humidity", "%RH", 0.1], ["pressure", "hPa", 0.1]],
    );
    const post = await fetch(new URL("/api/metrics", server.url), { method: "POST" });
    assertEquals(post.status, 405);
    await post.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("--metrics-config replaces the metadata; a bad file is refused at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-meta-" });
  try {
    await Deno.writeTextFile(
      `${dir}/m.yaml`,
      "metrics:\n  rpm:\n    name: Fan\n    unit: rpm\n    precision: 10\n",
    );
    const server = await startPulseboard({
      ...DEFAULT_CONFIG,
      port: 0,
      data: ":memory:",
      metricsConfigFile: `${dir}/m.yaml`,
    });
    try {
      const response = await fetch(new URL("/api/metrics", server.url));
      assertEquals(await response.json(), {
        metrics: { rpm: { name: "Fan", unit: "rpm", precision: 10 } },
      });
    } finally {
      await server.shutdown();
    }
    await Deno.writeTextFile(`${dir}/bad.yaml`, "metrics:\n  rpm: { name: Fan, unit: rpm }\n");
    const refused = await startPulseboard({
      ...DEFAULT_CONFIG,
      port: 0,
      data: ":memory:",
      metricsConfigFile: `${dir}/bad.yaml`,
    }).then(() => "started", (e) => String(e));
    assertEquals(
      refused,
      `TypeError: ${dir}/bad.yaml: metrics.rpm.precision: must be a number above 0 (the step values are measured to, e.g. 0.1)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
