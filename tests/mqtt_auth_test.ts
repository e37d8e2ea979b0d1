// MQTT listener security with API keys: the key is the MQTT password, its
// group prefixes limit the topics it may publish to, and limits hold against
// devices that retry refused publishes forever.
import mqtt from "mqtt";
import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./testing/assert.ts";
import { health, mosquitto, ready, sensors, spawnServer, until } from "./testing/mqtt_fixtures.ts";
import type { MqttServer } from "./testing/mqtt_fixtures.ts";
import { withTempKv } from "./testing/temp_kv.ts";
import { ApiKeys } from "../server/auth/mod.ts";
import { KvLog } from "../server/store/mod.ts";
import { parseConfig } from "../server/config/mod.ts";
import { startMqtt } from "../server/ingest/mqtt/mod.ts";

async function withKeyedServer(
  args: string[],
  run: (
    server: MqttServer,
    keys: { plantZ: string; plantY: string; revoke: () => Promise<void> },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mqtt-keys-" });
  const data = `${dir}/store.kv`;
  const kv = await Deno.openKv(data);
  const apiKeys = new ApiKeys(kv);
  const plantZ = (await apiKeys.create("line 9 gateways", ["plant-z/line-9"])).key;
  const plantY = (await apiKeys.create("plant y", ["plant-y"])).key;
  const server = await spawnServer(["--port", "0", "--data", data, "--mqtt-port", "0", ...args]);
  try {
    await ready(server.url);
    await run(server, {
      plantZ,
      plantY,
      revoke: async () => void await apiKeys.revoke(plantZ.split("_")[1]),
    });
  } finally {
    kv.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

const reading = '{"reading":{"v":1}}';

function connectDevice(server: MqttServer, options: mqtt.IClientOptions): MqttClient {
  const client = mqtt.connect(`mqtt://127.0.0.1:${server.mqttPort}`, options);
  client.on("error", () => {});
  return client;
}

Deno.test({
  name:
    "with API keys the MQTT password must be a valid key (CONNACK 4 otherwise); a publish outside the key's groups closes the connection and stores nothing; a revoked key is refused",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKeyedServer([], async (server, keys) => {
    const pub = (args: string[]) =>
      mosquitto("mosquitto_pub", ["-p", String(server.mqttPort), "-q", "1", ...args]);
    const none = await pub(["-t", "pulseboard/plant-z/line-9/s0", "-m", reading]);
    assert(none.code !== 0 && /bad user name or password/i.test(none.out), none.out);
    const wrong = await pub([
      "-u",
      "x",
      "-P",
      "pb_aaaaaaaaaaaa_" + "A".repeat(43),
      "-t",
      "pulseboard/plant-z/line-9/s0",
      "-m",
      reading,
    ]);
    assert(wrong.code !== 0 && /bad user name or password/i.test(wrong.out), wrong.out);

    const inside = await pub([
      "-u",
      "gw",
      "-P",
      keys.plantZ,
      "-t",
      "pulseboard/plant-z/line-9/s1",
      "-m",
      reading,
    ]);
    assertEquals(inside.code, 0, inside.out);
    const below = await pub([
      "-u",
      "gw",
      "-P",
      keys.plantZ,
      "-t",
      "pulseboard/plant-z/line-9/cell-2/s2",
      "-m",
      reading,
    ]);
    assertEquals(below.code, 0, below.out);
    for (
      const topic of [
        "pulseboard/plant-y/s3",
        "pulseboard/plant-z/line-90/s4",
        "pulseboard/plant-z/s5",
        "pulseboard/s6",
      ]
    ) {
      const outside = await pub(["-u", "gw", "-P", keys.plantZ, "-t", topic, "-m", reading]);
      // MQTT 3.1.1 has no PUBACK reason code: the server closes the connection.
      assert(
        outside.code !== 0 && /connection (was )?lost/i.test(outside.out),
        `${topic}: ${outside.code} ${outside.out}`,
      );
    }
    const other = await pub([
      "-u",
      "gw",
      "-P",
      keys.plantY,
      "-t",
      "pulseboard/plant-y/s3",
      "-m",
      reading,
    ]);
    assertEquals(other.code, 0, other.out);
    const status = (await health(server.url)).mqtt;
    assertEquals(status.publishes.listener.not_allowed, 4);
    assertEquals(status.listener.connects.bad_key, 2);
    await until(async () => (await sensors(server.url)).length === 3, "the three readings");
    assertEquals((await sensors(server.url)).map((s) => s.id).sort(), ["s1", "s2", "s3"]);

    await keys.revoke();
    await new Promise((r) => setTimeout(r, 5_100)); // the server's key cache
    const revoked = await pub([
      "-u",
      "gw",
      "-P",
      keys.plantZ,
      "-t",
      "pulseboard/plant-z/line-9/s7",
      "-m",
      reading,
    ]);
    assert(revoked.code !== 0 && /bad user name or password/i.test(revoked.out), revoked.out);
  });
});

Deno.test({
  name:
    "a device that resends a refused publish forever is logged once, held to the connect rate, and stores nothing",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKeyedServer(["--mqtt-connect-rate", "2"], async (server, keys) => {
    // Persistent session, reconnect every 100 ms: mqtt.js resends the unacknowledged publish each time.
    const device = connectDevice(server, {
      clientId: "looping-device",
      clean: false,
      password: keys.plantZ,
      username: "gw",
      reconnectPeriod: 100,
    });
    let closes = 0;
    device.on("close", () => closes++);
    device.publish("pulseboard/plant-y/s9", reading, { qos: 1 });
    await new Promise((r) => setTimeout(r, 4_000));
    device.end(true);
    const status = (await health(server.url)).mqtt;
    const refusedLines = server.logs.filter((l) => l.includes("MQTT publish refused: not allowed"));
    console.log(
      `in 4 s: ${closes} closes, ${status.listener.connects.accepted} connects accepted, ` +
        `${
          status.listener.connects.over_address + status.listener.connects.over_key
        } refused by the connect rate, ` +
        `${status.publishes.listener.not_allowed} publishes refused, ${refusedLines.length} log line(s)`,
    );
    assert(closes >= 3, `the device kept retrying (${closes} closes)`);
    assertEquals(refusedLines.length, 1, refusedLines.join("\n"));
    assert(refusedLines[0].includes('"topic":"pulseboard/plant-y/s9"'), refusedLines[0]);
    // 2/s with a burst of 10 for the address and for the key: at most 10 + 2 × 4 s (+1 for timing).
    assert(
      status.listener.connects.accepted <= 19,
      `${status.listener.connects.accepted} accepted`,
    );
    assert(status.listener.connects.over_address + status.listener.connects.over_key > 0);
    assertEquals(await sensors(server.url), []);
  });
});

Deno.test({
  name:
    "client ids belong to their key: another key's device with the same id does not take over the session",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKeyedServer([], async (server, keys) => {
    const open = (password: string) => {
      const client = connectDevice(server, {
        clientId: "dev-1",
        clean: false,
        username: "gw",
        password,
        reconnectPeriod: 0,
      });
      return new Promise<MqttClient>((resolve) => client.once("connect", () => resolve(client)));
    };
    const z = await open(keys.plantZ);
    let zClosed = false;
    z.on("close", () => zClosed = true);
    const y = await open(keys.plantY);
    await new Promise((r) => setTimeout(r, 500));
    assertEquals(zClosed, false, "the other key's client id did not disconnect this one");
    await z.publishAsync("pulseboard/plant-z/line-9/z1", reading, { qos: 1 });
    await y.publishAsync("pulseboard/plant-y/y1", reading, { qos: 1 });
    await until(async () => (await sensors(server.url)).length === 2, "both readings");
    assertEquals((await sensors(server.url)).map((s) => s.id).sort(), ["y1", "z1"]);
    // The same key and id again is the same session: the newer connection takes over.
    const z2 = await open(keys.plantZ);
    await until(() => zClosed, "takeover of the same key's session");
    z2.end(true);
    y.end(true);
  });
});

Deno.test({
  name:
    "publishes over --mqtt-rate wait (they are not refused): 60 at 20/s take about 2 s and all are stored",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKeyedServer(["--mqtt-rate", "20"], async (server, keys) => {
    const device = connectDevice(server, {
      clientId: "fast",
      username: "gw",
      password: keys.plantZ,
      reconnectPeriod: 0,
    });
    await new Promise((resolve) => device.once("connect", resolve));
    const started = performance.now();
    await Promise.all(
      Array.from(
        { length: 60 },
        (_, i) => device.publishAsync(`pulseboard/plant-z/line-9/r${i}`, reading, { qos: 1 }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    device.end(true);
    // A burst of 20, then 20/s: the last 40 need 2 s at least (a lower bound, whatever the load).
    assert(seconds >= 1.8, `60 publishes at 20/s took only ${seconds.toFixed(2)} s`);
    const status = (await health(server.url)).mqtt;
    assertEquals(status.publishes.listener.accepted, 60);
    await until(async () => (await sensors(server.url)).length === 60, "all 60 sensors");
  });
});

Deno.test("off loopback, the MQTT listener needs an API key (or --insecure), as HTTP does", async () => {
  await withTempKv(async (kv) => {
    const log = new KvLog(kv);
    const config = parseConfig(["--host", "0.0.0.0", "--mqtt-port", "0"], () => undefined);
    const refused = await startMqtt(log, { kv, keys: new ApiKeys(kv), config })
      .then(() => null, (e) => e);
    assert(refused instanceof Deno.errors.PermissionDenied, String(refused));
    assert(/Refusing to serve MQTT on 0.0.0.0/.test(refused.message), refused.message);
    assert(/--mqtt-port/.test(refused.message) && /--insecure/.test(refused.message));
    const insecure = await startMqtt(log, {
      kv,
      keys: new ApiKeys(kv),
      config: { ...config, insecure: true },
    });
    assert(insecure!.port! > 0);
    await insecure!.stop();
    await new ApiKeys(kv).create("gw", ["*"]);
    // A fresh key store: the first one remembers "no keys" for a few seconds.
    const keyed = await startMqtt(log, { kv, keys: new ApiKeys(kv), config });
    assert(keyed!.port! > 0);
    await keyed!.stop();
  });
});

Deno.test({
  name:
    "over MQTT too, a key may not write a sensor of another key's group: acknowledged, dropped and counted, the sensor left as it was",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKeyedServer([], async (server, keys) => {
    const pub = (key: string, topic: string, message: string) =>
      mosquitto("mosquitto_pub", [
        "-p",
        String(server.mqttPort),
        "-q",
        "1",
        "-u",
        "gw",
        "-P",
        key,
        "-t",
        topic,
        "-m",
        message,
      ]);
    const owned = await pub(keys.plantY, "pulseboard/plant-y/victim", '{"reading":{"v":1}}');
    assertEquals(owned.code, 0, owned.out);
    // At once (a claim) and once the sensor is listed (the router's group).
    const racing = await pub(
      keys.plantZ,
      "pulseboard/plant-z/line-9/victim",
      '{"reading":{"v":99}}',
    );
    assertEquals(racing.code, 0, racing.out);
    await until(async () => (await sensors(server.url)).length === 1, "plant-y's reading");
    const later = await pub(
      keys.plantZ,
      "pulseboard/plant-z/line-9/victim",
      '{"reading":{"v":98}}',
    );
    assertEquals(later.code, 0, later.out);
    await until(
      async () => (await health(server.url)).mqtt.publishes.listener.invalid === 2,
      "both refusals counted",
    );
    const [victim] = await sensors(server.url);
    assertEquals(victim.id, "victim");
    assertEquals(victim.group, "plant-y");
    assertEquals(victim.metrics.v.value, 1);
  });
});
