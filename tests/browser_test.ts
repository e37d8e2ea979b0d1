// The dashboard in Debian's Chromium against a real server and simulator.
import { chromium } from "playwright-core";
import { assert, assertEquals } from "./testing/assert.ts";
import { spawnServer, stopServer } from "./testing/server_process.ts";
import { ViewState } from "./testing/view_client.ts";
import { portBelowEphemeralRange } from "./testing/fixed_port.ts";

const CHROMIUM = "/usr/bin/chromium";
const root = new URL("..", import.meta.url).pathname;

async function health(url: string): Promise<{ sensors: number }> {
  return await (await fetch(new URL("/healthz", url))).json();
}
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
    // Units (from GET /api/metrics) are in the headers; values show to the metric's precision.
    await page.locator("[data-sort='temperature:last']").filter({ hasText: "(°C)" }).waitFor({
      timeout: 5_000,
    });
    for (const [metric, unit] of [["humidity", "(%RH)"], ["pressure", "(hPa)"]]) {
      assert((await page.locator(`[data-sort='${metric}:last']`).textContent())?.includes(unit));
    }
    const shown = await page.locator("[data-testid=sensor-row] [data-metric=pressure] b")
      .allTextContents();
    assert(shown.length > 0 && shown.every((v) => /^\d+\.\d$/.test(v)), shown.join(" "));

    // A visible value changes (values show to 0.1, so watch the first rows' values). A busy
    // machine's page may be sent 1 frame a second, and a starved page may draw late: allow 15 s.
    const firstValues = () =>
      page.locator("[data-testid=sensor-row]").evaluateAll((rows) =>
        rows.slice(0, 10).map((row) =>
          [...row.querySelectorAll("[data-metric] b")].map((b) => b.textContent).join(" ")
        ).join("|")
      );
    const firstId = () => page.locator("[data-testid=sensor-row] .id").first().textContent();
    let before = { id: await firstId(), value: await firstValues() };
    const deadline = Date.now() + 15_000;
    let changed = false;
    while (!changed && Date.now() < deadline) {
      await page.waitForTimeout(100);
      const now = { id: await firstId(), value: await firstValues() };
      // The count can reach 5,000 a moment before the rows hold every sensor (they join at
      // the view's next ordering, within a second): other rows on top start a new watch.
      if (now.id !== before.id) before = now;
      else changed = now.value !== before.value;
    }
    assert(changed, `the first rows' values stayed ${before.value} for 15 s`);

    await Deno.mkdir(`${root}tests/artifacts`, { recursive: true });
    await page.screenshot({ path: `${root}tests/artifacts/dashboard.png` });

    // The page receives its rows, not the fleet: its own byte counter, and the rate it is sent at.
    // (10 Hz, or less when this machine is busy: the page reports slow frames and is sent fewer.)
    await page.getByTestId("feed-rate").filter({ hasText: /^(10|5|2|1) Hz$/ }).waitFor({
      timeout: 5_000,
    });
    const kbPerSecond: number[] = [];
    for (let i = 0; i < 5; i++) {
      await page.waitForTimeout(1_000);
      kbPerSecond.push(Number(await page.getByTestId("feed-bytes").textContent()));
    }
    // The full feed was about 1,400 KB/s here; a window of rows is a few tens.
    assert(
      kbPerSecond.every((kb) => kb < 150),
      `received ${kbPerSecond.join(", ")} KB/s (a window of rows, not the fleet)`,
    );

    // At a quarter of the CPU (a phone), it is never caught in catch-up snapshots.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
    const notices: string[] = [];
    for (let i = 0; i < 20; i++) {
      await page.waitForTimeout(250);
      const notice = page.getByTestId("feed-notice");
      if (await notice.count() > 0) notices.push((await notice.textContent()) ?? "");
    }
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: 1 });
    assert(!notices.some((n) => /catching up/.test(n)), `notices: ${notices.join(", ")}`);
    await page.getByTestId("connection-state").filter({ hasText: "live" }).waitFor({
      timeout: 1_000,
    });

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
    // A group the user picked is no loss of continuity: no "resynced" notice.
    assertEquals(await page.getByTestId("feed-notice").count(), 0);
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
    await stopServer(server);
  }
});

Deno.test({
  name: "with dashboard tokens the page asks for one and then shows only the token's groups",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const secret = "browser-test-secret-".repeat(3);
  // Only the child gets the secret: tests run in parallel and share this process's environment.
  const server = await spawnServer([
    "--port",
    "0",
    "--data",
    ":memory:",
    "--jwt-issuer",
    "https://id.test",
    "--jwt-audience",
    "pulseboard",
  ], { env: { PULSEBOARD_JWT_SECRET: secret } });
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
    // Every sensor has reported (the simulator starts slowly under CI's parallel tests on
    // 2 cores): the server first, so a slow simulator is told from a page that shows too few.
    const deadline = Date.now() + 60_000;
    let known = 0;
    while ((known = (await health(server.url)).sensors) < 2000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    assertEquals(known, 2000, "the simulator's sensors reached the server");
    await page.getByTestId("sensor-count").filter({ hasText: /^500$/ }).waitFor({
      timeout: 30_000,
    }).catch(async (error) => {
      const shown = await page.getByTestId("sensor-count").textContent().catch(() => "?");
      const state = await page.getByTestId("connection-state").textContent().catch(() => "?");
      throw new Error(`the page shows ${shown} sensors (connection: ${state}), not 500`, {
        cause: error,
      });
    });
    const groups = await page.locator("[data-testid=sensor-row] .group").allTextContents();
    assert(groups.length > 10 && groups.every((g) => g.startsWith("plant-a/")), groups.join(","));
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-token.png` });
  } finally {
    await browser.close();
    sim.kill("SIGTERM");
    await sim.status;
    await stopServer(server);
  }
});

Deno.test({
  name:
    "table sorts, holds its order under the pointer, filters, draws sparklines, and opens a live chart",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const server = await spawnServer(["--port", "0", "--data", ":memory:", "--window", "20"]);
  const sim = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "sim/main.ts", "--sensors", "2000", "--rate", "4000", "--url", server.url],
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
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(server.url);
    await page.getByTestId("sensor-count").filter({ hasText: /^2,000$/ }).waitFor({
      timeout: 20_000,
    });
    const rows = page.getByTestId("sensor-row");
    const ids = () => page.locator("[data-testid=sensor-row] button.id").allTextContents();
    const temperatures = async () =>
      (await page.locator("[data-testid=sensor-row] [data-metric=temperature] b").allTextContents())
        .map(Number);

    // Sparklines: a line once a sensor has values in two seconds.
    await page.locator("[data-testid=sparkline] path").first().waitFor({ timeout: 10_000 });

    // Sort by temperature: highest first, then lowest first. Values move between
    // re-sorts, so compare the two ends of the fleet rather than neighbours.
    // The window is the server's answer to the new sort, so wait for the rows
    // to show the fleet's upper (then lower) half rather than a fixed delay.
    const header = page.locator("[data-sort='temperature:last']");
    await header.click();
    await page.mouse.move(5, 5); // off the rows, so nothing holds the order
    let highest: number[] = [];
    await shows(page, "the highest temperatures first", async () => {
      highest = (await temperatures()).slice(0, 10);
      return highest.length === 10 &&
        Math.min(...highest) > await fleetMedianTemperature(server.url);
    });
    assertEquals(
      await page.locator("[role=columnheader]", { has: header }).getAttribute("aria-sort"),
      "descending",
    );
    await header.click();
    await page.mouse.move(5, 5);
    let lowest: number[] = [];
    await shows(page, "the lowest temperatures first", async () => {
      lowest = (await temperatures()).slice(0, 10);
      return lowest.length === 10 && Math.max(...lowest) < await fleetMedianTemperature(server.url);
    });
    assert(
      Math.min(...highest.slice(0, 10)) > Math.max(...lowest.slice(0, 10)),
      `descending ${highest.slice(0, 10)} vs ascending ${lowest.slice(0, 10)}`,
    );
    await header.click(); // back to highest first
    await page.mouse.move(5, 5);
    await shows(page, "the highest temperatures first again", async () => {
      const top = (await temperatures()).slice(0, 10);
      return top.length === 10 && Math.min(...top) > await fleetMedianTemperature(server.url);
    });
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-sorted.png` });

    // While the pointer is on the rows their order holds, though values keep changing.
    await rows.nth(3).hover();
    const held = await ids();
    const heldValues = await temperatures();
    await page.waitForTimeout(2_500);
    assertEquals(await ids(), held);
    assert((await temperatures()).join() !== heldValues.join(), "values kept updating");
    await page.getByTestId("order-held").waitFor({ timeout: 1_000 });

    // Filter by id substring, then also by group.
    await page.getByTestId("filter-text").fill("sensor_12");
    await shows(page, "only ids with sensor_12", async () => {
      const filtered = await ids();
      return filtered.length > 5 && filtered.every((id) => id.includes("sensor_12"));
    });
    await page.getByTestId("filter-group").selectOption("plant-b");
    await shows(page, "only groups under plant-b/", async () => {
      const groups = await page.locator("[data-testid=sensor-row] .group").allTextContents();
      return groups.length > 0 && groups.every((g) => g.startsWith("plant-b/"));
    });

    // Open a sensor: the panel names it and charts it; without a history API on
    // this server the chart shows the live tail, and it moves.
    const chosen = (await ids())[0];
    await rows.first().click();
    const detail = page.getByTestId("sensor-detail");
    await detail.locator("h2", { hasText: chosen }).waitFor({ timeout: 5_000 });
    await page.getByTestId("history-status").filter({ hasNotText: /loading/ }).waitFor({
      timeout: 5_000,
    });
    assertEquals(new URL(page.url()).searchParams.get("sensor"), chosen);
    // The numbers say what they cover: the server's --window, from the snapshot.
    assertEquals(await page.getByTestId("detail-window").textContent(), "of the last 20 readings");
    assert(
      (await page.locator("[data-sort='temperature:avg']").getAttribute("title"))!
        .includes("the last 20 readings"),
      "the avg header names the window",
    );
    const chart = page.getByTestId("history-chart");
    await chart.locator("canvas").waitFor({ timeout: 5_000 });
    const before = await chart.screenshot();
    await page.waitForTimeout(2_500);
    const after = await chart.screenshot();
    assert(!equalBytes(before, after), "the chart did not change in 2.5 s");
    await detail.locator("[data-zoom='1 h']").click();
    assertEquals(await detail.locator("[data-zoom='1 h']").getAttribute("aria-pressed"), "true");
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-detail.png` });

    // The real history API: 1 s rollups (closed windows, stored or still
    // buffered) joined with the live tail; the summary comes from /api/sensors.
    await detail.locator("[data-zoom='5 min']").click();
    await page.getByTestId("history-status").filter({
      hasText: /(raw|1s buckets) · [1-9]\d* points/,
    })
      .waitFor({ timeout: 10_000 });
    await page.getByTestId("detail-summary").filter({ hasText: /ok|warn|fault/ })
      .waitFor({ timeout: 7_000 });
    // The group view shows the aggregates the feed pushes for the picked group.
    await page.locator("[data-testid=group-picker] [data-group=plant-b]").click();
    await page.getByTestId("aggregates-status").filter({ hasText: /as of/ }).waitFor({
      timeout: 10_000,
    });
    const card = await page.locator("[data-aggregate-metric=temperature]").textContent();
    assert(/\d+\.\d+/.test(card ?? ""), `temperature aggregate card: ${card}`);
    await detail.locator("h2", { hasText: chosen }).waitFor(); // still open: its group was picked
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-live-aggregates.png` });

    // Narrow screen: the panel covers the page and closes again.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-narrow-detail.png` });
    await page.getByTestId("detail-close").click();
    await detail.waitFor({ state: "detached", timeout: 2_000 });
    assertEquals(new URL(page.url()).searchParams.get("sensor"), null);
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-narrow.png` });

    // "Columns" hides a metric's columns, and the browser keeps the choice across a reload.
    await page.setViewportSize({ width: 1280, height: 800 });
    const headers = () =>
      page.locator("[role=columnheader] [data-sort$=':last']").evaluateAll((h) =>
        h.map((e) => e.getAttribute("data-sort"))
      );
    assertEquals(await headers(), ["temperature:last", "humidity:last", "pressure:last"]);
    // Sorted by humidity, then humidity hidden: the table goes back to its default order.
    await page.locator("[data-sort='humidity:last']").click();
    const columns = page.getByTestId("column-picker");
    await columns.locator("summary").click();
    await columns.locator("input[data-metric=humidity]").uncheck();
    assertEquals(
      await page.locator("[role=columnheader]", { has: page.locator("[data-sort=status]") })
        .getAttribute("aria-sort"),
      "descending",
    );
    assertEquals(await headers(), ["temperature:last", "pressure:last"]);
    assertEquals(
      await page.locator("[data-testid=sensor-row] [data-metric=humidity]").count(),
      0,
    );
    // After a reload the page's window is sent without humidity: no values, no sparkline points.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    const received = new ViewState();
    const undecodable: string[] = [];
    // Only the reloaded page's socket: frames of the old one may still come meanwhile.
    let socket: string | null = null;
    cdp.on("Network.webSocketCreated", (event) => (socket ??= event.requestId));
    cdp.on("Network.webSocketFrameReceived", (event) => {
      if (event.response.opcode !== 2 || event.requestId !== socket) return;
      try {
        received.apply(Uint8Array.from(atob(event.response.payloadData), (c) => c.charCodeAt(0)));
      } catch (error) {
        undecodable.push(String(error));
      }
    });
    await page.reload();
    await page.getByTestId("sensor-row").first().waitFor({ timeout: 10_000 });
    assertEquals(await headers(), ["temperature:last", "pressure:last"]);
    assert((await columns.locator("summary").textContent())!.includes("2/3"));
    for (let i = 0; i < 50 && received.kinds.tick < 10; i++) await page.waitForTimeout(100);
    const windowRows = received.window();
    assert(
      windowRows.length > 10 && received.kinds.tick >= 10,
      `${windowRows.length} rows, ${received.kinds.tick} ticks`,
    );
    for (const row of windowRows) {
      assertEquals(Object.keys(row.values).sort(), ["pressure", "temperature"], row.id);
      assertEquals(received.sparkline(row.id, "humidity"), undefined, row.id);
    }
    // Not in any frame since the reload: the first request already hid it.
    assertEquals([received.valuesOf.get("humidity"), received.sparksOf.get("humidity")], [
      undefined,
      undefined,
    ]);
    assert((received.valuesOf.get("temperature") ?? 0) > 0, "temperature values came");
    assertEquals([received.problems, undecodable], [[], []]);
    await cdp.detach();
    assertEquals(errors, []);
  } finally {
    await browser.close();
    sim.kill("SIGTERM");
    await sim.status;
    await stopServer(server);
  }
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test({
  name:
    "the table is a window on 100,000 sensors: the rows shown are the recomputed sorted rows, at the top and far down, and few bytes come",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const server = await spawnServer(["--port", "0", "--data", ":memory:"]);
  const COUNT = 100_000;
  // Distinct temperatures, so the order is one: sensor i has (i × 7919 mod 100,000) / 100.
  const temperature = (i: number) => ((i * 7919) % COUNT) / 100;
  for (let from = 0; from < COUNT; from += 10_000) {
    const docs = Array.from({ length: 10_000 }, (_, k) => ({
      sensorId: `sensor_${from + k}`,
      group: `plant-${"abcd"[(from + k) % 4]}/line-1`,
      timestamp: 1_767_225_600_000 + from + k,
      reading: { temperature: temperature(from + k) },
    }));
    const response = await fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      body: JSON.stringify(docs),
      headers: { "content-type": "application/json" },
    });
    assertEquals((await response.json()).accepted, 10_000);
  }
  const hottest = Array.from({ length: COUNT }, (_, i) => i)
    .sort((a, b) => temperature(b) - temperature(a))
    .map((i) => `sensor_${i}`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    let wsBytes = 0;
    cdp.on("Network.webSocketFrameReceived", (event) => {
      // Binary frames come base64-encoded: 4 characters for 3 bytes.
      wsBytes += Math.floor((event.response.payloadData.length * 3) / 4);
    });
    await page.goto(server.url);
    await page.getByTestId("sensor-count").filter({ hasText: /^100,000$/ }).waitFor({
      timeout: 20_000,
    });
    const shown = async () => {
      const rows = page.locator("[data-testid=sensor-row]");
      const positions = (await rows.evaluateAll((els) =>
        els.map((
          el,
        ) => [Number(el.getAttribute("data-position")), el.getAttribute("data-sensor-id")])
      )) as [number, string][];
      return positions.sort((a, b) => a[0] - b[0]);
    };
    // Hottest first: a click on the temperature header.
    await page.locator("[data-sort='temperature:last']").click();
    await page.mouse.move(5, 5);
    const top = async () => {
      const rows = await shown();
      return rows.length > 10 && rows.every(([position, id]) => hottest[position] === id);
    };
    for (let i = 0; i < 50 && !(await top()); i++) await page.waitForTimeout(100);
    const first = await shown();
    assert(await top(), `top rows ${first.slice(0, 5).map((r) => r.join(":"))}`);
    assertEquals(first[0], [0, hottest[0]]);
    // Far down: the rows at 73,000 are the 73,000th hottest, and so on.
    await page.getByTestId("sensor-scroller").evaluate((el) => (el.scrollTop = 73_000 * 30));
    const far = async () => {
      const rows = await shown();
      return rows.length > 10 && rows[0][0] > 72_900 &&
        rows.every(([position, id]) => hottest[position] === id);
    };
    for (let i = 0; i < 50 && !(await far()); i++) await page.waitForTimeout(100);
    const deep = await shown();
    assert(await far(), `rows at 73,000: ${deep.slice(0, 5).map((r) => r.join(":"))}`);
    assert(deep.length < 100, `${deep.length} rows in the DOM`);
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-100k.png` });
    // The whole visit: tens of kilobytes, not the 100,000 sensors' state (about 5 MB as full frames).
    assert(wsBytes < 1_000_000, `${wsBytes} bytes over the feed`);
    assertEquals(errors, []);
  } finally {
    await browser.close();
    await stopServer(server);
  }
});

/** axe-core's serious and critical violations on the page as it is now. */
async function axeViolations(page: import("playwright-core").Page): Promise<string[]> {
  const source = await Deno.readTextFile(`${root}node_modules/axe-core/axe.min.js`);
  if (!(await page.evaluate(() => "axe" in globalThis))) {
    await page.addScriptTag({ content: source });
  }
  return await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    const axe = (globalThis as any).axe;
    // deno-lint-ignore no-explicit-any
    const result = await axe.run((globalThis as any).document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical")
      .map((
        v: { id: string; impact: string; nodes: { target: string[]; failureSummary: string }[] },
      ) =>
        `${v.impact} ${v.id} ×${v.nodes.length}: ${v.nodes[0].target.join(" ")} — ${
          v.nodes[0].failureSummary.replaceAll("\n", " ")
        }`
      );
  });
}

Deno.test({
  name:
    'attention: a sensor over its threshold is critical within a second; axe finds nothing serious in either theme with the detail open; a killed server dims the values with "as of"; a restart keeps status and attention; the JS comes compressed',
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-browser-" });
  const data = `${dir}/store.kv`;
  // Restarted on this port after a kill: one no other test's sockets can take meanwhile.
  const port = String(await portBelowEphemeralRange());
  let server = await spawnServer(["--port", port, "--data", data], { onStderr: () => {} });
  // A small fleet reporting twice a second, so the table is live and values move.
  let devices = true;
  /** hot_1 keeps reporting 40 °C once it has begun (so it stays fresh, and critical). */
  let hot = false;
  const ingest = (docs: unknown[]) =>
    fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(docs),
    }).then((r) => r.json(), () => null);
  const fleet = setInterval(() => {
    if (!devices) return;
    const now = Date.now();
    ingest([
      ...Array.from({ length: 40 }, (_, i) => ({
        sensorId: `dev_${i}`,
        group: `hall-${i % 2}`,
        timestamp: now,
        reading: { temperature: 20 + Math.random() * 2, humidity: 40 + i % 5, pressure: 1013 },
      })),
      ...(hot
        ? [{ sensorId: "hot_1", group: "hall-0", timestamp: now, reading: { temperature: 40.3 } }]
        : []),
    ]);
  }, 500);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  try {
    const context = await browser.newContext({
      viewport: { width: 1440, height: 900 },
      colorScheme: "dark",
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const encodings = new Map<string, [string | null, number]>();
    page.on("response", async (response) => {
      if (response.url().endsWith(".js")) {
        const encoding = await response.headerValue("content-encoding");
        encodings.set(response.url(), [encoding, (await response.body()).byteLength]);
      }
    });
    await page.goto(server.url);
    await page.getByTestId("connection-state").filter({ hasText: "live" }).waitFor({
      timeout: 15_000,
    });
    await page.locator("[data-sensor-id=dev_0]").waitFor({ timeout: 10_000 });
    // Units in the headers.
    await page.locator("[data-sort='temperature:last']").filter({ hasText: "(°C)" }).waitFor({
      timeout: 5_000,
    });
    // The JS arrived compressed (precompressed brotli or gzip); files too small to gain are not.
    assert(encodings.size > 0, "JS responses seen");
    for (const [url, [encoding, bytes]] of encodings) {
      assert(
        encoding === "br" || encoding === "gzip" || bytes < 1024,
        `${url}: ${encoding}, ${bytes} B`,
      );
    }
    assert(
      [...encodings.values()].some(([e, bytes]) => e === "br" && bytes > 50_000),
      "the app's JS",
    );

    // Over the critical threshold (35 °C), held past the 2 s hold in event time.
    const now = Date.now();
    const accepted = await ingest([
      { sensorId: "hot_1", group: "hall-0", timestamp: now - 2_000, reading: { temperature: 40 } },
      {
        sensorId: "warned_1",
        group: "hall-1",
        timestamp: now,
        status: "warn",
        reading: { temperature: 21 },
      },
      { sensorId: "hot_1", group: "hall-0", timestamp: now, reading: { temperature: 40.2 } },
    ]);
    assertEquals(accepted?.accepted, 3);
    hot = true;
    // Attention first: it is at the top of the table, and says so in words.
    await page.locator("[data-sensor-id=hot_1][data-attention=critical]").waitFor({
      timeout: 1_000,
    });
    assertEquals(
      await page.locator("[data-sensor-id=hot_1] [data-testid=attention]").textContent(),
      "✖ critical",
    );
    assertEquals(
      await page.locator("[data-testid=sensor-row]").first().getAttribute("data-sensor-id"),
      "hot_1",
    );
    // The counts come with the feed (not a poll of /api/groups): with the row, not seconds later.
    await page.getByTestId("count-critical").filter({ hasText: "1" }).waitFor({ timeout: 3_000 });
    assertEquals(await page.locator("[data-counts-from]").getAttribute("data-counts-from"), "feed");
    assertEquals(await page.title(), "1 critical · Pulseboard");
    // The tab's icon is the critical one (a red pulse and dot).
    const icon = await page.locator("link[rel=icon]").getAttribute("href");
    assert(decodeURIComponent(icon ?? "").includes("#ef4444"), `favicon ${icon?.slice(0, 60)}`);

    // The critical count filters the table to critical sensors (the URL says so); the state
    // select to all that need attention; "clear" shows every state again.
    const rowIds = async () =>
      (await page.locator("[data-testid=sensor-row]").evaluateAll((rows) =>
        rows.map((r) => `${r.getAttribute("data-sensor-id")}:${r.getAttribute("data-attention")}`)
      )).sort();
    const showsRows = async (want: (rows: string[]) => boolean, what: string) => {
      for (let i = 0; i < 100 && !want(await rowIds()); i++) await page.waitForTimeout(100);
      assert(want(await rowIds()), `${what}: ${await rowIds()}`);
    };
    await page.getByTestId("show-critical").click();
    await showsRows((rows) => rows.join() === "hot_1:critical", "critical only");
    assertEquals(new URL(page.url()).searchParams.get("state"), "critical");
    assertEquals(await page.getByTestId("show-critical").getAttribute("aria-pressed"), "true");
    await page.getByTestId("match-count").filter({ hasText: /^\s*1 of 42 sensors match/ })
      .waitFor({ timeout: 5_000 });
    await page.getByTestId("filter-state").selectOption("attention");
    // warned_1 reported "warn" once: warn, or stale by now; the 40 devices are ok.
    await showsRows(
      (rows) =>
        rows.length === 2 && rows[0] === "hot_1:critical" &&
        /^warned_1:(warn|stale)$/.test(rows[1]),
      "needs attention",
    );
    assertEquals(new URL(page.url()).searchParams.get("state"), "attention");
    await page.reload();
    await showsRows((rows) => rows.length === 2 && rows[0] === "hot_1:critical", "after a reload");
    assertEquals(await page.getByTestId("filter-state").inputValue(), "attention");
    await page.getByTestId("table-filter").getByRole("button", { name: "clear" }).click();
    await showsRows((rows) => rows.length > 30 && rows.includes("dev_0:ok"), "every state");
    assertEquals(new URL(page.url()).searchParams.get("state"), null);

    // The detail panel open, in both themes: nothing serious or critical for axe.
    await page.locator("[data-sensor-id=hot_1] button.id").click();
    await page.getByTestId("history-chart").waitFor({ timeout: 5_000 });
    await page.getByTestId("detail-attention").filter({ hasText: "critical" }).waitFor({
      timeout: 7_000,
    });
    const dark = await axeViolations(page);
    await page.getByTestId("theme-toggle").click();
    assertEquals(await page.locator("html").getAttribute("data-theme"), "light");
    const light = await axeViolations(page);
    await page.screenshot({ path: `${root}tests/artifacts/attention-light.png` });
    assertEquals({ dark, light }, { dark: [], light: [] });

    // Killed: values dim, and the banner says as of when, why, and when it retries.
    devices = false;
    server.child.kill("SIGKILL");
    await server.child.status;
    await page.getByTestId("stale-banner").waitFor({ timeout: 5_000 });
    const banner = await page.getByTestId("stale-banner").textContent();
    assert(/Values as of \d\d:\d\d:\d\d/.test(banner ?? ""), banner ?? "");
    assert(/cannot be reached|closed/.test(banner ?? ""), banner ?? "");
    assert(!/1006/.test(banner ?? ""), "a reason in words, not a close code");
    const opacity = await page.locator("[data-sensor-id=dev_1] .cell").first().evaluate((el) =>
      // deno-lint-ignore no-explicit-any
      Number((globalThis as any).getComputedStyle(el).opacity)
    );
    assert(opacity < 0.6, `values dimmed (opacity ${opacity})`);
    // It says "Reconnecting…" while an attempt runs; on a loaded CI host a refused attempt
    // took over 5 s to fail in Chromium, so this waits as long as the reconnect below.
    await page.getByTestId("retry-countdown").filter({ hasText: /Retrying in \d+ s/ }).waitFor({
      timeout: 15_000,
    });
    assertEquals(await page.title(), "Disconnected · Pulseboard");
    await page.screenshot({ path: `${root}tests/artifacts/attention-disconnected.png` });

    // Restarted on the same file and port: the page reconnects (retry now), status and the
    // held run over the threshold are back: one more reading over it is critical at once.
    server = await spawnServer(["--port", port, "--data", data], { onStderr: () => {} });
    await page.getByTestId("retry-now").click().catch(() => {});
    await page.getByTestId("connection-state").filter({ hasText: "live" }).waitFor({
      timeout: 15_000,
    });
    const warned = await (await fetch(new URL("/api/sensors?q=warned_1", server.url))).json();
    assertEquals(warned.sensors[0].status, "warn");
    await ingest([
      { sensorId: "hot_1", group: "hall-0", timestamp: Date.now(), reading: { temperature: 40.1 } },
    ]);
    await page.locator("[data-sensor-id=hot_1][data-attention=critical]").waitFor({
      timeout: 1_000,
    });
    assertEquals(errors, []);
  } finally {
    clearInterval(fleet);
    await browser.close();
    await stopServer(server).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/** The median last temperature over the whole fleet, from the read API's pages. */
async function fleetMedianTemperature(url: string): Promise<number> {
  const values: number[] = [];
  let cursor = "";
  do {
    const response = await fetch(new URL(`/api/sensors?limit=1000&cursor=${cursor}`, url));
    const body = await response.json();
    for (const s of body.sensors) {
      const t = s.metrics.temperature?.value;
      if (typeof t === "number") values.push(t);
    }
    cursor = body.nextCursor ?? "";
  } while (cursor !== "");
  values.sort((a, b) => a - b);
  return values[values.length >> 1];
}

/** Polls `check` every 200 ms for up to 10 s; fails naming what the page did not show. */
async function shows(
  page: { waitForTimeout(ms: number): Promise<void> },
  what: string,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`the table did not show ${what} within 10 s`);
    await page.waitForTimeout(200);
  }
}

Deno.test({
  name:
    "a fleet of 1,500 sites opens its group tree collapsed and searchable, with a bounded DOM, and a typed group filters the table",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const server = await spawnServer(["--port", "0", "--data", ":memory:"]);
  // 3,000 sensors: two per site, each in its own area: 4,500 groups with the sites.
  const docs = Array.from({ length: 3_000 }, (_, i) => ({
    sensorId: `sensor_${i}`,
    group: `site-${i % 1_500}/area-${i < 1_500 ? 1 : 2}`,
    timestamp: Date.now(),
    reading: { temperature: 20 + i / 1000 },
  }));
  const response = await fetch(new URL("/api/ingest", server.url), {
    method: "POST",
    body: JSON.stringify(docs),
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, 3_000);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(server.url);
    const picker = page.getByTestId("group-picker");
    const find = page.getByTestId("group-find");
    await find.waitFor({ timeout: 20_000 });
    // Collapsed: the sites only, a few hundred at a time, not 4,500 buttons.
    const shown = () =>
      picker.locator("[data-group]").evaluateAll((b) =>
        b.map((e) => e.getAttribute("data-group")!)
      );
    const first = await shown();
    assertEquals(first.length, 200);
    assert(first.every((g) => /^site-\d+$/.test(g)), first.slice(0, 5).join());
    assertEquals(first.slice(0, 3), ["site-0", "site-1", "site-2"]);
    await picker.getByTestId("group-more").click();
    assertEquals((await shown()).length, 400);
    // Expanding a site shows its areas under it.
    await picker.getByRole("button", { name: "expand site-7", exact: true }).click();
    const open = await shown();
    assertEquals(open.slice(open.indexOf("site-7"), open.indexOf("site-7") + 4), [
      "site-7",
      "site-7/area-1",
      "site-7/area-2",
      "site-8",
    ]);
    // A picked group's site can still be closed.
    await picker.locator("[data-group='site-7/area-2']").click();
    await picker.getByRole("button", { name: "collapse site-7", exact: true }).click();
    const closed = await shown();
    assert(
      !closed.includes("site-7/area-2") && closed.includes("site-7"),
      closed.slice(0, 12).join(),
    );
    // Searching lists the matching groups by their whole path; picking one shows its sensors.
    await find.fill("site-1499");
    assertEquals(await shown(), ["site-1499", "site-1499/area-1", "site-1499/area-2"]);
    await picker.locator("[data-group='site-1499/area-2']").click();
    await page.locator("[data-testid=sensor-row] .group", { hasText: "site-1499/area-2" })
      .first().waitFor({ timeout: 10_000 });
    assertEquals(
      [...new Set(await page.locator("[data-testid=sensor-row] .group").allTextContents())],
      ["site-1499/area-2"],
    );
    // Back to all sensors; the table's group filter is a search box here, applied once it names a group.
    await picker.locator("button", { hasText: "All sensors" }).click();
    const filter = page.getByTestId("filter-group-text");
    await filter.fill("site-42");
    await page.waitForTimeout(300);
    assertEquals(await filter.getAttribute("aria-invalid"), "false");
    await shows(page, "only groups under site-42/", async () => {
      const groups = await page.locator("[data-testid=sensor-row] .group").allTextContents();
      return groups.length > 0 && groups.every((g) => g.startsWith("site-42/"));
    });
    await filter.fill("site-42/area-9");
    assertEquals(await filter.getAttribute("aria-invalid"), "true");
    assert(
      await page.locator("*").count() < 5_000,
      `${await page.locator("*").count()} elements in the page`,
    );
    await page.screenshot({ path: `${root}tests/artifacts/dashboard-many-groups.png` });
    // The collapsed tree, its toggles and the search boxes: nothing serious for axe.
    await find.fill("");
    assertEquals(await axeViolations(page), []);
    assertEquals(errors, []);
  } finally {
    await browser.close();
    await stopServer(server);
  }
});
