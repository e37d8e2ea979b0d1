// The embedded MQTT listener against inputs that used to hold memory or stall
// a connection: raw MQTT clients (mqtt-packet, the parser aedes itself uses,
// over node:net) against a real server process on a real Deno KV file.
import net from "node:net";
import mqtt from "mqtt";
import mqttPacket from "mqtt-packet";
import { assert, assertEquals } from "./testing/assert.ts";
import { health, sensors, until, withMqttServer } from "./testing/mqtt_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Packet = any;

/** A raw MQTT 3.1.1 connection: writes packets as given, collects every packet it is sent. */
class RawClient {
  readonly received: Packet[] = [];
  closed = false;
  readonly #socket: net.Socket;
  #waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const parser = mqttPacket.parser();
    parser.on("packet", (p: Packet) => {
      this.received.push(p);
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on("data", (d: Buffer) => parser.parse(d));
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on("error", () => {});
  }

  /** Connects and waits for CONNACK 0. */
  static async open(
    port: number,
    clientId: string,
    options: { clean?: boolean } = {},
  ): Promise<RawClient> {
    const socket = net.connect(port, "127.0.0.1");
    const client = new RawClient(socket);
    client.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: options.clean ?? true,
      clientId,
      keepalive: 60,
    });
    await client.until((p) => p.cmd === "connack", 1, 5_000);
    const connack = client.received.find((p) => p.cmd === "connack");
    assertEquals(connack?.returnCode, 0, `CONNACK for ${clientId}`);
    return client;
  }

  send(...packets: Record<string, unknown>[]): void {
    this.#socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p as never))));
  }

  count(match: (p: Packet) => boolean): number {
    return this.received.filter(match).length;
  }

  /** Waits until `n` received packets match (or the connection closes, or `ms` pass). */
  async until(match: (p: Packet) => boolean, n: number, ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    while (this.count(match) < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.count(match);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once("close", () => resolve());
      this.#socket.destroy();
    });
  }
}

const publish = (topic: string, payload: string | Uint8Array, messageId: number, qos = 1) => ({
  cmd: "publish",
  qos,
  messageId,
  topic,
  payload: typeof payload === "string" ? payload : Buffer.from(payload),
  retain: false,
  dup: false,
});

Deno.test({
  name:
    "bad publishes in one write with good ones after them are all acknowledged without the client sending more (the connection does not stall)",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(["--mqtt-port", "0"], async (server) => {
    for (const [bad, good] of [[4, 50], [20, 200]]) {
      const client = await RawClient.open(server.mqttPort!, `burst-${bad}`);
      // 60 KB of junk each (not JSON: acknowledged and dropped), then valid readings, in one write.
      const junk = new Uint8Array(60_000).fill(0x41);
      const packets = [];
      let id = 1;
      for (let i = 0; i < bad; i++) {
        packets.push(publish(`pulseboard/burst-${bad}/bad`, junk, id++));
      }
      for (let i = 0; i < good; i++) {
        packets.push(publish(`pulseboard/burst-${bad}/s${i}`, `{"reading":{"v":${i}}}`, id++));
      }
      client.send(...packets);
      const acked = await client.until((p) => p.cmd === "puback", bad + good, 10_000);
      assertEquals(acked, bad + good, `PUBACKs for ${bad} bad and ${good} good publishes`);
      assert(!client.closed, "the connection is kept");
      // Durable once acknowledged; /api/sensors shows them from the hub's next tick on.
      await until(
        async () =>
          (await sensors(server.url)).filter((s) => s.group === `burst-${bad}`).length === good,
        `${good} sensors of burst-${bad}`,
      );
      await client.close();
    }
    const status = await health(server.url);
    assertEquals(status.mqtt.publishes.listener.invalid, 24);
    assertEquals(status.mqtt.publishes.listener.accepted, 250);
  });
});

Deno.test({
  name:
    "QoS 2 publishes never released hold only their packet ids, and only while their connection lasts; a resend after a reconnect is stored once and a PUBREL after it completes; a resend on the same connection is stored once",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(["--mqtt-port", "0"], async (server) => {
    const port = server.mqttPort!;
    const listener = async () => (await health(server.url)).mqtt.listener;
    const PER = 300;
    // Valid readings padded to 60 KB: aedes kept each one whole, per client id, until its PUBREL.
    const payload = (v: number) => {
      const json = `{"reading":{"v":${v}}}`;
      return json + " ".repeat(60_000 - json.length);
    };
    for (let round = 0; round < 3; round++) {
      const device = await RawClient.open(port, "q2-dev", { clean: false });
      const packets = [];
      for (let i = 1; i <= PER; i++) {
        packets.push(publish("pulseboard/q2/s", payload(round * PER + i), round * PER + i, 2));
      }
      device.send(...packets);
      assertEquals(await device.until((p) => p.cmd === "pubrec", PER, 20_000), PER);
      assertEquals((await listener()).qos2Unreleased, PER);
      // Gone without a PUBREL: nothing of it stays.
      await device.close();
      await until(async () => (await listener()).qos2Unreleased === 0, "receipts dropped");
    }
    // Back again: the last publish resent (its PUBREC was lost) is recognised, then every PUBREL completes.
    const device = await RawClient.open(port, "q2-dev", { clean: false });
    device.send({ ...publish("pulseboard/q2/s", payload(3 * PER), 3 * PER, 2), dup: true });
    assertEquals(await device.until((p) => p.cmd === "pubrec", 1, 5_000), 1);
    for (let id = 1; id <= 3 * PER; id++) device.send({ cmd: "pubrel", messageId: id });
    assertEquals(await device.until((p) => p.cmd === "pubcomp", 3 * PER, 10_000), 3 * PER);
    assertEquals((await listener()).qos2Unreleased, 0);
    await device.close();

    // A clean session resending before its PUBREL, on the same connection: stored once.
    const clean = await RawClient.open(port, "q2-clean");
    clean.send(publish("pulseboard/q2/c", '{"reading":{"v":1}}', 5, 2));
    assertEquals(await clean.until((p) => p.cmd === "pubrec", 1, 5_000), 1);
    clean.send({ ...publish("pulseboard/q2/c", '{"reading":{"v":1}}', 5, 2), dup: true });
    assertEquals(await clean.until((p) => p.cmd === "pubrec", 2, 5_000), 2);
    clean.send({ cmd: "pubrel", messageId: 5 });
    assertEquals(await clean.until((p) => p.cmd === "pubcomp", 1, 5_000), 1);
    // Released: the id is free for a new message.
    clean.send(publish("pulseboard/q2/c", '{"reading":{"v":2}}', 5, 2));
    assertEquals(await clean.until((p) => p.cmd === "pubrec", 3, 5_000), 3);
    await clean.close();

    const status = await health(server.url);
    assertEquals(status.mqtt.publishes.listener.accepted, 3 * PER + 2);
    assertEquals(status.mqtt.publishes.listener.duplicate, 2);
    assertEquals(status.mqtt.readingsAccepted, 3 * PER + 2);
    assertEquals(status.mqtt.listener.qos2Forgotten, 0);
    await until(
      async () => (await sensors(server.url)).find((s) => s.id === "c")?.metrics.v.value === 2,
      "c at its second value",
    );
  });
});

Deno.test({
  name:
    "mqtt.js sends 1,100 QoS 2 publishes on one connection, each released: every one completes (aedes's count of 1,000 awaiting PUBREL is freed by the PUBRELs)",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withMqttServer(["--mqtt-port", "0"], async (server) => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.mqttPort}`, {
      clientId: "q2-many",
      clean: false,
      reconnectPeriod: 0,
    });
    try {
      // In waves of 100 (aedes closes a connection with over 1,000 awaiting PUBREL at once).
      const N = 1_100;
      for (let wave = 0; wave < N / 100; wave++) {
        await Promise.all(
          Array.from(
            { length: 100 },
            (_, i) =>
              client.publishAsync(
                `pulseboard/q2m/s${i % 10}`,
                `{"reading":{"v":${wave * 100 + i}}}`,
                {
                  qos: 2,
                },
              ),
          ),
        );
      }
      const status = await health(server.url);
      assertEquals(status.mqtt.publishes.listener.accepted, N);
      assertEquals(status.mqtt.listener.qos2Unreleased, 0);
      assertEquals(status.mqtt.listener.connects.accepted, 1);
    } finally {
      await client.endAsync();
    }
  });
});
