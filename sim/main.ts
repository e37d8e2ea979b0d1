// `deno task sim`: posts simulated sensor readings to a Pulseboard server.
import { parseArgs } from "node:util";
import { runSimulator } from "./mod.ts";
import type { SimulatorReport } from "./mod.ts";

const USAGE = `Usage: deno task sim [options]
  --url <url>          server (default http://127.0.0.1:8000)
  --sensors <n>        sensors in the fleet (default 5000)
  --rate <n>           readings per second (default 10000)
  --json               post JSON documents instead of FlatBuffers
  --batch <n>          most readings per request (default rate/20, at most 1000)
  --concurrency <n>    requests in flight (default 2)
  --duration <s>       stop after this many seconds (default: until Ctrl-C)
  --seed <n>           random seed (default 1)`;

function positive(name: string, raw: string | undefined, fallback?: number): number | undefined {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) {
    console.error(`--${name} must be a positive number, got "${raw}"\n\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}

let args;
try {
  args = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string", default: "http://127.0.0.1:8000" },
      sensors: { type: "string" },
      rate: { type: "string" },
      json: { type: "boolean", default: false },
      batch: { type: "string" },
      concurrency: { type: "string" },
      duration: { type: "string" },
      seed: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  Deno.exit(2);
}
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}

const controller = new AbortController();
const stop = () => controller.abort();
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
const duration = positive("duration", args.duration);
const timer = duration ? setTimeout(stop, duration * 1000) : undefined;

const options = {
  url: args.url!,
  sensors: Math.floor(positive("sensors", args.sensors, 5000)!),
  rate: positive("rate", args.rate, 10_000)!,
  json: args.json,
  batch: args.batch ? Math.floor(positive("batch", args.batch)!) : undefined,
  concurrency: Math.floor(positive("concurrency", args.concurrency, 2)!),
  seed: Math.floor(positive("seed", args.seed, 1)!),
};
console.log(
  `sim: ${options.sensors} sensors at ${options.rate} readings/s as ${
    options.json ? "JSON" : "FlatBuffers"
  } to ${options.url}`,
);
const line = (r: SimulatorReport) => {
  const errors = Object.entries(r.errors).map(([cause, n]) => `${n}× ${cause}`).join("; ");
  return `sim: ${(r.elapsedMs / 1000).toFixed(0)}s  ${
    Math.round(r.rate)
  } readings/s  accepted ${r.accepted}  refused ${r.refused}${errors ? `  errors: ${errors}` : ""}`;
};
const report = await runSimulator(
  { ...options, onReport: (r) => console.log(line(r)) },
  controller.signal,
);
clearTimeout(timer);
Deno.removeSignalListener("SIGINT", stop);
Deno.removeSignalListener("SIGTERM", stop);
const seconds = report.elapsedMs / 1000;
console.log(
  `sim: done after ${seconds.toFixed(1)}s: posted ${report.posted}, accepted ${report.accepted} (${
    Math.round(report.accepted / Math.max(seconds, 0.001))
  }/s average), refused ${report.refused}${
    report.refusalSamples.length ? ` (e.g. ${report.refusalSamples.join("; ")})` : ""
  }`,
);
