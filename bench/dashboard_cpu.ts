// The dashboard's own cost in Chromium at the demo's load: main-thread busy
// time (CDP Performance.getMetrics TaskDuration, as % of one core), script,
// style recalculation and layout time, and animation-frame intervals.
//   deno run -A bench/dashboard_cpu.ts [--root <checkout>] [--seconds 20]
// `--root` runs the server (and so the dashboard it serves) from another
// checkout with a built web/build: before/after comparisons on one machine.
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { startServer, startSimulator, stopAll } from "./processes.ts";

const { values } = parseArgs({
  options: {
    root: { type: "string" },
    seconds: { type: "string", default: "20" },
    "reduced-motion": { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const server = await startServer(["--port", "0", "--data", ":memory:"], 60_000, {
  cwd: values.root,
});
startSimulator(["--sensors", "5000", "--rate", "10000", "--url", server.url]);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1400, height: 900 },
    reducedMotion: values["reduced-motion"] ? "reduce" : "no-preference",
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  await page.goto(server.url);
  await page.getByTestId("connection-state").filter({ hasText: "live" }).waitFor({
    timeout: 30_000,
  });
  await new Promise((r) => setTimeout(r, 8_000));
  const metrics = async () => {
    const { metrics } = await cdp.send("Performance.getMetrics");
    return Object.fromEntries(
      metrics.map((m: { name: string; value: number }) => [m.name, m.value]),
    );
  };
  const before = await metrics();
  const intervals = await page.evaluate(async (ms: number) => {
    const raf = (globalThis as unknown as {
      requestAnimationFrame: (f: (at: number) => void) => void;
    }).requestAnimationFrame.bind(globalThis);
    const out: number[] = [];
    let last = performance.now();
    const end = last + ms;
    await new Promise<void>((resolve) => {
      const frame = (at: number) => {
        out.push(at - last);
        last = at;
        if (at < end) raf(frame);
        else resolve();
      };
      raf(frame);
    });
    return out;
  }, seconds * 1000);
  const after = await metrics();
  const wall = after.Timestamp - before.Timestamp;
  const share = (name: string) => ((after[name] - before[name]) / wall) * 100;
  intervals.sort((a, b) => a - b);
  const at = (q: number) =>
    intervals[Math.min(intervals.length - 1, Math.floor(q * intervals.length))];
  console.log(JSON.stringify({
    root: values.root ?? "this checkout",
    seconds: Math.round(wall),
    mainThreadPercent: Number(share("TaskDuration").toFixed(1)),
    scriptPercent: Number(share("ScriptDuration").toFixed(1)),
    styleRecalcPercent: Number(share("RecalcStyleDuration").toFixed(1)),
    layoutPercent: Number(share("LayoutDuration").toFixed(1)),
    styleRecalcsPerSecond: Number(
      ((after.RecalcStyleCount - before.RecalcStyleCount) / wall).toFixed(1),
    ),
    rafP50Ms: Number(at(0.5).toFixed(1)),
    rafP99Ms: Number(at(0.99).toFixed(1)),
  }));
} finally {
  await browser.close();
  await stopAll();
}
