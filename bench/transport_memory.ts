// Memory per idle WebSocket connection of the bare transports, without the
// feed or the hub: node:http + npm `ws` with the feed's options (what the
// server uses), and Deno.serve + Deno.upgradeWebSocket for comparison. Idle
// clients come from a node process (npm `ws`); figures are taken after a
// full GC, so run with it exposed:
//
//   deno run -A --v8-flags=--expose-gc bench/transport_memory.ts [connections] [node|deno]
//
// Connections default to 5000; one transport a run (default node), since a
// second in the same process reuses memory the first one freed.
//
// With `--send ws` or `--send wire` (node transport only), every connection
// is also sent one shared frame of `--bytes` (default 600) at `--hz`
// (default 5) for `--seconds` (default 10): through `ws`'s send, or as one
// write of a wire frame built once (what the feed does, WireFrames). RSS is
// then also sampled while sending (median), before the collection. With
// `--client-sends` every client also sends a 20-byte message a second, as
// the feed's clients answer its pings.
import http from "node:http";
import v8 from "node:v8";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Buffer } from "node:buffer";
// @ts-types="@types/ws"
import { WebSocketServer } from "ws";
// @ts-types="@types/ws"
import type { WebSocket } from "ws";
import { parseArgs } from "node:util";
import { MAX_CLIENT_MESSAGE_BYTES } from "../protocol/client_messages.ts";
import { WireFrames } from "../server/http/feed_socket/wire_frames.ts";
import { mallocRss } from "./inspector.ts";
import type { GcMemory } from "./inspector.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wsModule = new URL("../node_modules/ws", import.meta.url).pathname;

type Memory = GcMemory;

function memory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  gc();
  const m = Deno.memoryUsage();
  const status = Deno.readTextFileSync("/proc/self/status");
  const rss = Number(status.match(/VmRSS:\s+(\d+)/)![1]) * 1024;
  const space = (name: string) => v8.getHeapSpaceStatistics().find((s) => s.space_name === name)!;
  return {
    rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    newSpace: space("new_space").space_size,
    oldSpace: space("old_space").space_size,
    oldSpaceUsed: space("old_space").space_used_size,
    malloc: mallocRss(Deno.pid),
  };
}

/** Clients a node process opens (and reads for): small enough to keep up with the frames. */
const PER_PROCESS = 1_000;

/**
 * Opens `count` clients to the port, waits until `open()` says so, runs
 * `traffic` (if any) for its duration, returns KB per connection.
 */
async function measure(
  port: number,
  count: number,
  o: {
    open: () => number;
    traffic?: { run: () => () => void; seconds: number };
    /** Every client sends a small message a second (as feed clients answer pings). */
    clientSends?: boolean;
  },
) {
  await sleep(1_000);
  const before = memory();
  const clients = [];
  for (let first = 0; first < count; first += PER_PROCESS) {
    const n = Math.min(PER_PROCESS, count - first);
    clients.push(
      new Deno.Command("node", {
        args: [
          "-e",
          `const WebSocket = require(${JSON.stringify(wsModule)});
let s = 0;
const all = [];
const t = setInterval(() => {
  for (let i = 0; i < 20 && s < ${n}; i++, s++) {
    const ws = new WebSocket("ws://127.0.0.1:${port}/", { perMessageDeflate: false });
    ws.on("error", () => {});
    all.push(ws);
  }
  if (s >= ${n}) clearInterval(t);
}, 20);
const message = Buffer.alloc(20);
setInterval(() => {
  if (${o.clientSends}) for (const ws of all) if (ws.readyState === 1) ws.send(message);
}, 1000);`,
        ],
        stdout: "inherit",
        stderr: "inherit",
      }).spawn(),
    );
  }
  try {
    const deadline = Date.now() + 120_000;
    while (o.open() < count && Date.now() < deadline) await sleep(500);
    await sleep(3_000);
    const rssWhileSending: number[] = [];
    if (o.traffic) {
      const stop = o.traffic.run();
      const ends = Date.now() + o.traffic.seconds * 1000;
      while (Date.now() < ends) {
        await sleep(500);
        const status = Deno.readTextFileSync("/proc/self/status");
        rssWhileSending.push(Number(status.match(/VmRSS:\s+(\d+)/)![1]) * 1024);
      }
      const after = memory(); // while still sending: frames in flight are part of the cost
      stop();
      rssWhileSending.sort((a, b) => a - b);
      const median = rssWhileSending[Math.floor(rssWhileSending.length / 2)];
      return {
        ...perConnection(before, after, count, o.open()),
        rssWhileSending: Number(((median - before.rss) / 1024 / count).toFixed(1)),
      };
    }
    return perConnection(before, memory(), count, o.open());
  } finally {
    for (const child of clients) {
      child.kill("SIGTERM");
      await child.status;
    }
  }
}

function perConnection(before: Memory, after: Memory, count: number, open: number) {
  const kb = (key: keyof Memory) => Number(((after[key] - before[key]) / 1024 / count).toFixed(1));
  return {
    open,
    rss: kb("rss"),
    heapUsed: kb("heapUsed"),
    heapTotal: kb("heapTotal"),
    external: kb("external"),
    newSpace: kb("newSpace"),
    oldSpace: kb("oldSpace"),
    oldSpaceUsed: kb("oldSpaceUsed"),
    malloc: kb("malloc"),
  };
}

/** Sends every open socket one shared frame at `hz`, by `ws`'s send or as a shared wire frame. */
function traffic(
  sockets: Set<{ ws: WebSocket; socket: Duplex }>,
  o: { send: "ws" | "wire"; bytes: number; hz: number; seconds: number },
) {
  return {
    seconds: o.seconds,
    run: () => {
      const frames = new WireFrames();
      const timer = setInterval(() => {
        // A new payload each tick, as the hub encodes one per topic per tick.
        const payload = crypto.getRandomValues(new Uint8Array(o.bytes));
        for (const { ws, socket } of sockets) {
          if (ws.readyState !== ws.OPEN) continue;
          if (o.send === "ws") ws.send(payload);
          else for (const chunk of frames.chunks(payload)) socket.write(chunk);
        }
      }, 1000 / o.hz);
      return () => clearInterval(timer);
    },
  };
}

async function nodeHttpWs(
  count: number,
  send: { send: "ws" | "wire"; bytes: number; hz: number; seconds: number } | null,
) {
  let open = 0;
  const sockets = new Set<{ ws: WebSocket; socket: Duplex }>();
  const server = http.createServer((_request, response) => response.end());
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      open++;
      const entry = { ws, socket };
      if (send) sockets.add(entry);
      ws.on("message", () => {});
      ws.on("close", () => {
        open--;
        sockets.delete(entry);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await measure(port, count, {
      open: () => open,
      clientSends: flags["client-sends"],
      traffic: send ? traffic(sockets, send) : undefined,
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

async function denoServe(count: number) {
  let open = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = () => open++;
    socket.onclose = () => open--;
    return response;
  });
  try {
    return await measure(server.addr.port, count, { open: () => open });
  } finally {
    await server.shutdown();
  }
}

const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    send: { type: "string" },
    bytes: { type: "string", default: "600" },
    hz: { type: "string", default: "5" },
    seconds: { type: "string", default: "10" },
    "client-sends": { type: "boolean", default: false },
  },
});
const count = Number(positionals[0] ?? 5_000);
const transport = positionals[1] ?? "node";
if (transport !== "node" && transport !== "deno") throw new TypeError("transport: node or deno");
if (
  flags.send !== undefined && (flags.send !== "ws" && flags.send !== "wire" || transport !== "node")
) {
  throw new TypeError("--send: ws or wire, with the node transport");
}
const send = flags.send
  ? {
    send: flags.send as "ws" | "wire",
    bytes: Number(flags.bytes),
    hz: Number(flags.hz),
    seconds: Number(flags.seconds),
  }
  : null;
const figures = transport === "node" ? await nodeHttpWs(count, send) : await denoServe(count);
console.log(
  `${transport === "node" ? "node:http + ws" : "Deno.serve"}: KB per ${
    send ? `connection sent ${send.bytes} B at ${send.hz} Hz by ${send.send}` : "idle connection"
  }, ${count} connections, after GC: ${JSON.stringify(figures)}`,
);
Deno.exit(0);
