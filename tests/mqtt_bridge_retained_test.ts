// A broker that lost the bridge's session (or a new bridge client id) makes
// it subscribe again, and a broker sends its retained messages to a new
// subscription: readings the bridge had already stored came a second time,
// and one without a timestamp became a new reading of a stale value.
import { assertEquals } from "./testing/assert.ts";
import { health, mosquitto, spawnServer, startBroker, until } from "./testing/mqtt_fixtures.ts";
import type { Broker, MqttServer } from "./testing/mqtt_fixtures.ts";
import { readLog } from "./testing/read_log.ts";

const bridged = (broker: Broker, data: string, clientId: string) =>
  spawnServer([
    "--port",
    "0",
    "--data",
    data,
    "--tick",
    "20",
    "--mqtt-url",
    `mqtt://127.0.0.1:${broker.port}`,
    "--mqtt-client-id",
    clientId,
  ]);

const connected = (server: MqttServer) =>
  until(
    async () => (await health(server.url)).mqtt?.bridge?.connected === true,
    "the bridge connected",
  );

const publish = (broker: Broker, topic: string, payload: string, retain: boolean) =>
  mosquitto("mosquitto_pub", [
    "-p",
    String(broker.port),
    "-q",
    "1",
    ...(retain ? ["-r"] : []),
    "-t",
    topic,
    "-m",
    payload,
  ]);

/** Readings of each sensor in the log. */
async function perSensor(data: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const r of await readLog(data)) counts[r.sensorId] = (counts[r.sensorId] ?? 0) + 1;
  return counts;
}

Deno.test({
  name:
    "a retained message the bridge stored live is not stored again when it subscribes anew (a lost session)",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-retained-" });
  const data = `${dir}/store.kv`;
  const broker = await startBroker();
  try {
    let server = await bridged(broker, data, "bridge-a");
    await connected(server);
    const at = Date.now() - 60_000;
    assertEquals(
      (await publish(
        broker,
        "pulseboard/g/r1",
        JSON.stringify({ timestamp: at, reading: { t: 7 } }),
        true,
      ))
        .code,
      0,
    );
    assertEquals((await publish(broker, "pulseboard/g/r2", '{"reading":{"t":8}}', true)).code, 0);
    await until(
      async () => (await health(server.url)).mqtt.readingsAccepted === 2,
      "both stored live",
    );
    await server.stop();

    // Another client id: to the broker a new session, as after it lost the bridge's.
    server = await bridged(broker, data, "bridge-b");
    await connected(server);
    // A live message after the subscription: once it is stored, anything sent at the subscribe was handled.
    assertEquals(
      (await publish(broker, "pulseboard/g/marker", '{"reading":{"t":1}}', false)).code,
      0,
    );
    await until(
      async () => (await health(server.url)).mqtt.readingsAccepted >= 1,
      "the marker stored",
    );
    await server.stop();
    assertEquals(await perSensor(data), { r1: 1, r2: 1, marker: 1 });
  } finally {
    await broker.stop();
    await Deno.remove(broker.dir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});
