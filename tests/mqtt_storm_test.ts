// A connect storm on the MQTT listener: 10,000 devices connect at once, each
// publishes one QoS 1 reading and stays connected (7 s on the 2-core machine;
// `deno task bench --mqtt-storm <n>` runs the same storm with timings). The
// test process and the server each hold one socket per device: with an open
// file limit under 11,000 (`ulimit -n`; .ci/run raises it) it runs 2,000.
import { assert, assertEquals } from "./testing/assert.ts";
import { health, sensors, spawnServer, until } from "./testing/mqtt_fixtures.ts";
import { connectStorm } from "./testing/mqtt_storm_client.ts";

function openFileLimit(): number {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
      .find((l) => l.startsWith("Max open files"));
    return Number(line?.split(/\s{2,}/)[1] ?? 1024);
  } catch {
    return 1024;
  }
}

const DEVICES = openFileLimit() >= 11_000 ? 10_000 : 2_000;
if (DEVICES < 10_000) {
  console.warn(
    `mqtt_storm_test: the open file limit is ${openFileLimit()}: storming with ${DEVICES}`,
  );
}

Deno.test({
  name:
    `a connect storm of ${DEVICES} devices, twice: every one gets its CONNACK and PUBACK, every reading is stored, the server stays healthy and stops cleanly`,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mqtt-storm-" });
  const server = await spawnServer([
    "--port",
    "0",
    "--data",
    `${dir}/store.kv`,
    "--mqtt-port",
    "0",
    "--mqtt-max-connections-per-address",
    String(DEVICES),
    "--mqtt-connect-rate",
    String(DEVICES),
  ]);
  const storm = connectStorm(server.mqttPort!, DEVICES);
  try {
    const report = await storm.done;
    console.log(
      `${report.devices} devices: ${report.acknowledged} acknowledged in ${
        report.seconds.toFixed(1)
      } s, ` +
        `CONNACK p50/p99 ${report.connackP50Ms}/${report.connackP99Ms} ms, ` +
        `PUBACK p50/p99 ${report.pubackP50Ms}/${report.pubackP99Ms} ms, failures: ${
          report.failures.join("; ") || "none"
        }`,
    );
    assertEquals([report.acknowledged, report.failed], [DEVICES, 0]);
    const status = await health(server.url);
    assertEquals(status.status, "ok");
    assertEquals(status.mqtt.listener.connections, DEVICES);
    assertEquals(status.mqtt.publishes.listener.accepted, DEVICES);
    // Many devices' publishes shared each commit.
    assert(
      status.mqtt.commits < DEVICES / 5,
      `${status.mqtt.commits} commits for ${DEVICES} publishes`,
    );
    await until(
      async () => (await sensors(server.url)).length === DEVICES,
      "every device's reading",
    );
    // Devices dropping all at once release their slots.
    await storm.close();
    await until(
      async () => (await health(server.url)).mqtt.listener.connections === 0,
      "connections released",
    );
    // Back again at once, and a SIGTERM while they are all connected: a clean stop, exit 0.
    const again = connectStorm(server.mqttPort!, DEVICES, { prefix: "again" });
    try {
      assertEquals((await again.done).acknowledged, DEVICES);
      const stopped = performance.now();
      assertEquals((await server.stop()).code, 0, "SIGTERM with every device connected exits 0");
      console.log(
        `SIGTERM with ${DEVICES} devices connected: exited in ${
          ((performance.now() - stopped) / 1000).toFixed(1)
        } s`,
      );
    } finally {
      await again.close();
    }
  } finally {
    await storm.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
