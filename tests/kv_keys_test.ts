// keys.ts lists every Deno KV key prefix: a server that used each stage of
// the store (log, head, checkpoint, rollups, idempotent batches, API keys,
// MQTT's retry records, session epochs and bridge client id) left no key
// under any other first part.
import mqtt from "mqtt";
import { assert, assertEquals } from "./testing/assert.ts";
import { startBroker } from "./testing/mqtt_fixtures.ts";
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
      KEYS.rollupSpan,
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

Deno.test("a server with MQTT ingest (listener and bridge) writes only the prefixes keys.ts lists", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-keys-mqtt-" });
  const data = `${dir}/store.kv`;
  const kv = await Deno.openKv(data);
  const { key: secret } = await new ApiKeys(kv).create("gateways", ["plant-a"]);
  kv.close();
  const broker = await startBroker();
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data,
    tickMs: 20,
    mqttPort: 0,
    mqttUrl: `mqtt://127.0.0.1:${broker.port}`,
  });
  try {
    const url = server.mqttUrls.find((u) => u.startsWith("mqtt://"))!;
    // A persistent session (clean off, its own client id) leaves a retry record per QoS 1 publish.
    const device = await mqtt.connectAsync(url, {
      clientId: "gw-1",
      clean: false,
      // MQTT 3.1.1 sends a password only with a user name; the listener checks the password.
      username: "gw",
      password: secret,
      reconnectPeriod: 0,
    });
    await device.publishAsync("pulseboard/plant-a/s1", JSON.stringify({ reading: { t: 1 } }), {
      qos: 1,
    });
    // A clean DISCONNECT forgets the session's records: its epoch moves on (one write).
    await device.endAsync();
    await eventually(() => server.hubStats.sensors === 1, 5_000, "the sensor in the view");
  } finally {
    await server.shutdown();
    await server.finished;
    await broker.stop();
  }
  const store = await Deno.openKv(data);
  try {
    const firsts = new Set<string>();
    for await (const entry of store.list({ prefix: [] })) firsts.add(String(entry.key[0]));
    for (const prefix of [KEYS.mqttRetry, KEYS.mqttSessionEpoch, KEYS.mqttBridge, KEYS.log]) {
      assert(firsts.has(prefix), `the server wrote ${prefix}`);
    }
    for (const prefix of firsts) assert(KEY_PREFIXES.includes(prefix), `${prefix} is listed`);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(broker.dir, { recursive: true });
  }
});
