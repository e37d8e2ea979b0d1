// /healthz and /metrics answer without a token: with dashboard JWTs on they
// must not tell who watches what (a token's groups, subscribed sensor ids),
// and still count what an operator needs.
import * as jose from "jose";
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { encodeSubscribe } from "../protocol/mod.ts";

const ISSUER = "https://id.example";
const AUDIENCE = "pulseboard";
/** Names only viewers' tokens and subscriptions carry. */
const SECRET_GROUP = "zeta-secret-plant";
const OTHER_GROUP = "omega-hidden-site";
const SECRET_SENSOR = "sensor-secret-42";

/** `promtool check metrics` on the page; true where promtool is missing outside CI. */
async function promtoolAccepts(text: string): Promise<boolean> {
  let check;
  try {
    check = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && Deno.env.get("CI") !== "true") return true;
    throw error;
  }
  const writer = check.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  return (await check.status).success;
}

Deno.test("with JWTs on, anonymous /healthz and /metrics name no viewer's groups or subscribed sensor ids", async () => {
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256");
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-ops-" });
  await Deno.writeTextFile(`${dir}/public.pem`, await jose.exportSPKI(publicKey));
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: `${dir}/store.kv`,
    tickMs: 20,
    jwtIssuer: ISSUER,
    jwtAudience: AUDIENCE,
    jwtPublicKeyFile: `${dir}/public.pem`,
  });
  const sign = (groups: string[]) =>
    new jose.SignJWT({ groups }).setProtectedHeader({ alg: "ES256" }).setIssuer(ISSUER)
      .setAudience(AUDIENCE).setSubject(`viewer-${groups[0]}`).setExpirationTime("5m")
      .sign(privateKey);
  const ws = server.url.href.replace("http", "ws") + "ws";
  const clients: FeedClient[] = [];
  try {
    const docs = [
      { sensorId: SECRET_SENSOR, group: `${SECRET_GROUP}/line-1` },
      { sensorId: "other-1", group: `${OTHER_GROUP}/line-1` },
    ].map((d) => ({ ...d, timestamp: Date.now(), reading: { t: 1 } }));
    const ingest = await fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      body: JSON.stringify(docs),
      headers: { "content-type": "application/json" },
    });
    assertEquals((await ingest.json()).accepted, 2);

    // One viewer follows one sensor of its group (with windows), one its whole scope.
    const a = new FeedClient(ws, {
      explicit: true,
      windows: true,
      protocols: ["pulseboard", `bearer.${await sign([SECRET_GROUP])}`],
    });
    const b = new FeedClient(ws, {
      protocols: ["pulseboard", `bearer.${await sign([OTHER_GROUP])}`],
    });
    clients.push(a, b);
    await Promise.all([a.opened, b.opened]);
    a.socket.send(encodeSubscribe([{ id: 1, sensors: [SECRET_SENSOR] }], null, false, true));
    await eventually(() => a.sensors.size === 1 && b.sensors.size === 1, 5_000, "both fed");
    const watched = () => server.hubStats.topics.filter((t) => t.sessions > 0);
    // The hub does know the scopes: the test would prove nothing otherwise.
    await eventually(
      () =>
        watched().length === 2 &&
        watched().some((t) => t.key.includes(SECRET_SENSOR) && t.key.includes(SECRET_GROUP)),
      5_000,
      "two watched topics, one of them the secret sensor's",
    );

    const healthResponse = await fetch(new URL("/healthz", server.url));
    assertEquals(healthResponse.status, 200);
    const healthText = await healthResponse.text();
    const metricsResponse = await fetch(new URL("/metrics", server.url));
    assertEquals(metricsResponse.status, 200);
    const metricsText = await metricsResponse.text();
    for (const [page, text] of [["/healthz", healthText], ["/metrics", metricsText]]) {
      for (const secret of [SECRET_GROUP, OTHER_GROUP, SECRET_SENSOR, "scope=", "sensors="]) {
        assert(!text.includes(secret), `${page} names ${secret}`);
      }
    }

    // Still useful: counts of sessions and topics, sessions per (opaque) topic.
    const health = JSON.parse(healthText);
    assertEquals(health.sessions, 2);
    // Read from one snapshot of the counters: a tick between two reads may change them.
    assertEquals(typeof health.hub.topics, "number");
    assertEquals(health.hub.topics, health.hub.topicCount);
    assert(health.hub.topics >= 2, `${health.hub.topics} topics`);
    const topicSeries = metricsText.split("\n").filter((l) =>
      l.startsWith("pulseboard_topic_sessions{") && !l.endsWith(" 0")
    );
    assertEquals(topicSeries.length, 2, topicSeries.join("\n"));
    for (const line of topicSeries) {
      assert(/^pulseboard_topic_sessions\{topic="t[0-9a-f]{12}"\} 1$/.test(line), line);
    }
    assert(await promtoolAccepts(metricsText), "promtool check metrics");
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
