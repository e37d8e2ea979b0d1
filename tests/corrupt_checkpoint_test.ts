// A restart on a data file whose checkpoint was corrupted (a shard page cut
// short on disk) does not restore from it: the refusal is logged, the log is
// replayed from its start, and every sensor is served as the readings say.
import { assert, assertEquals } from "./testing/assert.ts";
import { recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { spawnServer } from "./testing/server_process.ts";
import { apiSensors, apiState } from "./testing/api_sensors.ts";
import { KEYS } from "../server/store/keys.ts";

function fleet(count: number, sensors: number): PlainReading[] {
  const base = Date.UTC(2026, 10, 22, 12);
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `s${(i * 7) % sensors}`,
    timeMs: base + i * 40,
    values: { temperature: 20 + ((i * 13) % 50) / 10, humidity: 40 + ((i * 17) % 30) },
  }));
}

async function post(url: string, readings: PlainReading[]): Promise<void> {
  const response = await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: JSON.stringify(readings.map((r) => ({
      sensorId: r.sensorId,
      timestamp: r.timeMs,
      reading: r.values,
    }))),
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, readings.length);
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  assertEquals((await child.status).code, 0, "a clean stop");
}

Deno.test("a restart on a data file whose checkpoint was corrupted logs the refusal, replays the log from its start and serves every sensor as the readings say", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-corrupt-" });
  const data = `${dir}/store.kv`;
  const readings = fleet(1_200, 60);
  const expected = recompute(readings);
  try {
    const first = await spawnServer(["--port", "0", "--data", data], { onStderr: () => {} });
    await post(first.url, readings);
    await until(
      async () => sameState(apiState(await apiSensors(first.url)), expected),
      "served before",
    );
    // The stop saves a checkpoint with every shard's pages.
    await stop(first.child);

    // Cut a shard page's last piece short, as a torn or tampered file would.
    const kv = await Deno.openKv(data);
    let cut = false;
    try {
      const pieces = [];
      for await (const entry of kv.list<Uint8Array>({ prefix: [KEYS.checkpointPieces] })) {
        if (entry.key.includes("shard") && entry.value instanceof Uint8Array) pieces.push(entry);
      }
      assert(pieces.length > 0, "the checkpoint has shard pages");
      const last = pieces[pieces.length - 1];
      await kv.set(last.key, last.value.slice(0, last.value.byteLength - 24));
      cut = true;
    } finally {
      kv.close();
    }
    assert(cut);

    const lines: string[] = [];
    const second = await spawnServer(["--port", "0", "--data", data], {
      onStderr: (line) => lines.push(line),
    });
    try {
      await until(
        async () => sameState(apiState(await apiSensors(second.url)), expected),
        "served after",
      );
      const health = await (await fetch(new URL("/healthz", second.url))).json();
      assertEquals(health.sensors, 60, "/healthz counts every sensor");
      assertEquals(health.log.startCursor, null, "replayed from the log's start");
      assertEquals(health.status, "ok", "no shard failed");
      const refusal = lines.map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return null;
        }
      }).find((l) => l?.msg === "ignoring a corrupt checkpoint; replaying the log from the start");
      assert(refusal, `the refusal is logged: ${lines.join("\n")}`);
      assert(/Cannot restore/.test(refusal.error?.message ?? ""), refusal.error?.message);
    } finally {
      await stop(second.child);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
