// `deno task screenshots`: the README's screenshots, made from a real server
// and simulator in Chromium, so they stay current. Desktop (1440×900) and
// phone (390×844), dark and light, with one sensor held critical so the
// attention column has something to show. Writes docs/screenshots/*.png.
import { chromium } from "playwright-core";
import { spawnServer } from "../tests/testing/server_process.ts";

const root = new URL("..", import.meta.url).pathname;
const out = `${root}docs/screenshots`;
const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

await Deno.mkdir(out, { recursive: true });
const server = await spawnServer(["--port", "0", "--data", ":memory:"], { onStderr: () => {} });
const sim = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "sim/main.ts", "--sensors", "2000", "--rate", "2000", "--url", server.url],
  cwd: root,
  stdout: "null",
  stderr: "null",
}).spawn();
// A device over its critical threshold for longer than the hold, and one warning.
const hot = setInterval(() => {
  const now = Date.now();
  fetch(new URL("/api/ingest", server.url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([
      {
        sensorId: "boiler_7",
        group: "plant-a/line-1",
        timestamp: now,
        reading: { temperature: 38.4, humidity: 31.2, pressure: 1012.9 },
      },
      {
        sensorId: "dryer_2",
        group: "plant-b/line-2",
        timestamp: now,
        reading: { temperature: 24.1, humidity: 74.6, pressure: 1013.4 },
      },
    ]),
  }).then((r) => r.body?.cancel(), () => {});
}, 500);
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
try {
  await new Promise((r) => setTimeout(r, 4_000));
  for (const theme of ["dark", "light"] as const) {
    for (
      const [name, viewport] of [["desktop", { width: 1440, height: 900 }], ["phone", {
        width: 390,
        height: 844,
      }]] as const
    ) {
      const context = await browser.newContext({ viewport, colorScheme: theme });
      const page = await context.newPage();
      await page.goto(server.url);
      await page.getByTestId("connection-state").filter({ hasText: "live" }).waitFor({
        timeout: 15_000,
      });
      await page.locator("[data-attention=critical]").first().waitFor({ timeout: 15_000 });
      await page.waitForTimeout(1_500);
      await page.screenshot({ path: `${out}/${name}-${theme}.png` });
      if (name === "desktop") {
        await page.locator("[data-sensor-id=boiler_7] button.id").click();
        await page.getByTestId("history-chart").waitFor();
        await page.waitForTimeout(2_500);
        await page.screenshot({ path: `${out}/${name}-${theme}-detail.png` });
      }
      await context.close();
    }
  }
  console.log(`wrote ${out}/*.png`);
} finally {
  clearInterval(hot);
  await browser.close();
  sim.kill("SIGTERM");
  await sim.status;
  server.child.kill("SIGTERM");
  await server.child.status;
}
