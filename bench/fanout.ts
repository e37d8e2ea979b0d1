// Fan-out benchmark: many WebSocket clients over several topics at a 100 ms
// tick, with and without a few stalled clients.
import { encodePong, encodeSubscribe, peekServerFrame } from "../protocol/mod.ts";
import { startServer, startSimulator, stopProcess } from "./processes.ts";

export interface FanoutOptions {
  clients: number;
  topics: number;
  stalledPercent: number;
  seconds: number;
  /**
   * A last window with every client reading, past the start: long enough to hold
   * whole checkpoint rounds (every 30 s by default), whose Deno KV writes come in bursts.
   */
  steadySeconds: number;
  rate: number;
  sensors: number;
  /** More flags for the server (`--server-args`). */
  serverArgs?: string[];
}

export interface FanoutRow {
  phase: string;
  clients: number;
  framesPerSecond: number;
  p50: number;
  p99: number;
  cpuPercent: number;
  rssMb: number;
  /** The server's CPU by thread name (main thread, GC helpers, KV…): [user, system] % of a core. */
  threads: Record<string, [number, number]>;
}

class LightClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  frames = 0;
  latencies: number[] = [];

  constructor(url: string, group: string) {
    this.socket = new WebSocket(url.replace("http", "ws") + "ws?subscribe=explicit");
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve) => {
      this.socket.onopen = () => {
        this.socket.send(encodeSubscribe([{ id: 1, group }]));
        resolve();
      };
    });
    this.socket.onmessage = (event) => {
      const now = Date.now();
      const frame = peekServerFrame(new Uint8Array(event.data));
      if (frame.type === "delta") {
        this.frames++;
        this.latencies.push(now - frame.serverTimeMs);
      } else if (frame.type === "ping") {
        this.socket.send(encodePong(frame.nonce));
      }
    };
  }

  reset(): void {
    this.frames = 0;
    this.latencies = [];
  }
}

/** A connection that completes the WebSocket handshake and never reads again. */
async function stalled(url: string): Promise<Deno.TcpConn> {
  const { hostname, port, host } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(new TextEncoder().encode(
    `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  return conn;
}

function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

/** CPU seconds (user, system) per thread name of a process, from /proc/<pid>/task/<tid>/stat. */
function threadCpuSeconds(pid: number): Map<string, [number, number]> {
  const byName = new Map<string, [number, number]>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
    } catch {
      continue; // the thread exited
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    const [user, system] = byName.get(name) ?? [0, 0];
    byName.set(name, [user + Number(fields[11]) / 100, system + Number(fields[12]) / 100]);
  }
  return byName;
}

function rssMb(pid: number): number {
  return Number(Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function runFanout(options: FanoutOptions): Promise<FanoutRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-fanout-" });
  const server = await startServer([
    "--port",
    "0",
    "--data",
    `${dir}/fanout.kv`,
    "--max-connections-per-address",
    "100000",
    // Its clients stand for many machines: no one address's viewport row budget.
    "--view-rows-per-address",
    "100000000",
    ...(options.serverArgs ?? []),
  ]);
  const sim = startSimulator([
    "--url",
    server.url,
    "--sensors",
    String(options.sensors),
    "--rate",
    String(options.rate),
    "--duration",
    String(options.seconds * 3 + options.steadySeconds + 15),
  ]).child;
  // The simulator's groups: plant-a..d / line-1..6.
  const groups = Array.from(
    { length: 24 },
    (_, i) => `plant-${"abcd"[i % 4]}/line-${1 + Math.floor(i / 4)}`,
  )
    .slice(0, options.topics);
  const clients = Array.from(
    { length: options.clients },
    (_, i) => new LightClient(server.url, groups[i % groups.length]),
  );
  const stalledConns: Deno.TcpConn[] = [];
  const rows: FanoutRow[] = [];
  try {
    await Promise.all(clients.map((c) => c.opened));
    await new Promise((r) => setTimeout(r, 3_000));
    const measure = async (phase: string, count: number, seconds = options.seconds) => {
      clients.forEach((c) => c.reset());
      const cpu0 = cpuSeconds(server.child.pid);
      const threads0 = threadCpuSeconds(server.child.pid);
      const t0 = performance.now();
      let rss = 0;
      while (performance.now() - t0 < seconds * 1000) {
        await new Promise((r) => setTimeout(r, 250));
        rss = Math.max(rss, rssMb(server.child.pid));
      }
      const elapsed = (performance.now() - t0) / 1000;
      const cpu = (cpuSeconds(server.child.pid) - cpu0) / elapsed;
      // Threads that exited meanwhile are missing here (their CPU is in `cpu` only).
      const threads: Record<string, [number, number]> = {};
      const percent = (seconds: number) => Math.round((seconds / elapsed) * 1000) / 10;
      for (const [name, [user, system]] of threadCpuSeconds(server.child.pid)) {
        const [user0, system0] = threads0.get(name) ?? [0, 0];
        const both = [percent(user - user0), percent(system - system0)] as [number, number];
        if (both[0] + both[1] >= 0.5) threads[name] = both;
      }
      const latencies = clients.flatMap((c) => c.latencies).sort((a, b) => a - b);
      rows.push({
        phase,
        clients: count,
        framesPerSecond: clients.reduce((n, c) => n + c.frames, 0) / elapsed,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        cpuPercent: cpu * 100,
        rssMb: rss,
        threads,
      });
    };
    await measure("all reading", options.clients);
    // The same again: the first window still holds the start's JIT compiling (V8's helper threads).
    await measure("all reading, warm", options.clients);
    // What the load costs once the start is behind: a 20 s window holds 0 or 1 checkpoint rounds.
    await measure(
      `all reading, steady (${options.steadySeconds} s)`,
      options.clients,
      options.steadySeconds,
    );
    const stalledCount = Math.ceil((options.clients * options.stalledPercent) / 100);
    for (let i = 0; i < stalledCount; i++) stalledConns.push(await stalled(server.url));
    await new Promise((r) => setTimeout(r, 3_000));
    await measure(
      `${stalledCount} stalled (${options.stalledPercent}%)`,
      options.clients + stalledCount,
    );
  } finally {
    clients.forEach((c) => c.socket.close());
    stalledConns.forEach((c) => c.close());
    await stopProcess(sim);
    await stopProcess(server.child);
    await Deno.remove(dir, { recursive: true });
  }
  return rows;
}
