// keys.ts lists every Deno KV key prefix: a server that used each stage of
// the store (log, head, checkpoint, rollups, idempotent batches, API keys)
// left no key under any other first part.
import { assert, assertEquals } from "./testing/assert.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { ApiKeys } from "../server/auth/mod.ts";
import { KEY_PREFIXES, KEYS } from "../server/store/keys.ts";
import { eventually } from "./testing/recompute.ts";

Deno.test("every key a server writes starts with a prefix that keys.ts lists", async () => {
  assertEquals(new Set(KEY_PREFIXES).size, KEY_PREFIXES.length, "prefixes are distinct");
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-keys-" });
  const data = `${dir}/store.kv`;
  const kv = await Deno.openKv(data);
  const { key: secret } = await new ApiKeys(kv).create("writer", ["*"]);
  kv.close();
  // Rollups are written every --rollup-flush (those not written by a stop go with its checkpoint).
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data,
    tickMs: 20,
    rollupFlushMs: 50,
  });
  try {
    // Readings a minute apart: the watermark closes the early windows, which become rollups.
    const now = Date.now();
    const body = JSON.stringify([60_000, 30_000, 0].map((ago) => ({
      sensorId: "s1",
      group: "plant-a",
      timestamp: now - ago,
      reading: { t: ago },
    })));
    const response = await fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${secret}`,
        "idempotency-key": "batch-1",
      },
    });
    assertEquals((await response.json()).accepted, 3);
    // Ticks that took in the closed windows, and a rollup flush after them.
    await eventually(() => server.hubStats.sensors === 1, 5_000, "the sensor in the view");
    let written = 0;
    const deadline = Date.now() + 5_000;
    while (written === 0 && Date.now() < deadline) {
      const health = await (await fetch(new URL("/healthz", server.url))).json();
      written = health.history.rollupChunksWritten;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(written > 0, "rollups were written");
  } finally {
    await server.shutdown(); // the final checkpoint
    await server.finished;
  }
  const store = await Deno.openKv(data);
  try {
    const firsts = new Set<string>();
    for await (const entry of store.list({ prefix: [] })) firsts.add(String(entry.key[0]));
    const expected = [
      KEYS.log,
      KEYS.logHead,
      KEYS.checkpoint,
      KEYS.checkpointPieces,
      KEYS.rollup,
      KEYS.ingestBatch,
      KEYS.apiKey,
    ];
    for (const prefix of expected) assert(firsts.has(prefix), `the server wrote ${prefix}`);
    for (const prefix of firsts) assert(KEY_PREFIXES.includes(prefix), `${prefix} is listed`);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
