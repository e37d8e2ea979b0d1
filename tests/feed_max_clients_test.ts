// The server-wide bound on feed clients (--max-clients): clients from many
// addresses, each under its own per-address limit, cannot together hold
// more sockets (and their send buffers) than the bound.
// @ts-types="@types/ws"
import WebSocket from "ws";
import type { IncomingMessage } from "node:http";
import { assert, assertEquals } from "./testing/assert.ts";
import { eventually } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

type Opened = { ws: WebSocket; status: 101 } | {
  ws: WebSocket;
  status: number;
  retryAfter: string | undefined;
  body: string;
};

/** Opens /ws as a client at `address` (told through X-Forwarded-For by a trusted proxy). */
function open(server: Pulseboard, address: string): Promise<Opened> {
  const ws = new WebSocket(new URL("/ws", server.url.href.replace("http", "ws")).href, {
    headers: { "x-forwarded-for": address },
  });
  ws.on("error", () => {}); // the answer is what this reads
  return new Promise((resolve) => {
    ws.once("open", () => resolve({ ws, status: 101 }));
    ws.once("unexpected-response", (_request: unknown, response: IncomingMessage) => {
      let body = "";
      response.on("data", (chunk: Uint8Array) => body += new TextDecoder().decode(chunk));
      response.on("end", () =>
        resolve({
          ws,
          status: response.statusCode ?? 0,
          retryAfter: response.headers["retry-after"] as string | undefined,
          body,
        }));
    });
  });
}

Deno.test("past --max-clients a feed client from a new address is refused with 503, counted, and let in once one leaves", async () => {
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    maxClients: 3,
    trustedProxies: ["loopback"],
  });
  const sockets: WebSocket[] = [];
  try {
    for (let k = 1; k <= 3; k++) {
      const opened = await open(server, `10.0.0.${k}`);
      sockets.push(opened.ws);
      assertEquals(opened.status, 101, `client ${k} of 3 is let in`);
    }
    const refused = await open(server, "10.0.0.4");
    assertEquals(refused.status, 503);
    assert("retryAfter" in refused && refused.retryAfter !== undefined, "it says when to retry");
    assert(
      "body" in refused && refused.body.includes("limit 3"),
      refused.status === 503 ? refused.body : "",
    );

    const health = await (await fetch(new URL("/healthz", server.url))).json();
    assertEquals(health.transport.feedSockets, 3);
    assertEquals(health.transport.maxClients, 3);
    assertEquals(health.transport.feedRefusedFull, 1);
    const metrics = await (await fetch(new URL("/metrics", server.url))).text();
    assert(/^pulseboard_feed_max_clients 3$/m.test(metrics), "the bound is on /metrics");
    assert(
      /^pulseboard_feed_refused_full_total 1$/m.test(metrics),
      "the refusal is counted on /metrics",
    );

    // One leaves: its slot is free for the next client.
    const gone = new Promise((resolve) => sockets[0].once("close", resolve));
    sockets[0].close();
    await gone;
    await eventually(() => server.transport.feedSockets === 2, 5_000, "the slot given back");
    const next = await open(server, "10.0.0.5");
    sockets.push(next.ws);
    assertEquals(next.status, 101);
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.shutdown();
    await server.finished;
  }
});
