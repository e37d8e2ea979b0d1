// `deno task sim`: posts simulated sensor readings to a Pulseboard server.
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { runReplay, runSimulator } from "./mod.ts";
import type { SimulatorReport } from "./mod.ts";

const USAGE = `Usage: deno task sim [options]
  --url <url>          server (default http://127.0.0.1:8000)
  --sensors <n>        sensors in the fleet (default 5000)
  --rate <n>           readings per second over the fleet (default 10000)
  --json               post JSON documents instead of FlatBuffers batches
  --replay             post FlatBuffers bodies encoded once, only their timestamps renewed per post
                       (a load generator that costs far less than the server; posts as fast as the
                       server answers when it cannot keep up, nothing skipped)
  --batch <n>          most readings per request (default 1000)
  --linger <ms>        longest a reading waits for its batch to fill (default 100)
  --concurrency <n>    requests in flight (default 2)
  --duration <s>       stop after this many seconds (default: until Ctrl-C / SIGTERM)
  --seed <n>           fleet seed (default 1)
  --key <key>          ingest API key (default: $PULSEBOARD_INGEST_KEY, if set)
  --mongo <uri>        insert documents straight into MongoDB instead of posting (mongo mode)
  --db <name>          with --mongo: database (default pulseboard)
  --collection <name>  with --mongo: collection (default readings)
  --mqtt <url>         publish over MQTT instead (mqtt://host:port, mqtts://): one connection per
                       gateway, one JSON reading per publish on pulseboard/<group>/<sensorId>
  --gateways <n>       with --mqtt: connections, sensors spread over them (default sensors/100)
  --qos <0|1|2>        with --mqtt: QoS of the publishes (default 1)
                       with --mqtt, --batch <n> over 1: one gateway per group publishes IngestBatch
                       payloads of n readings on pulseboard/<group>/gw (default 1: JSON readings)`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function positive(name: string, raw: string | undefined, integer = true): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    fail(`--${name} must be a positive ${integer ? "integer" : "number"}, got "${raw}"`);
  }
  return n;
}

let flags;
try {
  flags = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      url: { type: "string", default: "http://127.0.0.1:8000" },
      sensors: { type: "string" },
      rate: { type: "string" },
      json: { type: "boolean", default: false },
      replay: { type: "boolean", default: false },
      batch: { type: "string" },
      linger: { type: "string" },
      concurrency: { type: "string" },
      duration: { type: "string" },
      seed: { type: "string" },
      key: { type: "string" },
      mongo: { type: "string" },
      db: { type: "string", default: "pulseboard" },
      collection: { type: "string", default: "readings" },
      mqtt: { type: "string" },
      gateways: { type: "string" },
      qos: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}
try {
  new URL(flags.url);
} catch {
  fail(`--url must be a URL like http://127.0.0.1:8000, got "${flags.url}"`);
}

const options = {
  url: flags.url,
  sensors: positive("sensors", flags.sensors) ?? 5000,
  rate: positive("rate", flags.rate, false) ?? 10_000,
  json: flags.json,
  batch: positive("batch", flags.batch),
  lingerMs: positive("linger", flags.linger, false),
  concurrency: positive("concurrency", flags.concurrency),
  seed: positive("seed", flags.seed),
  apiKey: flags.key ?? Deno.env.get("PULSEBOARD_INGEST_KEY"),
};
const duration = positive("duration", flags.duration, false);
if (flags.replay && (flags.json || flags.mongo !== undefined || flags.mqtt !== undefined)) {
  fail("--replay posts FlatBuffers over HTTP: it cannot go with --json, --mongo or --mqtt");
}
if (flags.mqtt !== undefined) {
  const { runMqttSimulatorMain } = await import("./mqtt_main.ts");
  Deno.exit(
    await runMqttSimulatorMain(flags.mqtt, {
      ...options,
      duration,
      gateways: flags.gateways,
      qos: flags.qos,
    }, fail),
  );
}
if (flags.mongo !== undefined && !/^mongodb(\+srv)?:\/\//.test(flags.mongo)) {
  fail("--mongo must be a mongodb:// or mongodb+srv:// URI");
}
const mongoClient = flags.mongo === undefined ? null : new MongoClient(flags.mongo);
const collection = mongoClient?.db(flags.db).collection(flags.collection);

const controller = new AbortController();
let stops = 0;
const stop = () => {
  // A second Ctrl-C does not wait for requests in flight.
  if (stops++ > 0) Deno.exit(130);
  controller.abort();
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
const timer = duration === undefined ? undefined : setTimeout(stop, duration * 1000);

console.log(
  `sim: ${options.sensors} sensors at ${options.rate} readings/s as ${
    collection
      ? "documents"
      : options.json
      ? "JSON"
      : flags.replay
      ? "replayed FlatBuffers"
      : "FlatBuffers"
  } to ${
    collection ? `MongoDB ${flags.db}.${flags.collection}` : new URL("/api/ingest", options.url)
  }${duration === undefined ? " until Ctrl-C" : ` for ${duration} s`}`,
);

let seenErrors: Record<string, number> = {};
const line = (r: SimulatorReport) => {
  // Errors of the last second only, so a recovered server stops showing them.
  const fresh = Object.entries(r.errors)
    .map(([cause, n]) => [cause, n - (seenErrors[cause] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([cause, n]) => `${n}× ${cause}`);
  seenErrors = r.errors;
  return `sim ${(r.elapsedMs / 1000).toFixed(1).padStart(5)}s: ${
    Math.round(r.rate)
  } readings/s accepted (posted ${
    Math.round(r.postedRate)
  }/s, target ${r.target}); total accepted ${r.accepted}, refused ${r.refused}${
    r.skipped ? `, skipped ${r.skipped}` : ""
  }${r.failed ? `, failed ${r.failed}` : ""}${
    fresh.length ? ` | errors: ${fresh.join("; ")}` : ""
  }`;
};

const report = flags.replay
  ? await runReplay({ ...options, onReport: (r) => console.log(line(r)) }, controller.signal)
  : await runSimulator(
    {
      ...options,
      onReport: (r) => console.log(line(r)),
      mongo: collection && {
        insert: async (docs) => {
          await collection.insertMany(docs, { ordered: false, writeConcern: { w: "majority" } });
        },
      },
    },
    controller.signal,
  );
await mongoClient?.close();
clearTimeout(timer);
Deno.removeSignalListener("SIGINT", stop);
Deno.removeSignalListener("SIGTERM", stop);

const seconds = Math.max(report.elapsedMs / 1000, 0.001);
const errors = Object.entries(report.errors).map(([cause, n]) => `  ${n}× ${cause}`);
console.log(
  [
    `sim: stopped after ${seconds.toFixed(1)} s and ${report.requests} requests`,
    `  posted ${report.posted}, accepted ${report.accepted} (${
      Math.round(report.accepted / seconds)
    }/s on average, target ${report.target}/s), refused ${report.refused}, failed ${report.failed}, skipped ${report.skipped}`,
    ...(report.refusalSamples.length
      ? [`  refusals e.g. ${report.refusalSamples.join("; ")}`]
      : []),
    ...(errors.length ? ["  errors:", ...errors] : []),
  ].join("\n"),
);
