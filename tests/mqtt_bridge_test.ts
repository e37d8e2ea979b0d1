// The MQTT bridge against Debian's mosquitto broker: a persistent session, so
// what is published while Pulseboard is down arrives after it restarts, each
// message stored once even when the server is killed mid-stream.
import { assert, assertEquals } from "./testing/assert.ts";
import {
  health,
  mosquitto,
  selfSignedCert,
  sensors,
  spawnServer,
  startBroker,
  until,
} from "./testing/mqtt_fixtures.ts";
import type { Broker, MqttServer } from "./testing/mqtt_fixtures.ts";
import { readLog } from "./testing/read_log.ts";

async function withBroker(
  run: (broker: Broker, data: string) => Promise<void>,
  options: Parameters<typeof startBroker>[0] = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-bridge-" });
  const broker = await startBroker(options);
  try {
    await run(broker, `${dir}/store.kv`);
  } finally {
    await broker.stop();
    await Deno.remove(broker.dir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
}

const bridged = (broker: Broker, data: string, extra: string[] = []) =>
  spawnServer([
    "--port",
    "0",
    "--data",
    data,
    "--tick",
    "20",
    "--mqtt-url",
    `mqtt://127.0.0.1:${broker.port}`,
    ...extra,
  ]);

const connected = (server: MqttServer) =>
  until(
    async () => (await health(server.url)).mqtt?.bridge?.connected === true,
    "the bridge connected",
  );

/** Publishes lines (one message each) to the broker on one connection, QoS 1. */
const publishLines = (broker: Broker, topic: string, lines: string[]) =>
  mosquitto(
    "mosquitto_pub",
    ["-p", String(broker.port), "-q", "1", "-t", topic, "-l"],
    lines.join("\n") + "\n",
  );

/** How many times each seq of `sensor` is in the log. */
async function seqCounts(data: string, sensor: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const r of await readLog(data)) {
    if (r.sensorId === sensor) counts.set(r.values.seq, (counts.get(r.values.seq) ?? 0) + 1);
  }
  return counts;
}

Deno.test({
  name:
    "must show: a mosquitto_pub -q 1 to a Mosquitto broker reaches /api/sensors through --mqtt-url, s1 in group plant-z/line-9 with its value",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withBroker(async (broker, data) => {
    const server = await bridged(broker, data);
    try {
      await connected(server);
      const started = performance.now();
      const sent = await mosquitto("mosquitto_pub", [
        "-p",
        String(broker.port),
        "-q",
        "1",
        "-t",
        "pulseboard/plant-z/line-9/s1",
        "-m",
        '{"reading":{"temperature":21.5}}',
      ]);
      assertEquals(sent.code, 0, sent.out);
      let row: Awaited<ReturnType<typeof sensors>>[number] | undefined;
      await until(
        async () => (row = (await sensors(server.url)).find((s) => s.id === "s1")) !== undefined,
        "s1",
      );
      console.log(
        `through the broker and the bridge, s1 was in /api/sensors ${
          (performance.now() - started).toFixed(0)
        } ms after the publish started`,
      );
      assertEquals([row!.group, row!.metrics.temperature.value], ["plant-z/line-9", 21.5]);
      const status = await health(server.url);
      assertEquals(status.status, "ok");
      assertEquals(status.mqtt.bridge.topic, "pulseboard/#");
      assert(
        /^pulseboard-[0-9a-f]{16}$/.test(status.mqtt.bridge.clientId),
        status.mqtt.bridge.clientId,
      );
      assertEquals((await server.stop()).code, 0, "SIGTERM with the bridge connected exits 0");
    } finally {
      await server.stop();
    }
  });
});

Deno.test({
  name:
    "what is published while Pulseboard is down arrives once it is back, exactly once, also when it is killed mid-stream",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withBroker(async (broker, data) => {
    // The first start creates the session (and the client id, kept in the data store).
    let server = await bridged(broker, data);
    await connected(server);
    const clientId = (await health(server.url)).mqtt.bridge.clientId;
    await server.stop();

    const count = 3_000;
    const lines = Array.from(
      { length: count },
      (_, seq) => JSON.stringify({ timestamp: 1_790_000_000_000 + seq, reading: { seq } }),
    );
    // Some bad payloads among them: counted, acknowledged, and the rest goes on.
    lines.splice(1_000, 0, "not json", '{"reading":"no"}');
    const sent = await publishLines(broker, "pulseboard/plant-b/b1", lines);
    assertEquals(sent.code, 0, sent.out);

    // Back, but killed as soon as part of the backlog is committed: PUBACKs held for commit are lost.
    server = await bridged(broker, data);
    await until(
      async () => (await health(server.url)).mqtt.readingsAccepted > 0,
      "some of the backlog",
    );
    await server.kill();
    const partial = [...(await seqCounts(data, "b1")).values()].reduce((a, b) => a + b, 0);

    server = await bridged(broker, data);
    try {
      await until(
        async () => (await seqCounts(data, "b1")).size === count,
        `all ${count} in the log`,
        30_000,
      );
      const status = await health(server.url);
      assertEquals(status.mqtt.bridge.clientId, clientId, "the same session after restarts");
      await new Promise((r) => setTimeout(r, 500));
      const counts = await seqCounts(data, "b1");
      const twice = [...counts].filter(([, n]) => n > 1).map(([seq]) => seq);
      console.log(
        `${partial} stored before the kill; after the restart ${status.mqtt.publishes.bridge.duplicate} redelivered ` +
          `messages were recognised as committed, ${status.mqtt.bridge.maxHeldAcks} PUBACKs held at most`,
      );
      assertEquals(twice, [], "stored twice");
      assertEquals(counts.size, count);
      assert(status.mqtt.bridge.maxHeldAcks <= 1000, "held PUBACKs stay under the cap");
    } finally {
      await server.stop();
    }
    // The bad payloads were counted (by one of the runs) and not stored.
    assertEquals((await readLog(data)).length, count);
  });
});

/**
 * A TCP proxy to the broker whose first connection swallows what the client
 * sends after its first `passBytes` bytes (CONNECT, SUBSCRIBE), then cuts
 * both ways after `cutAfterMs`: the PUBACKs of what the client committed
 * meanwhile never reach the broker. Later connections pass everything.
 */
function lossyProxy(brokerPort: number, options: { passBytes: number; cutAfterMs: number }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let first = true;
  let swallowed = 0;
  (async () => {
    for await (const client of listener) {
      const lossy = first;
      first = false;
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: brokerPort });
      const close = () => {
        try {
          client.close();
        } catch { /* closed */ }
        try {
          upstream.close();
        } catch { /* closed */ }
      };
      upstream.readable.pipeTo(client.writable).catch(close);
      (async () => {
        let passed = 0;
        let cutting = false;
        for await (const chunk of client.readable) {
          if (!lossy || passed + chunk.byteLength <= options.passBytes) {
            passed += chunk.byteLength;
            await upstream.write(chunk);
            continue;
          }
          swallowed += chunk.byteLength;
          if (!cutting) {
            cutting = true;
            setTimeout(close, options.cutAfterMs);
          }
        }
      })().catch(close);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get swallowed() {
      return swallowed;
    },
    close: () => listener.close(),
  };
}

Deno.test({
  name:
    "PUBACKs lost after the commit (the connection cut): the broker's redeliveries are recognised and nothing is stored twice",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withBroker(async (broker, data) => {
    // A session first, so the messages queue at the broker.
    let server = await bridged(broker, data);
    await connected(server);
    await server.stop();
    const count = 500;
    const lines = Array.from(
      { length: count },
      (_, seq) => JSON.stringify({ timestamp: 1_790_000_000_000 + seq, reading: { seq } }),
    );
    assertEquals((await publishLines(broker, "pulseboard/plant-l/l1", lines)).code, 0);

    // The CONNECT of the bridge is well under 200 bytes; everything after it (its PUBACKs) is lost.
    const proxy = lossyProxy(broker.port, { passBytes: 200, cutAfterMs: 500 });
    server = await spawnServer([
      "--port",
      "0",
      "--data",
      data,
      "--mqtt-url",
      `mqtt://127.0.0.1:${proxy.port}`,
    ]);
    try {
      await until(
        async () => (await seqCounts(data, "l1")).size === count,
        `all ${count} in the log`,
        30_000,
      );
      await until(
        async () => (await health(server.url)).mqtt.bridge.connects >= 2,
        "the bridge reconnected",
      );
      await new Promise((r) => setTimeout(r, 500));
      const status = await health(server.url);
      const counts = await seqCounts(data, "l1");
      console.log(
        `${proxy.swallowed} bytes of PUBACKs lost; ${status.mqtt.publishes.bridge.duplicate} redeliveries recognised as committed`,
      );
      assert(proxy.swallowed > 0, "PUBACKs were lost");
      assert(
        status.mqtt.publishes.bridge.duplicate > 0,
        "the broker redelivered committed messages",
      );
      assertEquals([...counts].filter(([, n]) => n > 1).map(([seq]) => seq), [], "stored twice");
      assertEquals(counts.size, count);
    } finally {
      await server.stop();
      proxy.close();
    }
  });
});

Deno.test({
  name:
    "the bridge reports a lost broker in /healthz (degraded, last error), reconnects by itself when it is back, and stops cleanly while it is gone",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withBroker(async (broker, data) => {
    const server = await bridged(broker, data);
    try {
      await connected(server);
      await broker.stop();
      await until(
        async () => (await health(server.url)).mqtt.bridge.connected === false,
        "the bridge noticed",
      );
      const down = await health(server.url);
      assertEquals(down.status, "degraded");
      await until(
        async () => (await health(server.url)).mqtt.bridge.lastError !== null,
        "an error noted",
        5_000,
      );
      await broker.restart();
      await connected(server);
      assertEquals((await health(server.url)).status, "ok");
      const sent = await publishLines(broker, "pulseboard/plant-r/r1", ['{"reading":{"seq":1}}']);
      assertEquals(sent.code, 0);
      await until(
        async () => (await sensors(server.url)).some((s) => s.id === "r1"),
        "r1 after the broker came back",
      );
      // A stop while the broker is gone again (the bridge reconnecting) is still clean.
      await broker.stop();
      await until(async () => (await health(server.url)).mqtt.bridge.connected === false, "down");
      assertEquals((await server.stop()).code, 0, "SIGTERM with the broker gone exits 0");
    } finally {
      await server.stop();
    }
  });
});

Deno.test({
  name: "the bridge reaches a broker over mqtts:// with --mqtt-ca",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const certs = await Deno.makeTempDir({ prefix: "pulseboard-bridge-tls-" });
  await Deno.chmod(certs, 0o755);
  try {
    const tls = await selfSignedCert(certs);
    await withBroker(async (broker, data) => {
      const server = await spawnServer([
        "--port",
        "0",
        "--data",
        data,
        "--mqtt-url",
        `mqtts://localhost:${broker.tlsPort}`,
        "--mqtt-ca",
        tls.cert,
      ]);
      try {
        await connected(server);
        const sent = await publishLines(broker, "pulseboard/plant-s/tls-1", [
          '{"reading":{"seq":7}}',
        ]);
        assertEquals(sent.code, 0);
        await until(async () => (await sensors(server.url)).some((s) => s.id === "tls-1"), "tls-1");
      } finally {
        await server.stop();
      }
    }, { tls });
  } finally {
    await Deno.remove(certs, { recursive: true });
  }
});

Deno.test({
  name:
    "the bridge logs in with --mqtt-username and PULSEBOARD_MQTT_PASSWORD (never an option, never logged); without the password the broker refuses it and /healthz says so",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const password = "bridge-secret-" + crypto.randomUUID();
  await withBroker(async (broker, data) => {
    const args = [
      "--port",
      "0",
      "--data",
      data,
      "--mqtt-url",
      `mqtt://127.0.0.1:${broker.port}`,
      "--mqtt-username",
      "pulseboard",
    ];
    const refused = await spawnServer(args);
    try {
      await until(async () => {
        const bridge = (await health(refused.url)).mqtt.bridge;
        return bridge.lastError !== null && !bridge.connected;
      }, "the refusal in /healthz");
      const status = await health(refused.url);
      assertEquals(status.status, "degraded");
      assert(
        /not authori[sz]ed|bad user name/i.test(status.mqtt.bridge.lastError!),
        status.mqtt.bridge.lastError!,
      );
    } finally {
      await refused.stop();
    }
    const server = await spawnServer(args, { env: { PULSEBOARD_MQTT_PASSWORD: password } });
    try {
      await connected(server);
      const sent = await mosquitto("mosquitto_pub", [
        "-p",
        String(broker.port),
        "-u",
        "pulseboard",
        "-P",
        password,
        "-q",
        "1",
        "-t",
        "pulseboard/plant-s/auth-1",
        "-m",
        '{"reading":{"seq":1}}',
      ]);
      assertEquals(sent.code, 0, sent.out);
      await until(async () => (await sensors(server.url)).some((s) => s.id === "auth-1"), "auth-1");
      const page = await (await fetch(new URL("/healthz", server.url))).text();
      assert(!page.includes(password), "/healthz does not show the password");
    } finally {
      await server.stop();
    }
    assert(!server.logs.some((line) => line.includes(password)), "no log line holds the password");
  }, { user: { name: "pulseboard", password } });
});
