// Child processes of the benchmark (server, simulator), started so that they
// are always stopped: each is registered until it exits, and `stopAll` ends
// whatever is left (on errors, Ctrl-C and at the end).

import os from "node:os";
import { SERVER_V8_FLAGS_ARG } from "../server/config/v8_flags.ts";

const root = new URL("..", import.meta.url).pathname;
const live = new Set<Deno.ChildProcess>();

/** Stops a child: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopProcess(
  child: Deno.ChildProcess,
  // A profiled server writes its profile as it exits: give it time.
  graceMs = Deno.env.get("PULSEBOARD_BENCH_SERVER_FLAGS") ? 60_000 : 5_000,
): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    child.status.then(() => true),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs))),
  ]);
  clearTimeout(timer);
  if (!exited) {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
    await child.status;
  }
  live.delete(child);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((child) => stopProcess(child)));
}

/** Synchronous last resort for the unload event. */
export function killAll(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
  }
}

export interface ServerProcess {
  child: Deno.ChildProcess;
  pid: number;
  /** Base URL with a trailing slash. */
  url: string;
  /** The MQTT listener's URL, when started with --mqtt-port. */
  mqttUrl?: string;
  /** The server's "stopped" log line, once it has stopped. */
  stopped?: string;
}

/** Starts `main.ts` and waits (at most `timeoutMs`) for its "listening on" line. */
export async function startServer(
  args: string[],
  timeoutMs = 30_000,
  options: { cwd?: string; denoArgs?: string[] } = {},
): Promise<ServerProcess> {
  // E.g. PULSEBOARD_BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
  const flags = Deno.env.get("PULSEBOARD_BENCH_SERVER_FLAGS")?.split(/\s+/).filter(Boolean) ?? [];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      SERVER_V8_FLAGS_ARG,
      ...flags,
      ...(options.denoArgs ?? []),
      "main.ts",
      ...args,
    ],
    cwd: options.cwd ?? root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  live.add(child);
  child.status.then(() => live.delete(child));
  // Keep only the server's warnings and errors on our stderr: its info lines would bury the table.
  const server: { stopped?: string } = {};
  drainLines(child.stderr, (line) => {
    if (line.includes('"msg":"stopped"')) server.stopped = line;
    if (/"level":"(warn|error)"/.test(line) && !/ingest is open|not authenticated/.test(line)) {
      console.error(`server: ${line}`);
    }
  });
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`server did not report listening within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    const mqtt = args.includes("--mqtt-port");
    while (!/listening on (\S+)/.test(text) || (mqtt && !/MQTT listening on (\S+)/.test(text))) {
      const { done, value } = await Promise.race([reader.read(), deadline]);
      if (done) throw new Error(`server exited before listening: ${text}`);
      text += value;
    }
  } catch (error) {
    await stopProcess(child);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stdout so the child never blocks on a full pipe; with
  // PULSEBOARD_BENCH_SERVER_STDOUT=<file> (e.g. for --v8-flags=--trace-gc) it is kept there.
  const keep = Deno.env.get("PULSEBOARD_BENCH_SERVER_STDOUT");
  (async () => {
    const file = keep ? await Deno.open(keep, { write: true, create: true, append: true }) : null;
    const encoder = new TextEncoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (file) await file.write(encoder.encode(value));
      }
    } catch {
      /* closed */
    } finally {
      file?.close();
    }
  })();
  return Object.assign(server, {
    child,
    pid: child.pid,
    url: text.match(/listening on (\S+)/)![1],
    mqttUrl: text.match(/MQTT listening on (\S+)/)?.[1],
  });
}

export interface SimProcess {
  child: Deno.ChildProcess;
  /** The simulator's last lines (its summary once it has exited). */
  lines: string[];
}

/** Runs `sim/main.ts` with these flags; output is kept, not printed. */
/**
 * Sets every thread of process `pid` to `nice` (Linux: niceness is per
 * thread); returns how many it set. The load generators and clients of a
 * bench stand for other machines: at a higher nice the server's threads get
 * a core first when both are busy, as they would on a machine of their own.
 */
export function renice(pid: number, nice: number): number {
  let set = 0;
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        os.setPriority(Number(task.name), nice);
        set++;
      } catch { /* gone meanwhile */ }
    }
  } catch { /* not Linux, or the process is gone */ }
  return set;
}

export function startSimulator(args: string[]): SimProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "sim/main.ts", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  live.add(child);
  child.status.then(() => live.delete(child));
  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  drainLines(child.stdout, keep);
  drainLines(child.stderr, keep);
  return { child, lines };
}

function drainLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): void {
  (async () => {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        parts.forEach(onLine);
      }
    } catch { /* the process went away */ }
    if (rest) onLine(rest);
  })();
}

/** Resident memory now and at its peak (VmHWM), in MB, from /proc/<pid>/status. */
export function memoryMb(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks of 10 ms
}

/**
 * Bytes the process has caused to be written to storage (`write_bytes` of
 * /proc/<pid>/io: Deno KV's SQLite pages and WAL, counted when dirtied).
 */
export function storageWriteBytes(pid: number): number {
  try {
    const io = Deno.readTextFileSync(`/proc/${pid}/io`);
    return Number(io.match(/^write_bytes:\s+(\d+)/m)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}
