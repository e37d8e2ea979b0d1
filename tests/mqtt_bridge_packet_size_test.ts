// The bridge takes what any publisher to the broker sends: without a bound
// a 100 MB publish was read whole into the server (its RSS went from 117 MB
// to 637 MB) and stored. It now tells the broker --mqtt-max-packet.
import { assertEquals } from "./testing/assert.ts";
import { health, mosquitto, spawnServer, startBroker, until } from "./testing/mqtt_fixtures.ts";
import type { Broker } from "./testing/mqtt_fixtures.ts";
import { readLog } from "./testing/read_log.ts";

const publishFile = async (broker: Broker, topic: string, payload: string) => {
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(file, payload);
  try {
    return await mosquitto("mosquitto_pub", [
      "-p",
      String(broker.port),
      "-q",
      "1",
      "-t",
      topic,
      "-f",
      file,
    ]);
  } finally {
    await Deno.remove(file);
  }
};

Deno.test({
  name: "the bridge is not sent a publish over --mqtt-max-packet; those within it still come",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-bridge-size-" });
  const data = `${dir}/store.kv`;
  const broker = await startBroker();
  try {
    const server = await spawnServer([
      "--port",
      "0",
      "--data",
      data,
      "--mqtt-url",
      `mqtt://127.0.0.1:${broker.port}`,
      "--mqtt-max-packet",
      "4096",
    ]);
    try {
      await until(
        async () => (await health(server.url)).mqtt?.bridge?.connected === true,
        "the bridge connected",
      );
      const big = JSON.stringify({ reading: { t: 1 }, note: "x".repeat(8_192) });
      assertEquals((await publishFile(broker, "pulseboard/g/big", big)).code, 0);
      const small = JSON.stringify({ reading: { t: 2 }, note: "x".repeat(3_000) });
      assertEquals((await publishFile(broker, "pulseboard/g/small", small)).code, 0);
      await until(
        async () => (await health(server.url)).mqtt.readingsAccepted >= 1,
        "the small one stored",
      );
    } finally {
      await server.stop();
    }
    assertEquals((await readLog(data)).map((r) => r.sensorId), ["small"]);
  } finally {
    await broker.stop();
    await Deno.remove(broker.dir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});
