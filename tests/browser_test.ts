// The dashboard in Debian's Chromium against a real server and simulator.
import { chromium } from "playwright-core";
import { assert, assertEquals } from "./assert.ts";
import { spawnServer } from "./server_process.ts";

const CHROMIUM = "/usr/bin/chromium";
const root = new URL("..", import.meta.url).pathname;
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium && Deno.env.get("CI") === "true") {
  throw new Error(
    `${CHROMIUM} is missing: CI must run the browser test (apt-get install chromium)`,
  );
}

Deno.test({
  name: "dashboard shows 5,000 live sensors with under 100 rows in the DOM, and values change",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const server = await spawnServer(["--port", "0", "--data", ":memory:"]);
  const sim = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "sim/main.ts", "--sensors", "5000", "--rate", "10000", "--url", server.url],
    cwd: root,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(server.url);
    await page.getByTestId("connection-state").filter({ hasText: "live" }).waitFor({
      timeout: 15_000,
    });
    // Every sensor of the fleet is known to the table.
    await page.getByTestId("sensor-count").filter({ hasText: /^5,000$/ }).waitFor({
      timeout: 20_000,
    });
    const rows = await page.getByTestId("sensor-row").count();
    assert(rows > 10 && rows < 100, `${rows} row elements in the DOM`);

    // A visible value changes within 2 s.
    const firstValue = () =>
      page.locator("[data-testid=sensor-row] [data-metric=temperature] b").first().textContent();
    const firstId = () => page.locator("[data-testid=sensor-row] .id").first().textContent();
    const before = { id: await firstId(), value: await firstValue() };
    const deadline = Date.now() + 2_000;
    let changed = false;
    while (!changed && Date.now() < deadline) {
      await page.waitForTimeout(100);
      changed = (await firstId()) === before.id && (await firstValue()) !== before.value;
    }
    assert(changed, `value of ${before.id} stayed ${before.value} for 2 s`);

    await Deno.mkdir(`${root}tests/artifacts`, { recursive: true });
    await page.screenshot({ path: `${root}tests/artifacts/dashboard.png` });

    // Scrolling to the bottom reaches the last sensor, still with few rows.
    await page.getByTestId("sensor-scroller").evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.getByText("sensor_4999", { exact: true }).waitFor({ timeout: 5_000 });
    assert((await page.getByTestId("sensor-row").count()) < 100);
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-bottom.png` });

    // Picking a group subscribes to it; the URL remembers it across a reload.
    await page.locator("[data-testid=group-picker] [data-group=plant-b]").click();
    await page.getByTestId("sensor-count").filter({ hasText: /^1,250$/ }).waitFor({
      timeout: 10_000,
    });
    assert(new URL(page.url()).searchParams.get("group") === "plant-b", page.url());
    const groups = await page.locator("[data-testid=sensor-row] .group").allTextContents();
    assert(groups.length > 10 && groups.every((g) => g.startsWith("plant-b/")), groups.join(","));
    await page.reload();
    await page.getByTestId("sensor-count").filter({ hasText: /^1,250$/ }).waitFor({
      timeout: 10_000,
    });
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-plant-b.png` });
    assertEquals(errors, []);
  } finally {
    await browser.close();
    sim.kill("SIGTERM");
    await sim.status;
    server.child.kill("SIGTERM");
    await server.child.status;
  }
});

Deno.test({
  name: "with dashboard tokens the page asks for one and then shows only the token's groups",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const secret = "browser-test-secret-".repeat(3);
  Deno.env.set("PULSEBOARD_JWT_SECRET", secret);
  const server = await spawnServer([
    "--port",
    "0",
    "--data",
    ":memory:",
    "--jwt-issuer",
    "https://id.test",
    "--jwt-audience",
    "pulseboard",
  ]);
  Deno.env.delete("PULSEBOARD_JWT_SECRET");
  const sim = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "sim/main.ts", "--sensors", "2000", "--rate", "4000", "--url", server.url],
    cwd: root,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const { SignJWT } = await import("jose");
  const token = await new SignJWT({ groups: ["plant-a"] }).setProtectedHeader({ alg: "HS256" })
    .setIssuer("https://id.test").setAudience("pulseboard").setSubject("browser").setExpirationTime(
      "10m",
    )
    .sign(new TextEncoder().encode(secret));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(server.url);
    await page.getByTestId("token-form").waitFor({ timeout: 10_000 });
    await page.locator("#token").fill(token);
    await page.getByRole("button", { name: "Connect" }).click();
    await page.getByTestId("sensor-count").filter({ hasText: /^500$/ }).waitFor({
      timeout: 15_000,
    });
    const groups = await page.locator("[data-testid=sensor-row] .group").allTextContents();
    assert(groups.length > 10 && groups.every((g) => g.startsWith("plant-a/")), groups.join(","));
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-token.png` });
  } finally {
    await browser.close();
    sim.kill("SIGTERM");
    await sim.status;
    server.child.kill("SIGTERM");
    await server.child.status;
  }
});
