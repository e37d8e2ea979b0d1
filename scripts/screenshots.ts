// `deno task screenshots`: the README's screenshots, made from a real server
// and simulator in Chromium, so they stay current. Desktop (1440×900) and
// phone (390×844), dark and light, with one sensor held critical so the
// attention column has something to show. Writes docs/screenshots/*.png.
import { chromium } from "playwright-core";
import type { Page } from "playwright-core";
// @ts-types="npm:@types/upng-js@2.1.5"
import UPNG from "upng-js";
import { spawnServer } from "../tests/testing/server_process.ts";

const root = new URL("..", import.meta.url).pathname;
const out = `${root}docs/screenshots`;
const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

await Deno.mkdir(out, { recursive: true });

/** A screenshot as a 256-colour PNG: the README's images stay small (text and flat colours). */
async function shoot(page: Page, path: string): Promise<void> {
  const png = await page.screenshot();
  const image = UPNG.decode(new Uint8Array(png).buffer);
  const rgba = UPNG.toRGBA8(image)[0];
  await Deno.writeFile(path, new Uint8Array(UPNG.encode([rgba], image.width, image.height, 256)));
}
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
      await shoot(page, `${out}/${name}-${theme}.png`);
      if (name === "desktop") {
        await page.locator("[data-sensor-id=boiler_7] button.id").click();
        await page.getByTestId("history-chart").waitFor();
        await page.waitForTimeout(2_500);
        await shoot(page, `${out}/${name}-${theme}-detail.png`);
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
