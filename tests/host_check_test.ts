// DNS rebinding: a page on attacker.example that resolves to this server
// sends `Host: attacker.example`. Every route answers such a request with
// 421, and the feed's own origin comes from the allowed hosts, never from the
// request. Requests go over raw TCP: fetch cannot forge a Host header.
import fc from "fast-check";
import { assert, assertEquals } from "./testing/assert.ts";
import { rawRequest } from "./testing/raw_http.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import type { Config } from "../server/config/options.ts";

const INDEX = "<!doctype html><title>dashboard under test</title>";

async function withServer(config: Partial<Config>, run: (server: Pulseboard) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-hosts-" });
  await Deno.mkdir(`${dir}/web`);
  await Deno.writeTextFile(`${dir}/web/index.html`, INDEX);
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: `${dir}/store.kv`,
    webRoot: `${dir}/web`,
    ...config,
  });
  try {
    await run(server);
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
}

const UPGRADE = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": btoa("0123456789abcdef"),
  "sec-websocket-version": "13",
};

/** One request per route, each as a browser on `host` would send it. */
function routes(host: string, origin = `http://${host}`) {
  const reading = JSON.stringify([{
    sensorId: "rebound",
    timestamp: Date.now(),
    reading: { t: 1 },
  }]);
  return {
    "POST /api/ingest": {
      method: "POST",
      path: "/api/ingest",
      headers: { host, origin, "content-type": "application/json" },
      body: reading,
    },
    "GET /api/sensors": { path: "/api/sensors", headers: { host } },
    "GET /api/groups": { path: "/api/groups", headers: { host } },
    "OPTIONS /api/ingest": {
      method: "OPTIONS",
      path: "/api/ingest",
      headers: { host, origin, "access-control-request-method": "POST" },
    },
    "GET /ws": { path: "/ws", headers: { host, origin, ...UPGRADE } },
    "GET /": { path: "/", headers: { host } },
    "GET /healthz": { path: "/healthz", headers: { host } },
    "GET /readyz": { path: "/readyz", headers: { host } },
    "GET /metrics": { path: "/metrics", headers: { host } },
  };
}

Deno.test("a Host that is not allowed gets 421 with the JSON error shape on every route", async () => {
  await withServer({}, async (server) => {
    const forged = `attacker.example:${server.url.port}`;
    for (const [route, request] of Object.entries(routes(forged))) {
      const response = await rawRequest(server.url, request);
      assertEquals(response.status, 421, `${route} with Host ${forged}`);
      assert(response.headers.get("content-type")!.startsWith("application/json"), route);
      const body = JSON.parse(response.body);
      assertEquals(body.error, "misdirected_request", route);
      assert(body.detail.includes("attacker.example"), `${route}: ${body.detail}`);
    }
    assertEquals(server.ingestStats.accepted, 0, "the rebound page wrote no reading");
    assertEquals(server.hubStats.sessions, 0, "the rebound page opened no feed");
  });
});

Deno.test("the same requests with the bound address as Host are served", async () => {
  await withServer({}, async (server) => {
    const own = server.url.host; // 127.0.0.1:<port>
    const expected: Record<string, number> = {
      "POST /api/ingest": 200,
      "GET /api/sensors": 200,
      "GET /api/groups": 200,
      "OPTIONS /api/ingest": 403, // no --cors-origins: the own origin needs no preflight
      "GET /ws": 101,
      "GET /": 200,
      "GET /healthz": 200,
      "GET /readyz": 200,
      "GET /metrics": 200,
    };
    for (const [route, request] of Object.entries(routes(own))) {
      if (route === "GET /readyz") continue; // 503 until the source caught up: not about hosts
      const response = await rawRequest(server.url, request);
      assertEquals(response.status, expected[route], `${route} with Host ${own}`);
      if (route === "GET /") assertEquals(response.body, INDEX);
    }
    assertEquals(server.ingestStats.accepted, 1);
  });
});

Deno.test("any other name, on any port, is refused (property)", async () => {
  await withServer({}, async (server) => {
    const allowed = new Set(["localhost", "127.0.0.1"]);
    await fc.assert(
      fc.asyncProperty(
        fc.domain().filter((d) => !allowed.has(d.toLowerCase())),
        fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: null }),
        async (name, port) => {
          const host = port === null ? name : `${name}:${port}`;
          const response = await rawRequest(server.url, { path: "/healthz", headers: { host } });
          assertEquals(response.status, 421, host);
        },
      ),
      { numRuns: 60 },
    );
  });
});

Deno.test("on loopback, localhost, 127.0.0.1 and [::1] with the bound port are allowed, nothing else", async () => {
  await withServer({}, async (server) => {
    const port = Number(server.url.port);
    const status = async (host: string) =>
      (await rawRequest(server.url, { path: "/healthz", headers: { host } })).status;
    for (
      const host of [`localhost:${port}`, `LocalHost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]
    ) {
      assertEquals(await status(host), 200, host);
    }
    for (
      const host of [
        `localhost:${port + 1}`,
        "localhost", // port 80, not ours
        `127.0.0.2:${port}`,
        `localhost.:${port}`,
        `localhost.attacker.example:${port}`,
        `attacker.example:${port}@localhost:${port}`,
        `localhost:${port}/`,
        "",
      ]
    ) {
      assertEquals(await status(host), 421, JSON.stringify(host));
    }
  });
});

Deno.test("--allowed-hosts: a name without a port matches any port, with a port only that port", async () => {
  await withServer(
    { allowedHosts: ["dash.example.com", "ops.example.com:9443", "[2001:db8::7]:8000"] },
    async (server) => {
      const status = async (host: string) =>
        (await rawRequest(server.url, { path: "/healthz", headers: { host } })).status;
      for (
        const host of [
          "dash.example.com",
          "DASH.example.com:8443",
          `dash.example.com:${server.url.port}`,
          "ops.example.com:9443",
          "[2001:db8:0::7]:8000",
          server.url.host,
        ]
      ) {
        assertEquals(await status(host), 200, host);
      }
      for (
        const host of [
          "ops.example.com",
          "ops.example.com:9444",
          "evil.dash.example.com",
          "dash.example.com.evil.io",
          "[2001:db8::7]:8001",
        ]
      ) {
        assertEquals(await status(host), 421, host);
      }
    },
  );
});

Deno.test("the feed's own origin comes from the allowed hosts, never from the request's Host", async () => {
  await withServer({ allowedHosts: ["dash.example.com"] }, async (server) => {
    const port = server.url.port;
    const upgrade = async (host: string, origin: string) =>
      (await rawRequest(server.url, { path: "/ws", headers: { host, origin, ...UPGRADE } }))
        .status;
    // The DNS-rebinding page: its Origin equals its Host, and neither is ours.
    assertEquals(await upgrade(`attacker.example:${port}`, `http://attacker.example:${port}`), 421);
    // An allowed Host does not make a foreign Origin own.
    assertEquals(await upgrade(`127.0.0.1:${port}`, `http://attacker.example:${port}`), 403);
    assertEquals(await upgrade(`127.0.0.1:${port}`, `http://localhost:${Number(port) + 1}`), 403);
    assertEquals(await upgrade(`127.0.0.1:${port}`, `https://127.0.0.1:${port}`), 403, "scheme");
    assertEquals(await upgrade(`127.0.0.1:${port}`, "null"), 403);
    // Every allowed host, with this server's scheme, is an own origin.
    assertEquals(await upgrade(`127.0.0.1:${port}`, `http://localhost:${port}`), 101);
    assertEquals(await upgrade("dash.example.com", "http://dash.example.com"), 101);
    assertEquals(await upgrade(`127.0.0.1:${port}`, `http://127.0.0.1:${port}`), 101);
  });
});
