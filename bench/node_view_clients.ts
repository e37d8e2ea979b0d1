// Many viewport clients in one node process (npm `ws`: far lighter per
// connection than Deno's WebSocket): bundled by bench/viewport_fanout.ts with
// `deno bundle`, run with node. Each client opens /ws?subscribe=explicit,
// sends its ViewSubscribe, answers pings and counts frames and bytes; nothing
// is decoded beyond the header, and only one client in `LATENCY_EVERY` records
// its latency, so the process keeps up with its frames (a client that falls
// behind leaves them queued in the server's socket buffers, which is a bench
// artifact, not the server's cost). Prints one JSON line a second on stdout.
//
//   node view_clients.mjs <ws url> <clients> <views JSON> [opened per second] [first index]
// @ts-types="@types/ws"
import WebSocket from "ws";
import { encodePong, encodeViewSubscribe, peekServerFrame } from "../protocol/mod.ts";
import type { ViewSpec } from "../protocol/mod.ts";

const [url, countText, viewsJson, paceText, firstText] = (globalThis as unknown as {
  process: { argv: string[] };
}).process.argv.slice(2);
const count = Number(countText);
/** Handshakes started a second (steady, so a busy server is not handed a burst); 0: no pace. */
const pace = Number(paceText ?? 0);
/** The index of this process's first client, so that several processes spread over the places. */
const first = Number(firstText ?? 0);
const views = JSON.parse(viewsJson) as ViewSpec[];
const messages = views.map((v) => encodeViewSubscribe(v));

let open = 0;
let closed = 0;
let frames = 0;
let bytes = 0;
let viewFrames = 0;
let errors = 0;
let failed = 0;
const latencies: number[] = [];
/** One client in this many samples its frames' latency (all of them count frames and bytes). */
const LATENCY_EVERY = 10;

/** Handshakes started and not yet open or failed. */
let pending = 0;

function connect(i: number): void {
  const socket = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
  const sampled = i % LATENCY_EVERY === 0;
  socket.binaryType = "nodebuffer";
  pending++;
  let settled = false;
  let opened = false;
  const settle = () => {
    if (!settled) pending--;
    settled = true;
  };
  socket.on("open", () => {
    settle();
    opened = true;
    open++;
    // No views: a bare connection (what a socket costs the server before any window).
    if (messages.length > 0) socket.send(messages[i % messages.length]);
  });
  socket.on("message", (data: Uint8Array) => {
    frames++;
    bytes += data.byteLength;
    const header = peekServerFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (header.type === "view") {
      viewFrames++;
      if (sampled && latencies.length < 100_000) latencies.push(Date.now() - header.serverTimeMs);
    } else if (header.type === "ping") socket.send(encodePong(header.nonce));
    else if (header.type === "error") errors++;
  });
  // `closed`: sessions that opened and were closed since; `failed`: handshakes that never opened.
  socket.on("close", () => {
    if (opened) {
      open--;
      closed++;
    } else if (!settled) failed++;
    settle();
  });
  socket.on("error", () => {
    if (!opened && !settled) failed++;
    settle();
  });
}

// Open at a steady pace (or in waves), with at most 200 handshakes in
// flight, so that a busy server is not handed more than it can answer
// within its header timeout.
let started = 0;
const openedAt = Date.now();
const opener = setInterval(() => {
  const due = pace > 0
    ? Math.min(count, Math.floor(((Date.now() - openedAt) / 1000) * pace))
    : count;
  while (pending < 200 && started < due) connect(first + started++);
  if (started >= count) clearInterval(opener);
}, 50);

setInterval(() => {
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  console.log(JSON.stringify({
    started,
    open,
    closed,
    failed,
    frames,
    viewFrames,
    bytes,
    errors,
    p50: at(0.5),
    p99: at(0.99),
  }));
  latencies.length = 0;
}, 1000);
