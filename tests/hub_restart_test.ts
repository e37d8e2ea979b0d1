// A hub that throws is restarted: its clients are closed with 1012 and, on
// reconnecting over real WebSockets, get a fresh snapshot (a new epoch) equal
// to a recomputation of every reading, those the failed hub never merged too.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { DEFAULT_WINDOW_SPEC, Hub, ShardSet } from "../actors/mod.ts";
import type { Behavior, ShardBehavior, ShardChanges, ShardMessage } from "../actors/mod.ts";
import { feedSocketHandler, listen } from "../server/http/mod.ts";
import { blockFromReadings } from "../protocol/reading_block.ts";

/** A shard whose next flush answer, once armed, is malformed: the hub merging it throws. */
class Poisoned implements Behavior<ShardMessage> {
  static armed = false;
  constructor(readonly inner: ShardBehavior) {}
  receive(message: ShardMessage): void {
    if (message.type === "flush" && Poisoned.armed) {
      Poisoned.armed = false;
      const reply = message.reply;
      return this.inner.receive({
        ...message,
        reply: (changes: ShardChanges) =>
          reply({ ...changes, updates: null } as unknown as ShardChanges),
      });
    }
    this.inner.receive(message);
  }
}

const notHere = () => new Response(null, { status: 404 });

Deno.test("after a hub failure its clients are closed with 1012 and reconnect to a fresh, complete state", async () => {
  const shards = ShardSet.create({
    count: 2,
    window: 50,
    windowSpec: DEFAULT_WINDOW_SPEC,
    wrap: (shard) => new Poisoned(shard),
  });
  const failures: string[] = [];
  const hub = new Hub(shards, { pingIntervalMs: 1e9, onFailure: (r) => failures.push(r.actor) });
  await hub.tick();
  hub.tickEvery(20, () => true);
  const { server, url } = await listen({
    feed: feedSocketHandler(hub),
    ingest: notHere,
    ingestStatus: () => Promise.resolve(notHere()),
    sensors: notHere,
    history: () => Promise.resolve(notHere()),
    aggregates: notHere,
    groups: () => Promise.resolve(notHere()),
    files: notHere,
    health: () => ({}),
    ready: () => ({ ready: true, problems: [] }),
    metrics: () => Promise.resolve(notHere()),
  }, {
    port: 0,
    host: "127.0.0.1",
    certFile: null,
    keyFile: null,
    allowedHosts: [],
    allowedOrigins: null,
    corsOrigins: null,
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 5_000,
  });
  const readings: PlainReading[] = [];
  const deliver = async (from: number, count: number) => {
    const batch = Array.from({ length: count }, (_, i) => ({
      sensorId: `s${(from + i) % 7}`,
      timeMs: 1_000 + from + i,
      values: { v: (from + i) * 1.5 },
    }));
    readings.push(...batch);
    await shards.deliver(blockFromReadings(batch));
  };
  const clients: FeedClient[] = [];
  try {
    const first = new FeedClient(url);
    clients.push(first);
    await first.opened;
    await deliver(0, 40);
    await eventually(() => sameState(first.state(), recompute(readings)), 5_000, "first state");
    const epoch = first.epoch;

    Poisoned.armed = true;
    await deliver(40, 30); // the failed hub never shows these
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      first.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("not closed after the hub failed")), 5_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assertEquals([closed.code, closed.reason], [1012, "service restart"]);
    assertEquals(failures, ["hub"]);

    // A plain reconnect, and one that tries to resume: both get the whole state anew.
    const plain = new FeedClient(url);
    const resuming = new FeedClient(url, { resumeFrom: first });
    clients.push(plain, resuming);
    await Promise.all([plain.opened, resuming.opened]);
    resuming.subscribe([{ id: 1, all: true }], true);
    for (const client of [plain, resuming]) {
      await eventually(() => sameState(client.state(), recompute(readings)), 5_000, "fresh state");
      assertEquals(client.subscribed[0].recovered, false);
      assert(client.epoch !== epoch, "a new epoch");
      assertEquals(client.gaps, 0);
    }
    // And the feed goes on.
    await deliver(70, 10);
    await eventually(() => sameState(plain.state(), recompute(readings)), 5_000, "after");
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.shutdown(0);
    await hub.stop();
    await shards.stop();
  }
});
