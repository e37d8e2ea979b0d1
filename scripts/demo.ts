// `deno task demo`: builds the dashboard if needed, starts the server on a
// fresh demo data file and the simulator with 5,000 sensors, and stops both
// on Ctrl-C. Options: --port (default 8000), --host (default 127.0.0.1),
// --sensors (default 5000), --rate (readings/s, default 10000), --mqtt (the
// simulator publishes over MQTT to the server's listener on --mqtt-port,
// default 1883 (0: a free one), one connection per gateway).
import { parseArgs } from "node:util";
import { SERVER_V8_FLAGS_ARG } from "../server/config/v8_flags.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "8000" },
    host: { type: "string", default: "127.0.0.1" },
    sensors: { type: "string", default: "5000" },
    rate: { type: "string", default: "10000" },
    mqtt: { type: "boolean", default: false },
    "mqtt-port": { type: "string", default: "1883" },
  },
});
const deno = Deno.execPath();
const root = new URL("..", import.meta.url).pathname;
const demoData = `${root}data/demo.kv`;

const build = await new Deno.Command(deno, {
  args: ["run", "-A", "scripts/build_web.ts"],
  cwd: root,
}).spawn()
  .status;
if (!build.success) Deno.exit(build.code || 1);

// The demo starts from an empty store each time; `deno task start` keeps its data.
for (const suffix of ["", "-shm", "-wal"]) await Deno.remove(demoData + suffix).catch(() => {});

const server = new Deno.Command(deno, {
  args: [
    "run",
    "-A",
    SERVER_V8_FLAGS_ARG,
    "main.ts",
    "--port",
    values.port,
    "--host",
    values.host,
    "--data",
    demoData,
    ...(values.mqtt ? ["--mqtt-port", values["mqtt-port"]] : []),
  ],
  cwd: root,
  stdout: "piped",
  stderr: "inherit",
}).spawn();

const listening = await listeningUrls(server.stdout, values.mqtt);
const url = listening?.http ?? null;
if (url === null) {
  console.error("The server did not start.");
  Deno.exit((await server.status).code || 1);
}
const shown = url.replace("127.0.0.1", "localhost");
console.log(`\nPulseboard demo: open ${shown} in a browser (Ctrl-C to stop)\n`);

const sim = new Deno.Command(deno, {
  args: [
    "run",
    "-A",
    "sim/main.ts",
    "--sensors",
    values.sensors,
    "--rate",
    values.rate,
    ...(values.mqtt ? ["--mqtt", listening!.mqtt!] : ["--url", url]),
  ],
  cwd: root,
}).spawn();

let stopping = false;
const interrupt = (child: Deno.ChildProcess) => {
  try {
    child.kill("SIGINT");
  } catch {
    // already gone
  }
};
// The simulator first, so the server's last checkpoint has all it sent and
// the simulator does not log refused connections meanwhile; the server
// anyway after 5 s.
const stop = async () => {
  if (stopping) return;
  stopping = true;
  interrupt(sim);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([sim.status, new Promise((done) => timer = setTimeout(done, 5_000))]);
  clearTimeout(timer);
  interrupt(server);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
const first = await Promise.race([sim.status, server.status]);
await stop();
await Promise.all([sim.status, server.status]);
Deno.exit(stopping && first.success ? 0 : first.code);

/**
 * Echoes the server's output and returns the URLs from its "listening"
 * lines: HTTP, and with `mqtt` the MQTT listener's.
 */
async function listeningUrls(
  stream: ReadableStream<Uint8Array>,
  mqtt: boolean,
): Promise<{ http: string; mqtt: string | null } | null> {
  const lines = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (true) {
    const { done, value } = await lines.read();
    if (done) return null;
    Deno.stdout.writeSync(new TextEncoder().encode(value));
    buffer += value;
    const match = buffer.match(/listening on (http:\/\/\S+)/);
    const mqttMatch = buffer.match(/MQTT listening on (mqtt:\/\/\S+)/);
    if (match && (!mqtt || mqttMatch)) {
      // Keep echoing the server's output in the background.
      (async () => {
        while (true) {
          const next = await lines.read();
          if (next.done) return;
          Deno.stdout.writeSync(new TextEncoder().encode(next.value));
        }
      })();
      return { http: match[1].replace(/\/$/, ""), mqtt: mqttMatch?.[1] ?? null };
    }
  }
}
