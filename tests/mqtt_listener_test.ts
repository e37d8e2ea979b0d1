// The embedded MQTT listener with real clients (Debian's mosquitto_pub and
// mosquitto_sub, mqtt.js, raw sockets) against a real server process on a
// real Deno KV file.
import mqtt from "mqtt";
import mqttPacket from "mqtt-packet";
import { assert, assertEquals } from "./testing/assert.ts";
import {
  health,
  mosquitto,
  selfSignedCert,
  sensors,
  until,
  withMqttServer,
} from "./testing/mqtt_fixtures.ts";
import type { MqttServer } from "./testing/mqtt_fixtures.ts";
import { readLog } from "./testing/read_log.ts";

const promtool = await new Deno.Command("promtool", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

const pub = (server: MqttServer, args: string[], stdin?: string | Uint8Array) =>
  mosquitto("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(server.mqttPort), ...args], stdin);

/** Raw bytes of an MQTT packet (mqtt-packet, the parser aedes itself uses). */
const packet = (p: Record<string, unknown>) => new Uint8Array(mqttPacket.generate(p as never));
const connect = (clientId: string) =>
  packet({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    clientId,
    keepalive: 0,
  });

/** Reads from a raw connection until it closes (null) or `ms` pass ("open"). */
async function readUntilClosed(conn: Deno.Conn, ms: number): Promise<"closed" | "open"> {
  const buffer = new Uint8Array(4096);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const n = await Promise.race([
      conn.read(buffer).catch(() => null),
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), deadline - Date.now())),
    ]);
    if (n === null) return "closed";
    if (n === "timeout") return "open";
  }
  return "open";
}

Deno.test({
  name:
    "must show: mosquitto_pub -q 1 to pulseboard/plant-z/line-9/s1 shows s1 in /api/sensors, in group plant-z/line-9 with its value",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(["--mqtt-port", "0"], async (server, data) => {
    const started = performance.now();
    const sent = await pub(server, [
      "-q",
      "1",
      "-t",
      "pulseboard/plant-z/line-9/s1",
      "-m",
      '{"reading":{"temperature":21.5,"humidity":48}}',
    ]);
    assertEquals(sent.code, 0, sent.out);
    const acked = performance.now() - started;
    let row: { id: string; group: string; metrics: Record<string, { value: number }> } | undefined;
    const waited = await until(async () => {
      row = (await sensors(server.url)).find((s) => s.id === "s1");
      return row !== undefined;
    }, "s1 in /api/sensors");
    console.log(
      `mosquitto_pub -q 1 returned (PUBACK) after ${acked.toFixed(0)} ms; ` +
        `s1 was in /api/sensors ${(acked + waited).toFixed(0)} ms after the publish started`,
    );
    assertEquals(row!.group, "plant-z/line-9");
    assertEquals(row!.metrics.temperature.value, 21.5);
    assertEquals(row!.metrics.humidity.value, 48);
    // The PUBACK came after the durable commit: the log (read through its own handle) has it.
    await server.stop();
    const stored = await readLog(data);
    assertEquals(stored.map((r) => [r.sensorId, r.group, r.values]), [
      ["s1", "plant-z/line-9", { temperature: 21.5, humidity: 48 }],
    ]);
  });
});

Deno.test({
  name:
    "the listener is ingest only: QoS 2 stores once, bad payloads are acknowledged, counted and logged with the topic on a kept connection, subscriptions get SUBACK 0x80, MQTT 5 gets a CONNACK refusal, wills are dropped",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(["--mqtt-port", "0"], async (server, data) => {
    // QoS 2: the full handshake, the reading stored once.
    const qos2 = await pub(server, [
      "-q",
      "2",
      "-t",
      "pulseboard/plant-q/q2",
      "-m",
      '{"reading":{"v":2}}',
    ]);
    assertEquals(qos2.code, 0, qos2.out);

    // One connection (-l: a line per message), good and bad payloads mixed.
    const before = (await health(server.url)).mqtt;
    const lines = [
      '{"reading":{"v":1}}',
      "garbage",
      '{"reading":"not metrics"}',
      "[1,2,3]",
      '{"sensorId":"other","reading":{"v":9}}',
      '{"timestamp":"2020-02-30T00:00:00Z","reading":{"v":9}}',
      '{"reading":{"v":3}}',
    ];
    const many = await pub(server, [
      "-q",
      "1",
      "-i",
      "line-dev",
      "-t",
      "pulseboard/plant-l/l1",
      "-l",
    ], lines.join("\n") + "\n");
    assertEquals(many.code, 0, many.out);
    // Binary payloads: random bytes, and a FlatBuffer that claims to be an IngestBatch.
    const junk = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) % 256);
    const fake = Uint8Array.from([16, 0, 0, 0, 0x50, 0x4c, 0x53, 0x42, ...junk.subarray(0, 40)]);
    for (const [i, bytes] of [junk, fake].entries()) {
      const file = await Deno.makeTempFile();
      await Deno.writeFile(file, bytes);
      const sent = await pub(server, [
        "-q",
        "1",
        "-i",
        `bin-${i}`,
        "-t",
        "pulseboard/plant-l/bin",
        "-f",
        file,
      ]);
      await Deno.remove(file);
      assertEquals(sent.code, 0, sent.out);
    }
    const after = (await health(server.url)).mqtt;
    assertEquals(after.publishes.listener.invalid - before.publishes.listener.invalid, 7);
    assertEquals(after.publishes.listener.accepted - before.publishes.listener.accepted, 2);
    // Three connections in all: the bad payloads did not cost the -l connection.
    assertEquals(after.listener.connects.accepted - before.listener.connects.accepted, 3);
    const logged = server.logs.filter((l) => l.includes("MQTT publish refused: invalid"));
    assert(
      logged.some((l) =>
        l.includes('"topic":"pulseboard/plant-l/l1"') && l.includes("not valid JSON")
      ),
      logged.join("\n"),
    );
    assert(logged.some((l) => l.includes('"topic":"pulseboard/plant-l/bin"')), logged.join("\n"));
    // Once a minute per client: the -l connection's five bad payloads made one line.
    assertEquals(logged.filter((l) => l.includes('"clientId":"line-dev"')).length, 1);
    const metrics = await (await fetch(new URL("/metrics", server.url))).text();
    assert(
      /pulseboard_mqtt_publishes_total\{source="listener",outcome="invalid"\} 7/.test(metrics),
      metrics,
    );

    // Subscriptions are refused (SUBACK 0x80).
    const sub = await mosquitto("mosquitto_sub", [
      "-p",
      String(server.mqttPort),
      "-t",
      "pulseboard/#",
      "-W",
      "3",
    ]);
    assert(/All subscription requests were denied/.test(sub.out), sub.out);

    // An MQTT 5 client is refused at CONNACK (aedes 1.2 speaks 3.1.1).
    const v5 = await pub(server, [
      "-V",
      "mqttv5",
      "-q",
      "1",
      "-t",
      "pulseboard/plant-q/v5",
      "-m",
      '{"reading":{"v":5}}',
    ]);
    assert(v5.code !== 0 && /Unsupported Protocol Version/i.test(v5.out), `${v5.code} ${v5.out}`);

    // A will would arrive as a reading when its device drops: wills are stripped.
    const device = mqtt.connect(`mqtt://127.0.0.1:${server.mqttPort}`, {
      clientId: "will-dev",
      reconnectPeriod: 0,
      will: {
        topic: "pulseboard/plant-w/will-s",
        payload: '{"reading":{"v":1}}',
        qos: 1,
        retain: true,
      },
    });
    await new Promise((resolve, reject) => {
      device.once("connect", resolve);
      device.once("error", reject);
    });
    // A dropped connection, not a DISCONNECT: the case a will is for.
    (device.stream as unknown as { destroy(): void }).destroy();
    device.end(true);
    // A retained publish is a reading like any other (retain is forced off).
    assertEquals(
      (await pub(server, [
        "-q",
        "1",
        "-r",
        "-t",
        "pulseboard/plant-q/r1",
        "-m",
        '{"reading":{"v":7}}',
      ])).code,
      0,
    );
    await until(async () => (await sensors(server.url)).some((s) => s.id === "r1"), "r1");
    await new Promise((r) => setTimeout(r, 300));
    const ids = (await sensors(server.url)).map((s) => s.id).sort();
    assertEquals(ids, ["l1", "q2", "r1"]);
    await server.stop();
    const stored = await readLog(data);
    assertEquals(stored.map((r) => `${r.sensorId}=${r.values.v}`).sort(), [
      "l1=1",
      "l1=3",
      "q2=2",
      "r1=7",
    ]);
  });
});

Deno.test({
  name:
    "client ids like constructor and __proto__ connect and publish, and a client id over 128 characters is refused with CONNACK 2",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(["--mqtt-port", "0"], async (server) => {
    for (const id of ["constructor", "__proto__", "hasOwnProperty", "toString"]) {
      const sent = await pub(server, [
        "-q",
        "1",
        "-c",
        "-i",
        id,
        "-t",
        `pulseboard/plant-p/${id}`,
        "-m",
        '{"reading":{"v":1}}',
      ]);
      assertEquals(sent.code, 0, `${id}: ${sent.out}`);
    }
    const long = await pub(server, [
      "-q",
      "1",
      "-i",
      "x".repeat(129),
      "-t",
      "pulseboard/plant-p/long",
      "-m",
      '{"reading":{"v":1}}',
    ]);
    assert(long.code !== 0 && /identifier rejected/i.test(long.out), `${long.code} ${long.out}`);
    assertEquals((await health(server.url)).status, "ok");
    // Acknowledged is stored; the listing shows it once the hub has ticked.
    await until(async () => (await sensors(server.url)).length >= 4, "the four sensors");
    assertEquals(
      (await sensors(server.url)).map((s) => s.id).sort(),
      ["__proto__", "constructor", "hasOwnProperty", "toString"],
    );
  });
});

Deno.test({
  name:
    "a packet over --mqtt-max-packet closes its connection, a declared 200 MB packet as soon as its header arrives; nothing is stored and others go on",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(["--mqtt-port", "0", "--mqtt-max-packet", "4096"], async (server) => {
    const big = await pub(server, [
      "-q",
      "1",
      "-t",
      "pulseboard/plant-b/big",
      "-m",
      `{"reading":{"v":1},"status":"${"x".repeat(5000)}"}`,
    ]);
    assert(big.code !== 0, `a 5 KB publish was acknowledged: ${big.out}`);
    const fits = await pub(server, [
      "-q",
      "1",
      "-t",
      "pulseboard/plant-b/small",
      "-m",
      `{"reading":{"v":1},"status":"${"x".repeat(20)}"}`,
    ]);
    assertEquals(fits.code, 0, fits.out);

    // A fixed header declaring 200 MB, then only 100 bytes: refused without waiting for the rest.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.mqttPort! });
    await conn.write(connect("raw-big"));
    const remaining = 200 * 1024 * 1024;
    const header = [0x32]; // PUBLISH, QoS 1
    for (let n = remaining;;) {
      const byte = n % 128;
      n = Math.floor(n / 128);
      header.push(n > 0 ? byte | 0x80 : byte);
      if (n === 0) break;
    }
    await conn.write(Uint8Array.from([...header, ...new Uint8Array(100)]));
    assertEquals(await readUntilClosed(conn, 5_000), "closed");
    conn.close();
    const status = await health(server.url);
    assertEquals(status.mqtt.tooLarge, 2);
    assertEquals(status.status, "ok");
    // The acknowledged one is listed once the hub has ticked; the refused ones never are.
    await until(async () => (await sensors(server.url)).length > 0, "the small publish");
    assertEquals((await sensors(server.url)).map((s) => s.id), ["small"]);
  });
});

Deno.test({
  name: "connections per address are capped at accept (--mqtt-max-connections-per-address)",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(
    ["--mqtt-port", "0", "--mqtt-max-connections-per-address", "5"],
    async (server) => {
      const conns = await Promise.all(
        Array.from(
          { length: 10 },
          () => Deno.connect({ hostname: "127.0.0.1", port: server.mqttPort! }),
        ),
      );
      // Each sends CONNECT; only the admitted ones get a CONNACK (0x20 0x02 0x00 0x00).
      const answers = await Promise.all(conns.map(async (conn, i) => {
        await conn.write(connect(`cap-${i}`)).catch(() => {});
        const buffer = new Uint8Array(4);
        const n = await conn.read(buffer).catch(() => null);
        return n === 4 && buffer[0] === 0x20 && buffer[3] === 0 ? "connack" : "closed";
      }));
      assertEquals(answers.filter((a) => a === "connack").length, 5);
      assertEquals((await health(server.url)).mqtt.listener.connects.over_address, 5);
      for (const conn of conns) conn.close();
    },
  );
});

Deno.test({
  name: "--mqtts-port serves MQTT over TLS with --cert and --key (mosquitto_pub --cafile)",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mqtts-" });
  try {
    const { cert, key } = await selfSignedCert(dir);
    await withMqttServer(["--cert", cert, "--key", key, "--mqtts-port", "0"], async (server) => {
      assertEquals(server.mqttPort, null);
      const sent = await mosquitto("mosquitto_pub", [
        "-h",
        "localhost",
        "-p",
        String(server.mqttsPort),
        "--cafile",
        cert,
        "-q",
        "1",
        "-t",
        "pulseboard/plant-t/tls-1",
        "-m",
        '{"reading":{"v":443}}',
      ]);
      assertEquals(sent.code, 0, sent.out);
      // A plain client on the TLS port gets nowhere, and nothing is stored from it.
      const plain = await mosquitto("mosquitto_pub", [
        "-h",
        "localhost",
        "-p",
        String(server.mqttsPort),
        "-q",
        "1",
        "-t",
        "pulseboard/plant-t/plain",
        "-m",
        '{"reading":{"v":1}}',
      ]);
      assert(plain.code !== 0, plain.out);
      // The PUBACK means committed; the feed shows it from the hub's next tick on.
      const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });
      const ids = async () =>
        ((await (await fetch(new URL("/api/sensors", server.url), { client })).json()).sensors as {
          id: string;
        }[]).map((s) => s.id);
      let shown = await ids();
      for (let i = 0; i < 100 && shown.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        shown = await ids();
      }
      client.close();
      assertEquals(shown, ["tls-1"]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "/metrics with MQTT on passes promtool check metrics",
  ignore: !promtool,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(["--mqtt-port", "0"], async (server) => {
    await pub(server, ["-q", "1", "-t", "pulseboard/plant-m/m1", "-m", '{"reading":{"v":1}}']);
    await pub(server, ["-q", "1", "-t", "pulseboard/plant-m/m1", "-m", "nope"]);
    const text = await (await fetch(new URL("/metrics", server.url))).text();
    const check = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = check.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const result = await check.output();
    const out = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assert(result.success, out);
    assert(/pulseboard_mqtt_readings_ingested_total 1/.test(text));
    assert(/pulseboard_mqtt_readings_refused_total\{reason="malformed"\} 1/.test(text), text);
  });
});
