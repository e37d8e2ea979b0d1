// Subscription and topic limits (issue 15, items 9 and 10) on a real server
// with real WebSocket clients: caps per session, a share of the topics per
// client address and per token, idle topics evicted first, and a viewer that
// always gets the set its token allows while others hoard.
import * as jose from "jose";
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import type { Config } from "../server/config/options.ts";
import { encodeSubscribe } from "../protocol/mod.ts";

const GROUPS = ["plant-a/line-1", "plant-a/line-2", "plant-b/line-1", "plant-c/line-1"];

function readings(round: number, count = 40): PlainReading[] {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `s${i}`,
    group: GROUPS[i % GROUPS.length],
    timeMs: 1_700_000_000_000 + round * 1000 + i,
    values: { t: round * 100 + i },
  }));
}

async function post(server: Pulseboard, batch: PlainReading[]): Promise<void> {
  const response = await fetch(new URL("/api/ingest", server.url), {
    method: "POST",
    body: JSON.stringify(batch.map((r) => ({
      sensorId: r.sensorId,
      group: r.group,
      timestamp: r.timeMs,
      reading: r.values,
    }))),
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, batch.length);
}

async function withServer(config: Partial<Config>, run: (server: Pulseboard) => Promise<void>) {
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    tickMs: 20,
    ...config,
  });
  try {
    await run(server);
  } finally {
    await server.shutdown();
    await server.finished;
  }
}

function only(state: ReturnType<typeof recompute>, keep: (id: string) => boolean) {
  return Object.fromEntries(Object.entries(state).filter(([key]) => keep(key.split("/")[0])));
}

const inGroup = (prefix: string) => (id: string) => {
  const group = GROUPS[Number(id.slice(1)) % GROUPS.length];
  return group === prefix || group.startsWith(prefix + "/");
};

/** A Subscribe that replaces the session's set (what the dashboard sends). */
function replaceWith(client: FeedClient, subscriptions: Parameters<typeof encodeSubscribe>[0]) {
  client.socket.send(encodeSubscribe(subscriptions, null, true));
}

/** An explicit client that the server sees coming from `address` (through a trusted proxy). */
function from(server: Pulseboard, address: string, protocols?: string[]): FeedClient {
  return new FeedClient(server.url, {
    explicit: true,
    protocols,
    headers: { "x-forwarded-for": address },
  });
}

/** A sensor id of exactly `length` characters, distinct per (tag, i). */
const longId = (tag: string, i: number, length = 128) => `${tag}-${i}-`.padEnd(length, "x");

const answered = (clients: FeedClient[], count: number) => () =>
  clients.every((c) => c.subscribed.length + c.errors.length >= count);

Deno.test("accumulating Subscribes are refused past the per-session caps; the connection stays, topics, key bytes and /healthz stay small, and all is freed once the client leaves", async () => {
  const maxSubscriptions = 8;
  const maxSubscriptionBytes = 4096;
  await withServer({ maxSubscriptions, maxSubscriptionBytes, ringMs: 300 }, async (server) => {
    const posted = readings(0);
    await post(server, posted);
    const many = new FeedClient(server.url, { explicit: true });
    const big = new FeedClient(server.url, { explicit: true });
    await Promise.all([many.opened, big.opened]);

    // Twelve Subscribes without replace, one subscription each: eight fit.
    for (let id = 1; id <= 12; id++) many.subscribe([{ id, sensors: [`s${id}`] }]);
    await eventually(answered([many], 12), 5_000, "12 answers");
    assertEquals(many.subscribed.length, maxSubscriptions);
    assertEquals(many.errors.length, 12 - maxSubscriptions);
    for (const error of many.errors) {
      assertEquals(error.code, 0, "an Error that does not close");
      assert(
        /^Cannot subscribe: .*at most 8 subscriptions/.test(error.message),
        error.message,
      );
    }
    assertEquals(many.subscribed.at(-1)!.ids.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);

    // The pattern, scaled: Subscribes of 200 ids of 128 characters
    // (25 KiB each) accumulate, then small steps of 10 ids (1280 bytes).
    for (let m = 0; m < 15; m++) {
      big.subscribe([{
        id: 100 + m,
        sensors: Array.from({ length: 200 }, (_, i) => longId(`m${m}`, i)),
      }]);
    }
    for (let step = 0; step < 4; step++) {
      big.subscribe([{
        id: 200 + step,
        sensors: Array.from({ length: 10 }, (_, i) => longId(`step${step}`, i)),
      }]);
    }
    await eventually(answered([big], 19), 5_000, "19 answers");
    // 30 ids of 128 bytes (3840) fit in 4096; 40 (5120) do not.
    assertEquals(big.subscribed.length, 3);
    assertEquals(big.errors.length, 16);
    for (const error of big.errors) {
      assert(/^Cannot subscribe: .*4096 bytes/.test(error.message), error.message);
    }
    assertEquals(big.subscribed.at(-1)!.ids.sort((a, b) => a - b), [200, 201, 202]);

    // Bounded: no topic's set is over the cap, and /healthz lists no keys in full.
    await new Promise((r) => setTimeout(r, 100)); // a few ticks for the stats
    const stats = server.hubStats;
    assert(stats.topicCount >= 2, `${stats.topicCount} topics`);
    assert(
      stats.topicKeyBytes <= stats.topicCount * (maxSubscriptionBytes + 64),
      `${stats.topicKeyBytes} key bytes over ${stats.topicCount} topics`,
    );
    const health = await (await fetch(new URL("/healthz", server.url))).text();
    assert(health.length < 16_384, `/healthz is ${health.length} bytes`);
    // Anonymous /healthz names no topic (keys carry scopes and sensor ids): it counts them.
    // Replaced topics expire after ringMs (300 ms), so compare one answer with the count around it.
    for (let tries = 0;; tries++) {
      const before = stats.topicCount;
      const counted = (await (await fetch(new URL("/healthz", server.url))).json()).hub.topics;
      if (counted === before && counted === stats.topicCount) break;
      assert(
        tries < 50,
        `/healthz counts ${counted} topics, the hub ${before} → ${stats.topicCount}`,
      );
      await new Promise((r) => setTimeout(r, 100));
    }

    // Both connections stay and keep the stream they had.
    await post(server, readings(1));
    const expected = only(recompute([...posted, ...readings(1)]), (id) => {
      const n = Number(id.slice(1));
      return n >= 1 && n <= 8;
    });
    await eventually(() => sameState(many.state(), expected), 5_000, "many still live");
    assertEquals([many.socket.readyState, big.socket.readyState], [WebSocket.OPEN, WebSocket.OPEN]);

    // Once they leave, their topics go (after the 300 ms ring) with their key bytes.
    await Promise.all([many.close(), big.close()]);
    await eventually(
      () => server.hubStats.topicCount === 1 && server.hubStats.topicKeyBytes === "*".length,
      5_000,
      "only the everything-topic left",
    );
    assertEquals(server.hubStats.sessions, 0);
  });
});

Deno.test("attackers from one address hold at most their share of topics; viewers from other addresses still get their group at once; idle topics are evicted at once", async () => {
  // --max-topics 8: a share of max(4, 8/16) = 4 per address.
  const share = 4;
  await withServer(
    { maxTopics: 8, trustedProxies: ["loopback"], ringMs: 60_000 },
    async (server) => {
      const posted = readings(0);
      await post(server, posted);
      const x = Array.from({ length: 8 }, () => from(server, "203.0.113.10"));
      const y = Array.from({ length: 8 }, () => from(server, "203.0.113.20"));
      await Promise.all([...x, ...y].map((c) => c.opened));

      // Eight connections from one address, eight distinct sets: four are served.
      x.forEach((c, i) => c.subscribe([{ id: 1, sensors: [`s${i}`] }]));
      await eventually(answered(x, 1), 5_000, "x answered");
      assertEquals(x.filter((c) => c.subscribed.length === 1).length, share);
      for (const c of x.filter((c) => c.errors.length > 0)) {
        assert(
          /^Cannot subscribe: this address already holds 4 subscription sets/.test(
            c.errors[0].message,
          ),
          c.errors[0].message,
        );
      }
      // Each tries a new set: a holder's old set (now idle) makes room; the others stay refused.
      x.forEach((c, i) => replaceWith(c, [{ id: 2, sensors: [`s${i + 8}`] }]));
      await eventually(answered(x, 2), 5_000, "x answered twice");
      assertEquals(x.reduce((n, c) => n + c.subscribed.length, 0), 2 * share);
      await new Promise((r) => setTimeout(r, 100));
      assertEquals(server.hubStats.topicCount, 1 + share, "everything + the share of x");

      // A second address fills the server up to --max-topics.
      y.forEach((c, i) => c.subscribe([{ id: 1, sensors: [`s${i + 16}`] }]));
      await eventually(answered(y, 1), 5_000, "y answered");
      const yServed = y.filter((c) => c.subscribed.length === 1).length;
      assertEquals(yServed, 8 - 1 - share);
      await new Promise((r) => setTimeout(r, 100));
      assertEquals(server.hubStats.topicCount, 8);

      // A viewer from a third address gets its group at once: the biggest holder gives way.
      const viewer = from(server, "198.51.100.7");
      await viewer.opened;
      viewer.subscribe([{ id: 1, group: "plant-a" }]);
      await eventually(() => viewer.snapshots === 1, 5_000, "viewer's snapshot");
      assertEquals(viewer.errors, []);
      assert(
        sameState(viewer.state(), only(recompute(posted), inGroup("plant-a"))),
        "plant-a only",
      );
      const evicted = x.filter((c) =>
        c.errors.some((e) => /^Subscription set evicted/.test(e.message))
      );
      assertEquals(evicted.length, 1, "one of the biggest holder's sets gave way");
      const second = from(server, "198.51.100.8");
      await second.opened;
      second.subscribe([{ id: 1, group: "plant-b" }]);
      await eventually(() => second.snapshots === 1, 5_000, "second viewer's snapshot");
      assertEquals(second.errors, []);
      await new Promise((r) => setTimeout(r, 100));
      assertEquals(server.hubStats.topicCount, 8, "never more than --max-topics");

      // The attackers leave; their sets stay for resuming (60 s) but give way at once.
      const gone = x.find((c) => c.subscribed.length === 2 && !evicted.includes(c))!;
      await Promise.all([...x, ...y].map((c) => c.close()));
      await eventually(() => server.hubStats.sessions === 2, 5_000, "attackers gone");
      await new Promise((r) => setTimeout(r, 100));
      const idle = server.hubStats.idleTopics;
      assertEquals(idle, 8 - 3, "the attackers' sets are idle");
      const evictedBefore = server.hubStats.topicsEvicted;
      const newcomers = Array.from({ length: idle }, (_, i) => from(server, `192.0.2.${i + 1}`));
      await Promise.all(newcomers.map((c) => c.opened));
      newcomers.forEach((c, i) => c.subscribe([{ id: 1, sensors: [`s${30 + i}`] }]));
      await eventually(() => newcomers.every((c) => c.snapshots === 1), 5_000, "newcomers served");
      assert(newcomers.every((c) => c.errors.length === 0), "no newcomer refused");
      await new Promise((r) => setTimeout(r, 100));
      assertEquals(server.hubStats.topicsEvicted - evictedBefore, idle);
      assertEquals([server.hubStats.topicCount, server.hubStats.idleTopics], [8, 0]);

      // A resume point on an evicted set gets recovered = false and a snapshot (a
      // new epoch); the set of a newcomer that left gives way to it.
      await newcomers[0].close();
      await eventually(() => server.hubStats.sessions === 2 + idle - 1, 5_000, "newcomer gone");
      // A resume point on an evicted set gets recovered = false and a snapshot (a new epoch).
      const resumer = new FeedClient(server.url, {
        resumeFrom: gone,
        headers: { "x-forwarded-for": "192.0.2.200" },
      });
      await resumer.opened;
      const set = gone.subscribed.at(-1)!;
      resumer.socket.send(
        encodeSubscribe(
          [{ id: 2, sensors: [`s${x.indexOf(gone) + 8}`] }],
          { epoch: gone.epoch, seq: gone.seq },
          true,
        ),
      );
      await eventually(() => resumer.snapshots === 1, 5_000, "resumer's snapshot");
      assertEquals(resumer.subscribed[0].recovered, false);
      assert(resumer.subscribed[0].epoch !== set.epoch, "a fresh stream");
      await Promise.all([viewer, second, resumer, ...newcomers.slice(1)].map((c) => c.close()));
    },
  );
});

Deno.test("attackers sharing one token hold at most its share of topics; a viewer with another token still gets what its token allows at once", async () => {
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256");
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-share-" });
  try {
    await Deno.writeTextFile(`${dir}/public.pem`, await jose.exportSPKI(publicKey));
    const sign = (subject: string, groups: string[]) =>
      new jose.SignJWT({ groups }).setProtectedHeader({ alg: "ES256" }).setIssuer("iss")
        .setAudience("aud").setSubject(subject).setExpirationTime("10m").sign(privateKey);
    await withServer({
      maxTopics: 6,
      trustedProxies: ["loopback"],
      ringMs: 60_000,
      jwtIssuer: "iss",
      jwtAudience: "aud",
      jwtPublicKeyFile: `${dir}/public.pem`,
    }, async (server) => {
      const posted = readings(0);
      await post(server, posted);
      const bearer = async (subject: string, groups: string[]) => [
        "pulseboard",
        `bearer.${await sign(subject, groups)}`,
      ];
      // One token, eight addresses (so no address share binds): the token's share, 4, is served.
      const mallory = await bearer("mallory", ["*"]);
      const attackers = Array.from(
        { length: 8 },
        (_, i) => from(server, `203.0.113.${100 + i}`, mallory),
      );
      await Promise.all(attackers.map((c) => c.opened));
      attackers.forEach((c, i) => c.subscribe([{ id: 1, sensors: [`s${i}`] }]));
      await eventually(answered(attackers, 1), 5_000, "attackers answered");
      assertEquals(attackers.filter((c) => c.subscribed.length === 1).length, 4);
      for (const c of attackers.filter((c) => c.errors.length > 0)) {
        assert(
          /^Cannot subscribe: this token already holds 4 subscription sets/.test(
            c.errors[0].message,
          ),
          c.errors[0].message,
        );
      }
      // Another token takes the last slot: 1 + 4 + 1 = --max-topics.
      const trudy = from(server, "203.0.113.200", await bearer("trudy", ["*"]));
      await trudy.opened;
      trudy.subscribe([{ id: 1, sensors: ["s20"] }]);
      await eventually(() => trudy.snapshots === 1, 5_000, "trudy served");
      await new Promise((r) => setTimeout(r, 100));
      assertEquals(server.hubStats.topicCount, 6);

      // A viewer limited to plant-a gets its scoped everything at once, then its group pick.
      const viewer = new FeedClient(server.url, {
        protocols: await bearer("viewer", ["plant-a"]),
        headers: { "x-forwarded-for": "198.51.100.7" },
      });
      await eventually(() => viewer.snapshots === 1, 5_000, "viewer's scoped snapshot");
      assert(
        sameState(viewer.state(), only(recompute(posted), inGroup("plant-a"))),
        "plant-a only",
      );
      replaceWith(viewer, [{ id: 1, group: "plant-a/line-2" }]);
      await eventually(() => viewer.snapshots === 2, 5_000, "viewer's group snapshot");
      assertEquals(viewer.errors, []);
      assert(
        sameState(viewer.state(), only(recompute(posted), inGroup("plant-a/line-2"))),
        "plant-a/line-2 only",
      );
      await post(server, readings(1));
      await eventually(
        () =>
          sameState(
            viewer.state(),
            only(recompute([...posted, ...readings(1)]), inGroup("plant-a/line-2")),
          ),
        5_000,
        "viewer live",
      );
      await new Promise((r) => setTimeout(r, 100));
      assert(server.hubStats.topicCount <= 6, `${server.hubStats.topicCount} topics`);
      await Promise.all([...attackers, trudy, viewer].map((c) => c.close()));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
