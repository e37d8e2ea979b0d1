// SIGTERM under MQTT load: the listener stops taking publishes and those it
// took commit before the source's final checkpoint, so a restart replays
// nothing and every acknowledged reading is there.
import mqtt from "mqtt";
import { assert, assertEquals } from "./testing/assert.ts";
import { health, sensors, spawnServer, until } from "./testing/mqtt_fixtures.ts";

Deno.test({
  name:
    "SIGTERM while devices keep publishing: every acknowledged reading is in the final checkpoint, and a restart replays nothing",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mqtt-stop-" });
  // Checkpoints only at a clean stop: the periodic one is an hour away.
  const args = ["--port", "0", "--data", `${dir}/store.kv`, "--checkpoint", "3600000"];
  try {
    const first = await spawnServer([...args, "--mqtt-port", "0"]);
    const acked = new Set<string>();
    const devices = Array.from({ length: 8 }, (_, d) => {
      const client = mqtt.connect(`mqtt://127.0.0.1:${first.mqttPort}`, {
        clientId: `stop-dev-${d}`,
        reconnectPeriod: 0,
      });
      client.on("error", () => {});
      let i = 0;
      // Ten publishes in flight per device, each a sensor of its own, until the server goes.
      const send = () => {
        if (!client.connected) return;
        const sensor = `d${d}-${i++}`;
        client.publish(`pulseboard/plant-s/${sensor}`, '{"reading":{"v":1}}', { qos: 1 }, (e) => {
          if (!e) acked.add(sensor);
          send();
        });
      };
      client.once("connect", () => Array.from({ length: 10 }, send));
      return client;
    });
    await until(() => acked.size >= 2_000, "2,000 acknowledged publishes", 30_000);
    const status = await first.stop(); // SIGTERM, with publishes still coming
    assertEquals(status.code, 0, "a clean exit");
    devices.forEach((client) => client.end(true));
    assert(first.logs.some((line) => line.includes('"stopped"')), "the final checkpoint was taken");

    const second = await spawnServer(args);
    try {
      await until(async () => (await health(second.url)).log.caughtUp, "the restart caught up");
      const state = await health(second.url);
      assert(state.log.startCursor !== null, "the restart began from the final checkpoint");
      assertEquals(
        state.log.readingsRead,
        0,
        "the final checkpoint covered every committed reading",
      );
      const stored = new Set((await sensors(second.url)).map((s) => s.id));
      const lost = [...acked].filter((id) => !stored.has(id));
      assertEquals(lost, [], "no acknowledged reading is missing");
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
