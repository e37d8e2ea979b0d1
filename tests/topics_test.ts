// Topics, gap-free snapshot-then-live, and recovery after a reconnect, on a
// real server with real WebSocket clients.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import type { Config } from "../server/config/options.ts";

const GROUPS = ["plant-a/line-1", "plant-a/line-2", "plant-b/line-1", "plant-ab/line-1"];

function readings(round: number, count = 40): PlainReading[] {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `s${i}`,
    group: GROUPS[i % GROUPS.length],
    timeMs: 1_700_000_000_000 + round * 1000 + i,
    values: { t: round * 100 + i, h: (round * 7 + i) % 50 },
  }));
}

async function post(server: Pulseboard, batch: PlainReading[]): Promise<void> {
  const body = JSON.stringify(batch.map((r) => ({
    sensorId: r.sensorId,
    group: r.group,
    timestamp: r.timeMs,
    reading: r.values,
  })));
  const response = await fetch(new URL("/api/ingest", server.url), {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, batch.length);
}

function only(state: ReturnType<typeof recompute>, ids: Set<string>) {
  return Object.fromEntries(Object.entries(state).filter(([key]) => ids.has(key.split("/")[0])));
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

const idsIn = (prefix: string) =>
  new Set(
    readings(0).filter((r) => r.group === prefix || r.group!.startsWith(prefix + "/")).map((r) =>
      r.sensorId
    ),
  );

Deno.test("subscriptions select by group prefix, id list or everything; overlaps send each update once", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, readings(0));
    posted.push(...readings(0));
    const byGroup = new FeedClient(server.url, { explicit: true });
    const overlapping = new FeedClient(server.url, { explicit: true });
    const everything = new FeedClient(server.url);
    await Promise.all([byGroup.opened, overlapping.opened, everything.opened]);
    byGroup.subscribe([{ id: 1, group: "plant-a" }]);
    overlapping.subscribe([
      { id: 1, group: "plant-a" },
      { id: 2, group: "plant-a/line-1" },
      { id: 3, sensors: ["s0", "s2", "s39"] },
    ]);
    for (let round = 1; round <= 5; round++) {
      await post(server, readings(round));
      posted.push(...readings(round));
    }
    const all = recompute(posted);
    const plantA = idsIn("plant-a"); // not plant-ab: prefixes match whole segments
    const union = new Set([...plantA, "s0", "s2", "s39"]);
    await eventually(
      () => sameState(byGroup.state(), only(all, plantA)),
      5_000,
      "group subscription state",
    );
    await eventually(
      () => sameState(overlapping.state(), only(all, union)),
      5_000,
      "overlapping state",
    );
    await eventually(() => sameState(everything.state(), all), 5_000, "everything state");
    assertEquals(overlapping.duplicateUpdates, 0, "each sensor-metric at most once per delta");
    assertEquals([byGroup.gaps, overlapping.gaps, everything.gaps], [0, 0, 0]);
    assertEquals(overlapping.subscribed.at(-1)!.ids.sort(), [1, 2, 3]);

    // Unsubscribing the id list drops the sensors only it selected.
    overlapping.unsubscribe([3]);
    await eventually(() => overlapping.snapshots === 2, 5_000, "snapshot after unsubscribe");
    assert(
      sameState(overlapping.state(), only(all, new Set([...plantA, "s0"]))),
      "s2 and s39 are gone",
    );

    // A replacing Subscribe swaps the whole set in one step.
    overlapping.socket.send(
      (await import("../protocol/mod.ts")).encodeSubscribe(
        [{ id: 5, group: "plant-b" }],
        null,
        true,
      ),
    );
    await eventually(() => overlapping.snapshots === 3, 5_000, "snapshot after replace");
    assert(sameState(overlapping.state(), only(all, idsIn("plant-b"))), "only plant-b now");
    assertEquals(overlapping.subscribed.at(-1)!.ids, [5]);

    // The group catalogue lists every group with its sensor count.
    const { groups } = await (await fetch(new URL("/api/groups", server.url))).json();
    // (Each also counts its sensors needing attention: these may have gone stale by now.)
    assertEquals(
      groups.map(({ group, sensors }: { group: string; sensors: number }) => ({ group, sensors })),
      GROUPS.slice().sort().map((group) => ({ group, sensors: 10 })),
    );

    // Bad subscriptions get an Error with a reason; the connection stays and keeps its stream.
    byGroup.subscribe([{ id: 9, group: "not a group!" }, { id: 10 }, {
      id: 11,
      all: true,
      group: "plant-a",
    }]);
    await eventually(() => byGroup.errors.length === 3, 5_000, "three errors");
    assertEquals(byGroup.errors.map((e) => e.code), [0, 0, 0]);
    assert(
      byGroup.errors.every((e) => e.message.startsWith("Cannot subscribe:")),
      JSON.stringify(byGroup.errors),
    );
    await post(server, readings(6));
    posted.push(...readings(6));
    await eventually(
      () => sameState(byGroup.state(), only(recompute(posted), plantA)),
      5_000,
      "still live",
    );
    await Promise.all([byGroup.close(), overlapping.close(), everything.close()]);
  });
});

Deno.test("a subscription made during steady ingest starts with a snapshot and continues gap-free", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    let stop = false;
    const ingest = (async () => {
      for (let round = 0; !stop; round++) {
        await post(server, readings(round));
        posted.push(...readings(round));
      }
    })();
    await eventually(() => posted.length > 200, 5_000, "ingest running");
    const client = new FeedClient(server.url, { explicit: true });
    await client.opened;
    client.subscribe([{ id: 1, group: "plant-b" }]);
    await eventually(() => client.deltas > 10, 5_000, "deltas after the snapshot");
    stop = true;
    await ingest;
    const expected = only(recompute(posted), idsIn("plant-b"));
    await eventually(
      () => sameState(client.state(), expected),
      5_000,
      "state equals recomputation",
    );
    assertEquals([client.snapshots, client.gaps], [1, 0]);
    await client.close();
  });
});

Deno.test("a reconnect resumes from (epoch, seq): missed frames while the ring has them, else a fresh snapshot", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    const first = new FeedClient(server.url, { explicit: true });
    await first.opened;
    first.subscribe([{ id: 1, group: "plant-a" }]);
    for (let round = 0; round < 3; round++) {
      await post(server, readings(round)), posted.push(...readings(round));
    }
    await eventually(
      () => sameState(first.state(), only(recompute(posted), idsIn("plant-a"))),
      5_000,
      "first",
    );
    await first.close();
    // Missed while away.
    for (let round = 3; round < 8; round++) {
      await post(server, readings(round)), posted.push(...readings(round));
    }
    await new Promise((r) => setTimeout(r, 100));

    const second = new FeedClient(server.url, { resumeFrom: first });
    await second.opened;
    second.subscribe([{ id: 1, group: "plant-a" }], true);
    await eventually(() => second.subscribed.length === 1, 5_000, "subscribed");
    assertEquals(second.subscribed[0].recovered, true);
    assertEquals(second.subscribed[0].seq, first.seq);
    await eventually(
      () => sameState(second.state(), only(recompute(posted), idsIn("plant-a"))),
      5_000,
      "resumed",
    );
    assertEquals([second.snapshots, second.gaps], [0, 0]);
    assertEquals(server.hubStats.recovered, 1);

    // A resume point from another epoch (e.g. before a restart) gets a fresh snapshot instead.
    await second.close();
    const stale = new FeedClient(server.url, { resumeFrom: second });
    stale.epoch = second.epoch ^ 1;
    await stale.opened;
    stale.subscribe([{ id: 1, group: "plant-a" }], true);
    await eventually(() => stale.snapshots === 1, 5_000, "snapshot");
    assertEquals(stale.subscribed[0].recovered, false);
    assert(sameState(stale.state(), only(recompute(posted), idsIn("plant-a"))));
    assertEquals(server.hubStats.resynced, 1);
    await stale.close();
  });
});

Deno.test("a resume point older than the ring gets recovered = false and a snapshot, never a partial replay", async () => {
  // Room for about one frame: after a few missed ones the ring still has the
  // latest, but not everything the client missed.
  await withServer({ ringBytes: 9_000 }, async (server) => {
    const posted: PlainReading[] = [];
    const first = new FeedClient(server.url, { explicit: true });
    await first.opened;
    first.subscribe([{ id: 1, all: true }]);
    await post(server, readings(0));
    posted.push(...readings(0));
    await eventually(() => first.deltas > 0, 5_000, "a delta");
    await first.close();
    for (let round = 1; round <= 4; round++) {
      await post(server, readings(round));
      posted.push(...readings(round));
      await new Promise((r) => setTimeout(r, 60)); // a tick each
    }
    const ring = server.hubStats.topics.find((t) => t.key === "*")!.ring;
    assert(ring >= 1 && ring < 4, `ring holds ${ring} frames`);
    const second = new FeedClient(server.url, { resumeFrom: first });
    await second.opened;
    second.subscribe([{ id: 1, all: true }], true);
    await eventually(() => second.snapshots === 1, 5_000, "snapshot");
    assertEquals(second.subscribed[0].recovered, false);
    assertEquals(second.deltas, 0, "no replayed deltas");
    assert(sameState(second.state(), recompute(posted)));
    await second.close();
  });
});

Deno.test("across a server restart a resume point gets recovered = false and a snapshot of the same state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-topics-" });
  const data = `${dir}/store.kv`;
  const posted: PlainReading[] = [];
  let before: FeedClient | null = null;
  try {
    await withServer({ data }, async (server) => {
      before = new FeedClient(server.url, { explicit: true });
      await before.opened;
      before.subscribe([{ id: 1, group: "plant-a" }]);
      await post(server, readings(0));
      posted.push(...readings(0));
      await eventually(() => before!.deltas > 0, 5_000, "a delta");
      await before.close();
    });
    await withServer({ data }, async (server) => {
      const after = new FeedClient(server.url, { resumeFrom: before! });
      await after.opened;
      after.subscribe([{ id: 1, group: "plant-a" }], true);
      await eventually(() => after.snapshots === 1, 5_000, "snapshot");
      assertEquals(after.subscribed[0].recovered, false);
      assert(after.epoch !== before!.epoch, "a restart is a new epoch");
      await eventually(
        () => sameState(after.state(), only(recompute(posted), idsIn("plant-a"))),
        5_000,
        "state",
      );
      await after.close();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distinct subscription sets beyond --max-topics are refused with an Error; the connection stays", async () => {
  await withServer({ maxTopics: 3 }, async (server) => {
    await post(server, readings(0));
    const clients = [0, 1, 2].map(() => new FeedClient(server.url, { explicit: true }));
    await Promise.all(clients.map((c) => c.opened));
    clients[0].subscribe([{ id: 1, group: "plant-a" }]); // topic 2 (everything is 1)
    clients[1].subscribe([{ id: 1, group: "plant-b" }]); // topic 3
    await eventually(
      () => clients[0].snapshots === 1 && clients[1].snapshots === 1,
      5_000,
      "two topics",
    );
    clients[2].subscribe([{ id: 1, sensors: ["s1"] }]); // would be a fourth
    await eventually(() => clients[2].errors.length === 1, 5_000, "refused");
    assert(
      /distinct subscription sets/.test(clients[2].errors[0].message),
      clients[2].errors[0].message,
    );
    clients[2].subscribe([{ id: 1, group: "plant-a" }]); // an existing topic is fine
    await eventually(() => clients[2].snapshots === 1, 5_000, "joined an existing topic");
    await Promise.all(clients.map((c) => c.close()));
  });
});

Deno.test("a client on /ws?encoding=compact holds the recomputed state from compact frames, and resumes on them", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    const compact = new FeedClient(server.url, { encoding: "compact" });
    const full = new FeedClient(server.url);
    await Promise.all([compact.opened, full.opened]);
    for (let round = 0; round < 6; round++) {
      await post(server, readings(round)), posted.push(...readings(round));
    }
    const want = recompute(posted);
    await eventually(() => sameState(full.state(), want), 5_000, "full");
    // Averages go with 2 decimals in compact frames; everything else exactly.
    const close = (a: typeof want, b: typeof want) =>
      Object.keys(a).length === Object.keys(b).length &&
      Object.entries(b).every(([k, v]) =>
        a[k] && a[k].last === v.last && a[k].min === v.min && a[k].max === v.max &&
        a[k].timeMs === v.timeMs && Math.abs(a[k].avg - v.avg) <= 0.005 + 1e-9
      );
    await eventually(() => close(compact.state(), want), 5_000, "compact");
    assert(compact.compactFrames > 0, "compact frames arrived");
    assertEquals([compact.gaps, full.compactFrames], [0, 0]);
    assert(
      compact.frameBytes < full.frameBytes,
      `${compact.frameBytes} vs ${full.frameBytes} bytes`,
    );
    // A reconnect resumes from the compact stream's ring.
    await compact.close();
    for (let round = 6; round < 9; round++) {
      await post(server, readings(round)), posted.push(...readings(round));
    }
    const back = new FeedClient(server.url, { resumeFrom: compact, encoding: "compact" });
    await back.opened;
    back.subscribe([{ id: 1, all: true }], true);
    await eventually(() => close(back.state(), recompute(posted)), 5_000, "resumed");
    assertEquals(back.subscribed.map((s) => s.recovered), [true]);
    assertEquals([back.snapshots, back.gaps], [0, 0]);
    await Promise.all([back.close(), full.close()]);
  });
});
