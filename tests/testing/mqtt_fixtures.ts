// Real parts for the MQTT tests: Pulseboard as a child process with its
// MQTT listener, Debian's mosquitto broker, and mosquitto_pub / mosquitto_sub.
import { assert } from "./assert.ts";
import type { MqttHealth } from "../../server/ingest/mqtt/mod.ts";

const root = new URL("../..", import.meta.url).pathname;

/** Debian puts the broker in /usr/sbin, which a user's PATH may lack. */
const MOSQUITTO = (() => {
  try {
    Deno.statSync("/usr/sbin/mosquitto");
    return "/usr/sbin/mosquitto";
  } catch {
    return "mosquitto";
  }
})();

/** Spawns a Debian MQTT tool, saying how to get it when it is missing. */
function command(tool: string, options: Deno.CommandOptions): Deno.Command {
  try {
    Deno.statSync(tool.startsWith("/") ? tool : `/usr/bin/${tool}`);
  } catch {
    if (!tool.startsWith("/") && tool !== "mosquitto") {
      throw new Error(
        `${tool} is missing: apt-get install mosquitto mosquitto-clients (.ci/run does)`,
      );
    }
  }
  return new Deno.Command(tool, options);
}

/** A TCP port that was free a moment ago (for servers that must come back on the same port). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export interface MqttServer {
  child: Deno.ChildProcess;
  pid: number;
  /** HTTP base URL with a trailing slash. */
  url: string;
  /** Embedded listener ports, when asked for. */
  mqttPort: number | null;
  mqttsPort: number | null;
  /** Every line the server wrote to stderr (its JSON logs), so far. */
  logs: string[];
  /** SIGTERM and wait (SIGKILL after 10 s). */
  stop(): Promise<Deno.CommandStatus>;
  /** kill -9 and wait. */
  kill(): Promise<void>;
}

/**
 * Starts `main.ts` with `args` and waits for its "listening on" lines (the
 * HTTP one, then the MQTT one when `--mqtt-port`/`--mqtts-port` is given).
 */
export async function spawnServer(
  args: string[],
  options: { env?: Record<string, string> } = {},
): Promise<MqttServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  drainLines(child.stderr, (line) => logs.push(line));
  const wantsMqtt = args.includes("--mqtt-port") || args.includes("--mqtts-port");
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (
    !/Pulseboard listening on \S+/.test(text) || (wantsMqtt && !/MQTT listening on .*\n/.test(text))
  ) {
    const { done, value } = await reader.read();
    if (done) {
      const status = await child.status;
      throw new Error(
        `server exited (code ${status.code}) before listening: ${text}\n${logs.join("\n")}`,
      );
    }
    text += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  const mqtt = text.match(/mqtt:\/\/[^\s:]+:(\d+)/);
  const mqtts = text.match(/mqtts:\/\/[^\s:]+:(\d+)/);
  let exited: Promise<Deno.CommandStatus> | null = null;
  const status = () => exited ??= child.status;
  return {
    child,
    pid: child.pid,
    url: text.match(/Pulseboard listening on (\S+)/)![1],
    mqttPort: mqtt ? Number(mqtt[1]) : null,
    mqttsPort: mqtts ? Number(mqtts[1]) : null,
    logs,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      const timer = setTimeout(() => {
        // Say where it was stuck: the server's last log lines.
        console.error(
          `server still running 10 s after SIGTERM; its last logs:\n${logs.slice(-30).join("\n")}`,
        );
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, 10_000);
      const result = await status();
      clearTimeout(timer);
      return result;
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await status();
    },
  };
}

export interface Broker {
  port: number;
  tlsPort: number | null;
  dir: string;
  /** SIGTERM (mosquitto saves its persistence) and wait. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and persistence. */
  restart(): Promise<void>;
}

/**
 * Debian's mosquitto on free loopback ports with persistence in a temp dir:
 * anonymous access (or, with `user`, only that user and password), QoS 1
 * queues kept for offline persistent sessions. With `tls` (PEM paths), a
 * second listener serves mqtts.
 */
export async function startBroker(
  options: {
    tls?: { cert: string; key: string };
    user?: { name: string; password: string };
  } = {},
): Promise<Broker> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mosquitto-" });
  // mosquitto run as root drops to its own user: the directory must be its to write.
  await Deno.chmod(dir, 0o777);
  const port = freePort();
  const tlsPort = options.tls ? freePort() : null;
  await Deno.writeTextFile(
    `${dir}/mosquitto.conf`,
    [
      "per_listener_settings false",
      `allow_anonymous ${options.user ? "false" : "true"}`,
      ...(options.user ? [`password_file ${dir}/passwords`] : []),
      "persistence true",
      `persistence_location ${dir}/`,
      "autosave_interval 1",
      "max_queued_messages 1000000",
      "max_inflight_messages 100",
      "log_dest none",
      `listener ${port} 127.0.0.1`,
      ...(options.tls
        ? [
          `listener ${tlsPort} 127.0.0.1`,
          `certfile ${options.tls.cert}`,
          `keyfile ${options.tls.key}`,
        ]
        : []),
    ].join("\n") + "\n",
  );
  if (options.tls) {
    for (const file of [options.tls.cert, options.tls.key]) await Deno.chmod(file, 0o644);
  }
  if (options.user) {
    const { code } = await command("mosquitto_passwd", {
      args: ["-b", "-c", `${dir}/passwords`, options.user.name, options.user.password],
      stdout: "null",
      stderr: "null",
    }).output();
    assert(code === 0, "mosquitto_passwd wrote the password file");
    await Deno.chmod(`${dir}/passwords`, 0o644);
  }
  let child: Deno.ChildProcess | null = null;
  const start = async () => {
    child = command(MOSQUITTO, {
      args: ["-c", `${dir}/mosquitto.conf`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const errors: string[] = [];
    drainLines(child.stderr, (line) => errors.push(line));
    for (let i = 0; i < 100; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`mosquitto did not start: ${errors.join("\n")}`);
  };
  await start();
  return {
    port,
    tlsPort,
    dir,
    async stop() {
      const running = child!;
      try {
        running.kill("SIGTERM");
      } catch { /* exited */ }
      await running.status;
    },
    restart: start,
  };
}

/** Runs mosquitto_pub (or mosquitto_sub) with `args`; gives its exit code and output. */
export async function mosquitto(
  tool: "mosquitto_pub" | "mosquitto_sub",
  args: string[],
  stdin?: string | Uint8Array,
): Promise<{ code: number; out: string }> {
  const child = command(tool, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return {
    code,
    out: new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr),
  };
}

export interface SensorRow {
  id: string;
  group: string;
  metrics: Record<string, { value: number }>;
}

/** Every sensor of `GET /api/sensors`, page by page. */
export async function sensors(url: string): Promise<SensorRow[]> {
  const rows: SensorRow[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const response = await fetch(new URL(`/api/sensors?limit=1000${query}`, url));
    assert(response.ok, `GET /api/sensors: ${response.status}`);
    const page = await response.json();
    rows.push(...page.sensors);
    cursor = page.nextCursor;
  } while (cursor);
  return rows;
}

/** The parts of /healthz the MQTT tests read (each test reads only what it configured). */
export interface HealthPage {
  status: string;
  log: { caughtUp: boolean; startCursor: string | null; readingsRead: number };
  mqtt: MqttHealth & {
    listener: NonNullable<MqttHealth["listener"]>;
    bridge: NonNullable<MqttHealth["bridge"]>;
  };
}

/** The server's /healthz. */
export async function health(url: string): Promise<HealthPage> {
  return await (await fetch(new URL("/healthz", url))).json();
}

/** Polls `check` every 20 ms until it holds; returns the ms it took. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - started;
}

/** Makes a self-signed certificate for localhost and 127.0.0.1 with openssl. */
export async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`, key = `${dir}/key.pem`;
  const { success } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  assert(success, "openssl made a certificate");
  return { cert, key };
}

export function drainLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): void {
  (async () => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      lines.forEach(onLine);
    }
    if (rest) onLine(rest);
  })().catch(() => {});
}

/**
 * A server process with the MQTT listener on a fresh Deno KV file (ticks of
 * 20 ms), given to `run` with the file's path; stopped and removed after.
 */
export async function withMqttServer(
  args: string[],
  run: (server: MqttServer, data: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mqtt-" });
  const data = `${dir}/store.kv`;
  const server = await spawnServer(["--port", "0", "--data", data, "--tick", "20", ...args]);
  try {
    await run(server, data);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Until `/readyz` answers 200: the log read since the start, so a scoped
 * key's writes can be judged (before, they wait: 503, or an MQTT close).
 */
export async function ready(url: string, timeoutMs = 20_000): Promise<void> {
  await until(
    async () => {
      const response = await fetch(new URL("/readyz", url));
      await response.body?.cancel();
      return response.status === 200;
    },
    "the server ready",
    timeoutMs,
  );
}
