// kill -9 of the server under MQTT load: no acknowledged reading is lost, and
// a device's retries after a missing PUBACK are not stored twice.
import mqtt from "mqtt";
import { assert, assertEquals } from "./testing/assert.ts";
import {
  freePort,
  health,
  mosquitto,
  sensors,
  spawnServer,
  until,
} from "./testing/mqtt_fixtures.ts";
import type { MqttServer } from "./testing/mqtt_fixtures.ts";
import { readLog } from "./testing/read_log.ts";

const BASE = Date.UTC(2026, 10, 1);

/** A device (mqtt.js, clean session off, a fixed client id) that keeps `inFlight` QoS 1 publishes going. */
function device(port: number, options: { clientId: string; inFlight: number; sensor: string }) {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: options.clientId,
    clean: false,
    reconnectPeriod: 100,
    connectTimeout: 2_000,
  });
  client.on("error", () => {});
  const acked = new Set<number>();
  /** Publishes mqtt.js gave up on ("Connection closed"): maybe stored, never acknowledged. */
  const failed = new Set<number>();
  let next = 0;
  let outstanding = 0;
  let stopped = false;
  let drained: (() => void) | null = null;
  const send = () => {
    while (!stopped && outstanding < options.inFlight) {
      const seq = next++;
      outstanding++;
      const body = JSON.stringify({ timestamp: BASE + seq, reading: { seq } });
      client.publish(`pulseboard/plant-c/${options.sensor}`, body, { qos: 1 }, (error) => {
        outstanding--;
        if (error) failed.add(seq);
        else acked.add(seq);
        if (stopped && outstanding === 0) drained?.();
        // Not at once after an error: mqtt.js calls these back while it iterates its queue of
        // publishes on a close, and one published from here joins that queue: without bound.
        if (error) setTimeout(send, 100);
        else send();
      });
    }
  };
  client.once("connect", send);
  return {
    acked,
    failed,
    get sent() {
      return next;
    },
    /** Stops new publishes and waits until every one sent is acknowledged. */
    async finish(): Promise<void> {
      stopped = true;
      if (outstanding > 0) await new Promise<void>((resolve) => drained = resolve);
      await client.endAsync();
    },
  };
}

Deno.test({
  name:
    "kill -9 under MQTT QoS 1 load, three times: every acknowledged reading is in the log, and no retry is stored twice",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mqtt-crash-" });
  const data = `${dir}/store.kv`;
  const port = freePort();
  const start = () =>
    spawnServer(["--port", "0", "--data", data, "--mqtt-port", String(port), "--tick", "20"]);
  let server: MqttServer = await start();
  const devices = Array.from(
    { length: 4 },
    (_, d) => device(port, { clientId: `crash-dev-${d}`, inFlight: 20, sensor: `dev-${d}` }),
  );
  try {
    let duplicates = 0;
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setTimeout(r, 700 + Math.random() * 800));
      const before = devices.reduce((n, d) => n + d.acked.size, 0);
      if (round > 0) duplicates += (await health(server.url)).mqtt.publishes.listener.duplicate;
      await server.kill();
      console.log(`round ${round}: killed with ${before} acknowledged`);
      await new Promise((r) => setTimeout(r, 200));
      server = await start();
      await until(
        async () => (await health(server.url)).mqtt.listener.connects.accepted >= 4,
        "devices back",
      );
    }
    await Promise.all(devices.map((d) => d.finish()));
    duplicates += (await health(server.url)).mqtt.publishes.listener.duplicate;
    assertEquals((await server.stop()).code, 0, "SIGTERM after the crashes exits 0");
    const stored = await readLog(data);
    let acknowledged = 0, failed = 0;
    for (const [d, dev] of devices.entries()) {
      const seqs = stored.filter((r) => r.sensorId === `dev-${d}`).map((r) => r.values.seq);
      const counts = new Map<number, number>();
      for (const seq of seqs) counts.set(seq, (counts.get(seq) ?? 0) + 1);
      const lost = [...dev.acked].filter((seq) => !counts.has(seq));
      const twice = [...counts].filter(([, n]) => n > 1).map(([seq]) => seq);
      assertEquals(lost, [], `device ${d}: acknowledged but not stored`);
      assertEquals(twice, [], `device ${d}: stored twice`);
      // Every publish was acknowledged in the end (the device resent what the crashes cut
      // off), but those mqtt.js itself failed on a close.
      assertEquals(dev.acked.size + dev.failed.size, dev.sent, `device ${d}: all acknowledged`);
      acknowledged += dev.acked.size;
      failed += dev.failed.size;
    }
    console.log(
      `${acknowledged} acknowledged, 0 lost, 0 stored twice, ${failed} failed by mqtt.js; ` +
        `${duplicates} retries recognised as already committed`,
    );
    assert(acknowledged > 500, `the load was running (${acknowledged})`);
  } finally {
    await server.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "a mosquitto_pub -q 1 that returned is durable: kill -9 right after it, and the restarted server shows it",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mqtt-kill-" });
  const data = `${dir}/store.kv`;
  let server = await spawnServer(["--port", "0", "--data", data, "--mqtt-port", "0"]);
  try {
    const sent = await mosquitto("mosquitto_pub", [
      "-p",
      String(server.mqttPort),
      "-q",
      "1",
      "-t",
      "pulseboard/plant-k/k1",
      "-m",
      '{"reading":{"v":42}}',
    ]);
    assertEquals(sent.code, 0, sent.out);
    await server.kill();
    server = await spawnServer(["--port", "0", "--data", data]);
    await until(
      async () => (await sensors(server.url)).length === 1,
      "the reading after the restart",
    );
    const [row] = await sensors(server.url);
    assertEquals([row.id, row.group, row.metrics.v.value], ["k1", "plant-k", 42]);
  } finally {
    await server.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
