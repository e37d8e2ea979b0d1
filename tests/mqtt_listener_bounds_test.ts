// The embedded MQTT listener against inputs that used to hold memory or stall
// a connection: raw MQTT clients (mqtt-packet, the parser aedes itself uses,
// over node:net) against a real server process on a real Deno KV file.
import net from "node:net";
import mqttPacket from "mqtt-packet";
import { assert, assertEquals } from "./testing/assert.ts";
import { health, sensors, spawnServer } from "./testing/mqtt_fixtures.ts";
import type { MqttServer } from "./testing/mqtt_fixtures.ts";

async function withServer(
  args: string[],
  run: (server: MqttServer, data: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-mqtt-bounds-" });
  const data = `${dir}/store.kv`;
  const server = await spawnServer(["--port", "0", "--data", data, "--tick", "20", ...args]);
  try {
    await run(server, data);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

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
  await withServer(["--mqtt-port", "0"], async (server) => {
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
      const stored = (await sensors(server.url)).filter((s) => s.group === `burst-${bad}`);
      assertEquals(stored.length, good);
      await client.close();
    }
    const status = await health(server.url);
    assertEquals(status.mqtt.publishes.listener.invalid, 24);
    assertEquals(status.mqtt.publishes.listener.accepted, 250);
  });
});
