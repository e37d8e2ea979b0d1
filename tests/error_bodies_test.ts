// Every refusal a real server sends is JSON { error, detail } with an error
// name a client can switch on (never the placeholder "error").
import { assert, assertEquals } from "./testing/assert.ts";
import { rawRequest } from "./testing/raw_http.ts";
import { withTempKv } from "./testing/temp_kv.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { ApiKeys } from "../server/auth/mod.ts";

const UPGRADE = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": btoa("0123456789abcdef"),
  "sec-websocket-version": "13",
};

async function problemOf(response: Response | { status: number; headers: Headers; body: string }) {
  const text = response instanceof Response ? await response.text() : response.body;
  assert(response.headers.get("content-type")?.startsWith("application/json"), text);
  return { status: response.status, ...JSON.parse(text) };
}

Deno.test("every refusal from a real server is JSON { error, detail } with a meaningful error", async () => {
  await withTempKv(async (kv, path) => {
    const { key } = await new ApiKeys(kv).create("writer", ["plant-a"]);
    const server = await startPulseboard({
      ...DEFAULT_CONFIG,
      port: 0,
      data: path,
      maxBodyBytes: 1024,
      maxConnectionsPerAddress: 1,
      corsOrigins: ["https://ops.example.com"],
      webRoot: `${path}.missing-web/`,
    });
    const feed = new WebSocket(new URL("/ws", server.url.href.replace("http", "ws")));
    try {
      await new Promise((resolve, reject) => ((feed.onopen = resolve), (feed.onerror = reject)));
      const at = (path: string) => new URL(path, server.url);
      const ingest = (body: string, type = "application/json", auth = key) =>
        fetch(at("/api/ingest"), {
          method: "POST",
          body,
          headers: { "content-type": type, ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        });
      const seen: { name: string; status: number; error: string; detail: string }[] = [];
      const check = async (
        name: string,
        status: number,
        response: Parameters<typeof problemOf>[0],
      ) => {
        const body = await problemOf(response);
        assertEquals(body.status, status, name);
        seen.push({ name, ...body });
      };

      await check(
        "foreign Origin on /ws",
        403,
        await fetch(at("/ws"), {
          headers: { ...UPGRADE, origin: "https://evil.example" },
        }),
      );
      await check(
        "preflight from a foreign origin",
        403,
        await fetch(at("/api/ingest"), {
          method: "OPTIONS",
          headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
        }),
      );
      await check(
        "second feed from one address",
        429,
        await fetch(at("/ws"), { headers: UPGRADE }),
      );
      await check(
        "forged Host",
        421,
        await rawRequest(server.url, { path: "/healthz", headers: { host: "attacker.example" } }),
      );
      await check("no such API", 404, await fetch(at("/api/nope")));
      await check("GET /api/ingest", 405, await fetch(at("/api/ingest")));
      await check("DELETE /healthz", 405, await fetch(at("/healthz"), { method: "DELETE" }));
      await check("PUT /metrics", 405, await fetch(at("/metrics"), { method: "PUT" }));
      await check("GET /ws without upgrade", 426, await fetch(at("/ws")));
      await check("dashboard not built", 503, await fetch(at("/")));
      await check("no API key", 401, await ingest("[]", "application/json", ""));
      await check("malformed JSON", 400, await ingest("[{"));
      await check("body over --max-body", 413, await ingest(" ".repeat(2048)));
      // The key's bucket: a burst of 50 (less what was used above), then 429.
      await check("unsupported Content-Type", 415, await ingest("x", "text/plain"));
      let response = await ingest("x", "text/plain");
      // The bucket refills while these run (slowly on a loaded machine): go on until it is empty.
      for (let i = 0; i < 1_000 && response.status === 415; i++) {
        await response.body?.cancel();
        response = await ingest("x", "text/plain");
      }
      await check("over the key's request rate", 429, response);

      for (const { name, error, detail } of seen) {
        assert(/^[a-z]+(_[a-z]+)*$/.test(error) && error !== "error", `${name}: error ${error}`);
        assert(typeof detail === "string" && detail.length > 0, `${name}: detail ${detail}`);
      }
      const byStatus = Object.fromEntries(seen.map((s) => [s.status, s.error]));
      assertEquals(
        [byStatus[403], byStatus[421], byStatus[429]],
        ["forbidden", "misdirected_request", "too_many_requests"],
      );
    } finally {
      feed.close();
      await new Promise((resolve) => (feed.onclose = resolve));
      await server.shutdown();
      await server.finished;
    }
  });
});
