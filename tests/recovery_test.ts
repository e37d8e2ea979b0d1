// Crash and restart of a real server process on a real Deno KV file.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { spawnServer } from "./testing/server_process.ts";

async function startServer(data: string): Promise<{ url: URL; child: Deno.ChildProcess }> {
  const server = await spawnServer([
    "--port",
    "0",
    "--data",
    data,
    "--checkpoint",
    "200",
    "--tick",
    "20",
  ]);
  return { url: new URL(server.url), child: server.child };
}

async function health(url: URL) {
  return await (await fetch(new URL("/healthz", url))).json();
}

function batch(n: number): PlainReading[] {
  return Array.from({ length: 200 }, (_, i) => ({
    sensorId: `s${(n * 7 + i) % 60}`,
    group: "plant-a/line-1",
    timeMs: 1_700_000_000_000 + n * 1000 + i,
    values: { temperature: n + i / 1000, humidity: (n * 13 + i) % 100 },
  }));
}

async function post(url: URL, readings: PlainReading[]): Promise<void> {
  const docs = readings.map((r) => ({
    sensorId: r.sensorId,
    group: r.group,
    timestamp: r.timeMs,
    reading: r.values,
  }));
  const response = await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: JSON.stringify(docs),
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, readings.length);
}

Deno.test("kill -9 loses no acknowledged reading: restart = checkpoint + log replay = recomputation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-crash-" });
  const data = `${dir}/store.kv`;
  const posted: PlainReading[] = [];
  try {
    const first = await startServer(data);
    for (let n = 0; n < 10; n++) posted.push(...batch(n)), await post(first.url, batch(n));
    let checkpointed = 0;
    const deadline = Date.now() + 5_000;
    while (checkpointed === 0 && Date.now() < deadline) {
      checkpointed = (await health(first.url)).log.checkpointsSaved;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(checkpointed > 0, "a checkpoint was saved");
    // More acknowledged readings after the checkpoint, then a crash with no warning.
    for (let n = 10; n < 20; n++) posted.push(...batch(n)), await post(first.url, batch(n));
    first.child.kill("SIGKILL");
    await first.child.status;

    const second = await startServer(data);
    const h = await health(second.url);
    assert(h.log.startCursor !== null, "the restart began from a checkpoint");
    const client = new FeedClient(second.url);
    await client.opened;
    const expected = recompute(posted);
    await eventually(() => sameState(client.state(), expected), 10_000, "state after crash");
    assert(
      (await health(second.url)).log.readingsRead < posted.length,
      "only the log after the checkpoint was replayed",
    );
    await client.close();
    second.child.kill("SIGTERM");
    assertEquals((await second.child.status).code, 0, "SIGTERM exits 0");

    // A clean stop saves a final checkpoint: the next start replays nothing.
    const third = await startServer(data);
    const client3 = new FeedClient(third.url);
    await client3.opened;
    await eventually(() => client3.snapshots === 1, 5_000, "snapshot");
    await eventually(
      () => sameState(client3.state(), expected),
      5_000,
      "state after clean restart",
    );
    assertEquals((await health(third.url)).log.readingsRead, 0);
    await client3.close();
    third.child.kill("SIGTERM");
    await third.child.status;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
