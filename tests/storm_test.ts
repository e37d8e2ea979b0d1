// A reconnect storm: 1,000 clients drop at once and come back at once.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import { spawnServer } from "./testing/server_process.ts";

const CLIENTS = 1_000;
const TOPICS = 10;

async function post(url: string, round: number): Promise<void> {
  const docs = Array.from({ length: 200 }, (_, i) => ({
    sensorId: `s${i}`,
    group: `plant-${i % TOPICS}/line-1`,
    timestamp: 1_700_000_000_000 + round * 1000 + i,
    reading: { t: round + i },
  }));
  const response = await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: JSON.stringify(docs),
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, 200);
}

Deno.test({
  name: "after a reconnect storm of 1,000 clients all get live data again and the server stays up",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const server = await spawnServer([
    "--port",
    "0",
    "--data",
    ":memory:",
    "--max-connections-per-address",
    "5000",
    // Its clients stand for many machines: no one address's viewport row budget.
    "--view-rows-per-address",
    "100000000",
  ]);
  try {
    await post(server.url, 0);
    const first = Array.from(
      { length: CLIENTS },
      () => new FeedClient(server.url, { explicit: true }),
    );
    await Promise.all(first.map((c) => c.opened));
    first.forEach((c, i) => c.subscribe([{ id: 1, group: `plant-${i % TOPICS}` }]));
    await eventually(() => first.every((c) => c.snapshots === 1), 30_000, "first snapshots");
    await post(server.url, 1);
    await eventually(() => first.every((c) => c.deltas >= 1), 30_000, "first deltas");

    // Everyone drops at once, data moves on, everyone comes back at once and resumes.
    await Promise.all(first.map((c) => c.close()));
    await post(server.url, 2);
    const second = first.map((c) => new FeedClient(server.url, { resumeFrom: c }));
    await Promise.all(second.map((c) => c.opened));
    second.forEach((c, i) => c.subscribe([{ id: 1, group: `plant-${i % TOPICS}` }], true));
    await eventually(
      () => second.every((c) => c.subscribed.length === 1),
      30_000,
      "all resubscribed",
    );
    const recovered = second.filter((c) => c.subscribed[0].recovered).length;
    assertEquals(recovered, CLIENTS, "every client resumed within the ring");
    const seqs = second.map((c) => c.seq);
    await post(server.url, 3);
    await eventually(() => second.every((c, i) => c.seq > seqs[i]), 30_000, "live data again");
    assertEquals(second.reduce((n, c) => n + c.gaps, 0), 0);
    const health = await (await fetch(new URL("/healthz", server.url))).json();
    assertEquals([health.status, health.sessions], ["ok", CLIENTS]);
    assert(health.hub.recovered === CLIENTS, JSON.stringify(health.hub.recovered));
    await Promise.all(second.map((c) => c.close()));
  } finally {
    server.child.kill("SIGTERM");
    await server.child.status;
  }
});
