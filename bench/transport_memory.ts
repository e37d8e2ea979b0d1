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
import http from "node:http";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Buffer } from "node:buffer";
// @ts-types="@types/ws"
import { WebSocketServer } from "ws";
import { MAX_CLIENT_MESSAGE_BYTES } from "../protocol/client_messages.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wsModule = new URL("../node_modules/ws", import.meta.url).pathname;

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

function memory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  gc();
  const m = Deno.memoryUsage();
  const status = Deno.readTextFileSync("/proc/self/status");
  const rss = Number(status.match(/VmRSS:\s+(\d+)/)![1]) * 1024;
  return { rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

/** Opens `count` idle clients to the port, waits until `open()` says so, returns KB per connection. */
async function measure(port: number, count: number, open: () => number) {
  await sleep(1_000);
  const before = memory();
  const clients = new Deno.Command("node", {
    args: [
      "-e",
      `const WebSocket = require(${JSON.stringify(wsModule)});
let s = 0;
const t = setInterval(() => {
  for (let i = 0; i < 20 && s < ${count}; i++, s++) {
    new WebSocket("ws://127.0.0.1:${port}/", { perMessageDeflate: false }).on("error", () => {});
  }
  if (s >= ${count}) clearInterval(t);
}, 20);
setInterval(() => {}, 1000);`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  try {
    const deadline = Date.now() + 120_000;
    while (open() < count && Date.now() < deadline) await sleep(500);
    await sleep(3_000);
    const after = memory();
    const kb = (key: keyof Memory) =>
      Number(((after[key] - before[key]) / 1024 / count).toFixed(1));
    return {
      open: open(),
      rss: kb("rss"),
      heapUsed: kb("heapUsed"),
      heapTotal: kb("heapTotal"),
      external: kb("external"),
    };
  } finally {
    clients.kill("SIGTERM");
    await clients.status;
  }
}

async function nodeHttpWs(count: number) {
  let open = 0;
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
      ws.on("message", () => {});
      ws.on("close", () => open--);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await measure(port, count, () => open);
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
    return await measure(server.addr.port, count, () => open);
  } finally {
    await server.shutdown();
  }
}

const count = Number(Deno.args[0] ?? 5_000);
const transport = Deno.args[1] ?? "node";
if (transport !== "node" && transport !== "deno") throw new TypeError("transport: node or deno");
const figures = transport === "node" ? await nodeHttpWs(count) : await denoServe(count);
console.log(
  `${transport === "node" ? "node:http + ws" : "Deno.serve"}: KB per idle connection, ` +
    `${count} connections, after GC: ${JSON.stringify(figures)}`,
);
Deno.exit(0);
