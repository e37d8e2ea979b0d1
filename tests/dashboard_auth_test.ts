// Dashboard JWTs end to end: a real server verifying ES256 tokens, real
// WebSocket clients offering them as a subprotocol or a first message.
import * as jose from "jose";
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { encodeAuth, encodeSubscribe } from "../protocol/mod.ts";

const ISSUER = "https://id.example";
const AUDIENCE = "pulseboard";

async function setup(): Promise<
  { server: Pulseboard; sign: (groups: string[], ttl: number) => Promise<string>; dir: string }
> {
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256");
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-jwt-" });
  await Deno.writeTextFile(`${dir}/public.pem`, await jose.exportSPKI(publicKey));
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    tickMs: 20,
    jwtIssuer: ISSUER,
    jwtAudience: AUDIENCE,
    jwtPublicKeyFile: `${dir}/public.pem`,
  });
  const sign = (groups: string[], ttl: number) =>
    new jose.SignJWT({ groups }).setProtectedHeader({ alg: "ES256" }).setIssuer(ISSUER).setAudience(
      AUDIENCE,
    )
      .setSubject("viewer").setExpirationTime(Math.floor(Date.now() / 1000) + ttl).sign(privateKey);
  const docs = ["plant-a/line-1", "plant-b/line-1"].flatMap((group, g) =>
    Array.from(
      { length: 5 },
      (_, i) => ({ sensorId: `s${g}${i}`, group, timestamp: Date.now(), reading: { t: i } }),
    )
  );
  const response = await fetch(new URL("/api/ingest", server.url), {
    method: "POST",
    body: JSON.stringify(docs),
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, 10);
  return { server, sign, dir };
}

function wsUrl(server: Pulseboard, query = ""): string {
  return server.url.href.replace("http", "ws") + "ws" + query;
}

Deno.test("a viewer's token limits the feed and /api/groups to its groups; bad tokens are refused", async () => {
  const { server, sign, dir } = await setup();
  try {
    const token = await sign(["plant-a"], 60);
    const viewer = new FeedClient(wsUrl(server), { protocols: ["pulseboard", `bearer.${token}`] });
    await viewer.opened;
    assertEquals(viewer.socket.protocol, "pulseboard");
    await eventually(() => viewer.snapshots === 1, 5_000, "snapshot");
    await eventually(() => viewer.sensors.size === 5, 5_000, "plant-a only");
    assert([...viewer.sensors.values()].every((s) => s.group.startsWith("plant-a")));

    // Asking for a group outside the token is refused; the connection stays.
    viewer.socket.send(encodeSubscribe([{ id: 2, group: "plant-b" }]));
    await eventually(() => viewer.errors.length === 1, 5_000, "refused");
    assert(/outside your token's groups/.test(viewer.errors[0].message), viewer.errors[0].message);
    // Everything, for this viewer, is everything it may read: the stream it already has.
    viewer.socket.send(encodeSubscribe([{ id: 3, all: true }], null, true));
    await eventually(() => viewer.subscribed.length === 2, 5_000, "subscribed to all");
    assertEquals(viewer.subscribed[1].recovered, true);
    assertEquals(viewer.sensors.size, 5);

    const groups = await fetch(new URL("/api/groups", server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    const listed = (await groups.json()).groups;
    assertEquals(listed.map((g: { group: string; sensors: number }) => [g.group, g.sensors]), [[
      "plant-a/line-1",
      5,
    ]]);
    const anonymous = await fetch(new URL("/api/groups", server.url));
    assertEquals(anonymous.status, 401);
    await anonymous.body?.cancel();
    // The metric metadata, too, is for viewers only.
    const meta = await fetch(new URL("/api/metrics", server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    assertEquals((await meta.json()).metrics.temperature.unit, "°C");
    const anonymousMeta = await fetch(new URL("/api/metrics", server.url));
    assertEquals(anonymousMeta.status, 401);
    await anonymousMeta.body?.cancel();

    const wrong = await new jose.SignJWT({ groups: ["*"] }).setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE).setSubject("x").setExpirationTime("1h").sign(
        new TextEncoder().encode("k".repeat(40)),
      );
    const refused = await fetch(new URL("/ws", server.url), {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": btoa("0123456789abcdef"),
        "sec-websocket-version": "13",
        "sec-websocket-protocol": `pulseboard, bearer.${wrong}`,
      },
    });
    assertEquals(
      refused.status,
      401,
      "an HS256 token is not accepted where ES256 keys are configured",
    );
    await refused.body?.cancel();
    await viewer.close();
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a token can come as the first message; anything before it closes with 4003", async () => {
  const { server, sign, dir } = await setup();
  try {
    const first = new FeedClient(wsUrl(server));
    await first.opened;
    first.socket.send(encodeAuth(await sign(["*"], 60)));
    await eventually(
      () => first.snapshots === 1 && first.sensors.size === 10,
      5_000,
      "all sensors",
    );
    await first.close();

    const early = new FeedClient(wsUrl(server));
    await early.opened;
    early.socket.send(encodeSubscribe([{ id: 1, all: true }]));
    assertEquals((await early.closed).code, 4003);
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an expiring token closes the session with 4003 unless a fresh one arrives first", async () => {
  const { server, sign, dir } = await setup();
  try {
    // exp is in whole seconds: 2 s leaves at least 1 s to send the fresh token, even under load.
    const lapsing = new FeedClient(wsUrl(server), {
      protocols: ["pulseboard", `bearer.${await sign(["*"], 2)}`],
    });
    const refreshed = new FeedClient(wsUrl(server), {
      protocols: ["pulseboard", `bearer.${await sign(["*"], 2)}`],
    });
    await Promise.all([lapsing.opened, refreshed.opened]);
    refreshed.socket.send(encodeAuth(await sign(["*"], 60)));
    assertEquals((await lapsing.closed).code, 4003);
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(refreshed.socket.readyState, WebSocket.OPEN);
    await refreshed.close();
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connections per token subject are limited", async () => {
  const { server, sign, dir } = await setup();
  try {
    const token = await sign(["*"], 60);
    const connect = () =>
      new FeedClient(wsUrl(server), { protocols: ["pulseboard", `bearer.${token}`] });
    const clients = Array.from({ length: 16 }, connect);
    await eventually(() => clients.every((c) => c.snapshots === 1), 5_000, "16 joined");
    const extra = connect();
    assertEquals((await extra.closed).code, 4003);
    assert(
      /too many connections/.test(extra.errors[0]?.message ?? ""),
      JSON.stringify(extra.errors),
    );
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the read API needs a token and answers only within its groups", async () => {
  const { server, sign, dir } = await setup();
  try {
    const token = await sign(["plant-a"], 60);
    const get = async (path: string, auth = true) => {
      const response = await fetch(new URL(path, server.url), {
        headers: auth ? { authorization: `Bearer ${token}` } : {},
      });
      return { status: response.status, body: await response.json() };
    };
    for (const path of ["/api/sensors", "/api/aggregates", "/api/sensors/s00/history?metric=t"]) {
      assertEquals((await get(path, false)).status, 401, path);
    }
    let sensors = await get("/api/sensors");
    for (let i = 0; i < 100 && sensors.body.sensors.length < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
      sensors = await get("/api/sensors");
    }
    assertEquals(sensors.status, 200);
    assertEquals(sensors.body.sensors.map((s: { id: string }) => s.id), [
      "s00",
      "s01",
      "s02",
      "s03",
      "s04",
    ]);
    assertEquals((await get("/api/sensors?group=plant-b")).body.sensors, []);
    // A sensor outside the token looks like one that does not exist.
    const foreign = await get("/api/sensors/s10/history?metric=t");
    assertEquals(foreign.status, 404);
    assertEquals((await get("/api/sensors/s00/history?metric=t")).status, 200);
    assertEquals((await get("/api/aggregates?group=plant-b")).status, 404);
    const own = await get("/api/aggregates?group=plant-a/line-1&window=1s");
    assertEquals(own.status, 200);
    assertEquals(own.body.group, "plant-a/line-1");
    // The root group is everything this viewer may read.
    const all = await get("/api/aggregates");
    assertEquals([all.status, all.body.group], [200, ""]);
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
