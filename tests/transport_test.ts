// Origin checks before the upgrade, CORS for the API, connections per
// address, and HTTPS.
// @ts-types="@types/ws"
import WebSocketClient from "ws";
import { assert, assertEquals } from "./testing/assert.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import type { Config } from "../server/config/options.ts";

async function withServer(config: Partial<Config>, run: (server: Pulseboard) => Promise<void>) {
  const server = await startPulseboard({ ...DEFAULT_CONFIG, port: 0, data: ":memory:", ...config });
  try {
    await run(server);
  } finally {
    await server.shutdown();
    await server.finished;
  }
}

/** The status an upgrade request gets, without completing a WebSocket. */
async function upgradeStatus(
  url: URL,
  origin: string | null,
  extra: Record<string, string> = {},
): Promise<number> {
  const headers: Record<string, string> = {
    ...extra,
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": btoa("0123456789abcdef"),
    "sec-websocket-version": "13",
  };
  if (origin) headers.origin = origin;
  const response = await fetch(new URL("/ws", url), { headers });
  await response.body?.cancel();
  return response.status;
}

Deno.test("without an allow-list only the server's own origin may open the feed", async () => {
  await withServer({}, async (server) => {
    const own = server.url.origin;
    assertEquals(await upgradeStatus(server.url, "https://evil.example"), 403);
    const ws = new WebSocket(
      new URL("/ws", own.replace("http", "ws")),
      { headers: { origin: own } } as never,
    );
    await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
    ws.close();
    await new Promise((resolve) => (ws.onclose = resolve));
  });
});

Deno.test("an allow-list of origins is matched exactly before the upgrade", async () => {
  await withServer({ allowedOrigins: ["https://dash.example.com"] }, async (server) => {
    assertEquals(await upgradeStatus(server.url, "https://dash.example.com.evil.io"), 403);
    assertEquals(await upgradeStatus(server.url, "http://dash.example.com"), 403);
    assertEquals(await upgradeStatus(server.url, server.url.origin), 403);
  });
});

Deno.test("CORS headers go only to allowed origins, with a preflight for the API", async () => {
  await withServer({ corsOrigins: ["https://ops.example.com"] }, async (server) => {
    const allowed = await fetch(new URL("/api/groups", server.url), {
      headers: { origin: "https://ops.example.com" },
    });
    assertEquals(allowed.headers.get("access-control-allow-origin"), "https://ops.example.com");
    await allowed.body?.cancel();
    const other = await fetch(new URL("/api/groups", server.url), {
      headers: { origin: "https://x.example" },
    });
    assertEquals(other.headers.get("access-control-allow-origin"), null);
    await other.body?.cancel();
    const preflight = await fetch(new URL("/api/ingest", server.url), {
      method: "OPTIONS",
      headers: { origin: "https://ops.example.com", "access-control-request-method": "POST" },
    });
    assertEquals(preflight.status, 204);
    assert(preflight.headers.get("access-control-allow-methods")!.includes("POST"));
    const refused = await fetch(new URL("/api/ingest", server.url), {
      method: "OPTIONS",
      headers: { origin: "https://x.example" },
    });
    assertEquals(refused.status, 403);
  });
});

Deno.test("feed connections per address are limited with 429, and a closed one frees its slot", async () => {
  await withServer({ maxConnectionsPerAddress: 2 }, async (server) => {
    const url = new URL("/ws", server.url.href.replace("http", "ws"));
    const open = async () => {
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
      return ws;
    };
    const a = await open();
    const b = await open();
    assertEquals(await upgradeStatus(server.url, null), 429);
    a.close();
    await new Promise((resolve) => (a.onclose = resolve));
    await new Promise((r) => setTimeout(r, 50));
    const c = await open();
    for (const ws of [b, c]) {
      ws.close();
      await new Promise((resolve) => (ws.onclose = resolve));
    }
  });
});

Deno.test("behind a trusted proxy the per-address limit counts the forwarded client, not the proxy", async () => {
  const via = (client: string) => ({ "x-forwarded-for": client });
  const open = async (url: URL, headers: Record<string, string>) => {
    const ws = new WebSocket(url, { headers } as never);
    await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
    return ws;
  };
  const closeAll = async (sockets: WebSocket[]) => {
    for (const ws of sockets) {
      ws.close();
      await new Promise((resolve) => (ws.onclose = resolve));
    }
  };
  await withServer(
    { maxConnectionsPerAddress: 1, trustedProxies: ["loopback"] },
    async (server) => {
      const url = new URL("/ws", server.url.href.replace("http", "ws"));
      const a = await open(url, via("203.0.113.1"));
      const b = await open(url, via("203.0.113.2"));
      assertEquals(await upgradeStatus(server.url, null, via("203.0.113.1")), 429);
      // A forged hop in front of the real client's address changes nothing.
      assertEquals(await upgradeStatus(server.url, null, via("198.51.100.7, 203.0.113.2")), 429);
      await closeAll([a, b]);
    },
  );
  // Without --trusted-proxies the header is ignored: both come from loopback.
  await withServer({ maxConnectionsPerAddress: 1 }, async (server) => {
    const url = new URL("/ws", server.url.href.replace("http", "ws"));
    const a = await open(url, via("203.0.113.1"));
    assertEquals(await upgradeStatus(server.url, null, via("203.0.113.2")), 429);
    await closeAll([a]);
  });
});

Deno.test("--cert and --key serve HTTPS and WSS", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-tls-" });
  try {
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
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    assert(success, "openssl made a certificate");
    await withServer({ certFile: `${dir}/cert.pem`, keyFile: `${dir}/key.pem` }, async (server) => {
      assertEquals(server.url.protocol, "https:");
      const client = Deno.createHttpClient({
        caCerts: [await Deno.readTextFile(`${dir}/cert.pem`)],
      });
      const response = await fetch(new URL("/healthz", server.url), { client });
      assertEquals((await response.json()).status, "ok");
      client.close();
      // The feed over WSS: the first frame (Subscribed) arrives.
      const feed = new WebSocketClient(
        new URL("/ws", server.url.href.replace("https", "wss")).href,
        {
          ca: await Deno.readTextFile(`${dir}/cert.pem`),
        },
      );
      feed.on("error", () => {});
      const first = await new Promise<number>((resolve) =>
        feed.once("message", (data: Uint8Array) => resolve(data.byteLength))
      );
      assert(first > 0, "a frame came over WSS");
      feed.close();
      await new Promise((resolve) => feed.once("close", resolve));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Subscribe sent the moment the socket opens is answered, on every connection", async () => {
  await withServer({}, async (server) => {
    const count = 100;
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tests/testing/first_message_client.ts", server.url.href, String(count)],
      cwd: new URL("..", import.meta.url).pathname,
      stderr: "inherit",
    }).output();
    assert(success, "the client process ran");
    assertEquals(JSON.parse(new TextDecoder().decode(stdout)).answered, count);
  });
});

Deno.test("a request head over 16 KiB is refused with 431", async () => {
  await withServer({}, async (server) => {
    const send = async (headerBytes: number) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(server.url.port) });
      await conn.write(new TextEncoder().encode(
        `GET /healthz HTTP/1.1\r\nHost: ${server.url.host}\r\nX-Big: ${
          "a".repeat(headerBytes)
        }\r\n` +
          "Connection: close\r\n\r\n",
      ));
      const buffer = new Uint8Array(64);
      const n = await conn.read(buffer);
      conn.close();
      return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split(" ")[1];
    };
    assertEquals(await send(15_000), "200");
    assertEquals(await send(17_000), "431");
  });
});
