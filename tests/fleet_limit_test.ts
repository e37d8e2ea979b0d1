// The fleet's caps (--max-sensors, and the router's 1,024 metric names) at
// the edges, against a real server process on a real Deno KV file: HTTP and
// MQTT (Debian's mosquitto_pub) readings that would grow the fleet past a cap
// are refused with a reason, before the log, and stay refused after a restart.
import { assert, assertEquals } from "./testing/assert.ts";
import { health, mosquitto, sensors, spawnServer, until } from "./testing/mqtt_fixtures.ts";
import { readLog } from "./testing/read_log.ts";

interface Answer {
  accepted: number;
  refused: { index: number; reason: string }[];
}

async function post(url: string, readings: unknown[]): Promise<Answer> {
  const response = await fetch(new URL("/api/ingest", url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(readings),
  });
  assertEquals(response.status, 200);
  return await response.json();
}

const reading = (sensorId: string, values: Record<string, number>) => ({
  sensorId,
  timestamp: Date.now(),
  reading: values,
});

interface FleetPage {
  fleet: { sensors: number; maxSensors: number; refusedNewSensors: number; droppedValues: number };
  ingest: { refusedBy: Record<string, number> };
  mqtt: { readingsRefused: Record<string, number> };
}

const fleetPage = async (url: string) => (await health(url)) as unknown as FleetPage;

Deno.test({
  name:
    "at --max-sensors, readings of new sensors are refused over HTTP and MQTT with the option named, known ones go on, and a restart keeps the cap",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-fleet-" });
  const data = `${dir}/store.kv`;
  const args = ["--port", "0", "--data", data, "--tick", "20", "--max-sensors", "5"];
  let server = await spawnServer([...args, "--mqtt-port", "0"]);
  try {
    const first = await post(
      server.url,
      Array.from({ length: 8 }, (_, i) => reading(`s${i}`, { t: i })),
    );
    assertEquals(first.accepted, 5);
    assertEquals(first.refused.map((r) => r.index), [5, 6, 7]);
    for (const r of first.refused) {
      assertEquals(
        r.reason,
        `sensor "s${r.index}" is new and the fleet is full: the server keeps at most 5 sensors (--max-sensors)`,
      );
    }
    // Sensors already in the fleet go on, in the same batch as a refused new one.
    const mixed = await post(server.url, [reading("s9", { t: 9 }), reading("s1", { t: 11 })]);
    assertEquals([mixed.accepted, mixed.refused.map((r) => r.index)], [1, [0]]);

    // MQTT: a known sensor's publish lands; a new one's is refused and counted.
    const topic = (id: string) => `pulseboard/plant-a/${id}`;
    const pub = (id: string, value: number) =>
      mosquitto("mosquitto_pub", [
        "-h",
        "127.0.0.1",
        "-p",
        String(server.mqttPort),
        "-q",
        "1",
        "-t",
        topic(id),
        "-m",
        JSON.stringify({ reading: { t: value } }),
      ]);
    await pub("s2", 22);
    await pub("mqtt-new", 1);
    await until(
      async () => (await fleetPage(server.url)).mqtt.readingsRefused.fleet_full === 1,
      "the MQTT refusal",
    );
    await until(
      async () => (await sensors(server.url)).find((s) => s.id === "s2")?.metrics.t.value === 22,
      "s2's MQTT reading",
    );

    const page = await fleetPage(server.url);
    assertEquals(page.fleet.sensors, 5);
    assertEquals(page.fleet.refusedNewSensors, 5);
    assertEquals(page.ingest.refusedBy.fleet_full, 4);
    assertEquals((await sensors(server.url)).map((s) => s.id).sort(), [
      "s0",
      "s1",
      "s2",
      "s3",
      "s4",
    ]);
    assertEquals((await server.stop()).code, 0);

    // Only what was accepted is in the log: the refused never reached it.
    const logged = new Set((await readLog(data)).map((r) => r.sensorId));
    assertEquals([...logged].sort(), ["s0", "s1", "s2", "s3", "s4"]);

    // After a restart the restored fleet is full: still refused, still known.
    server = await spawnServer(args);
    const again = await post(server.url, [reading("s5", { t: 5 }), reading("s4", { t: 44 })]);
    assertEquals([again.accepted, again.refused.map((r) => r.index)], [1, [0]]);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "a reading that would bring the 1,025th metric name is refused, and no value ingest accepted is dropped",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const server = await spawnServer(["--port", "0", "--data", ":memory:", "--tick", "20"]);
  try {
    // 40 sensors with 30 names each: 1,200 names, of which 1,024 fit.
    const readings = Array.from({ length: 40 }, (_, r) =>
      reading(
        `s${r}`,
        Object.fromEntries(Array.from({ length: 30 }, (_, m) => [`m${r * 30 + m}`, r + m])),
      ));
    const answer = await post(server.url, readings);
    // Readings 0..33 bring 1,020 names; 34 would bring 30 more: refused whole, and the rest.
    assertEquals(answer.accepted, 34);
    assertEquals(answer.refused.map((r) => r.index), [34, 35, 36, 37, 38, 39]);
    assert(
      answer.refused.every((r) => r.reason.endsWith("the server keeps at most 1024 metric names")),
      answer.refused[0].reason,
    );
    await until(async () => (await sensors(server.url)).length === 34, "34 sensors");
    // Every value of every accepted reading is there, as sent.
    for (const row of await sensors(server.url)) {
      const r = Number(row.id.slice(1));
      assertEquals(Object.keys(row.metrics).length, 30, row.id);
      for (let m = 0; m < 30; m++) assertEquals(row.metrics[`m${r * 30 + m}`].value, r + m);
    }
    // A known name still goes in with a new sensor.
    assertEquals((await post(server.url, [reading("late", { m0: 1 })])).accepted, 1);
    const page = await fleetPage(server.url);
    assertEquals(page.fleet.droppedValues, 0);
    assertEquals(page.ingest.refusedBy.metric_names_full, 6);
  } finally {
    await server.stop();
  }
});
