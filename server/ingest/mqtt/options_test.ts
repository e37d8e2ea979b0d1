import { assert, assertEquals } from "../../../tests/assert.ts";
import { DEFAULT_MQTT_OPTIONS, enabled, parseMqttOptions } from "./options.ts";

const context = {
  duration: (_name: string, raw: string) => Number(raw.replace("h", "")) * 3_600_000,
  env: (name: string) => name === "PULSEBOARD_MQTT_PASSWORD" ? "s3cret" : undefined,
  tls: false,
  source: "kv",
};

Deno.test("MQTT options: off by default, ports, bridge and limits read as given", () => {
  const none = parseMqttOptions({}, context);
  assertEquals(enabled(none), false);
  assertEquals({ ...none, password: null }, { ...DEFAULT_MQTT_OPTIONS });
  const all = parseMqttOptions({
    "mqtt-port": "1883",
    "mqtts-port": "0",
    "mqtt-url": "mqtts://broker.example:8883",
    "mqtt-topic": "pulseboard/plant-a/#",
    "mqtt-client-id": "pb-1",
    "mqtt-ca": "ca.pem",
    "mqtt-username": "bridge",
    "mqtt-max-packet": "4096",
    "mqtt-max-connections": "50",
    "mqtt-max-connections-per-address": "5",
    "mqtt-max-connections-per-key": "7",
    "mqtt-connect-rate": "3",
    "mqtt-rate": "100",
    "mqtt-retry-ttl": "2h",
  }, { ...context, tls: true });
  assertEquals(all, {
    port: 1883,
    tlsPort: 0,
    url: "mqtts://broker.example:8883",
    topic: "pulseboard/plant-a/#",
    clientId: "pb-1",
    caFile: "ca.pem",
    username: "bridge",
    password: "s3cret",
    maxPacketBytes: 4096,
    maxConnections: 50,
    maxConnectionsPerAddress: 5,
    maxConnectionsPerKey: 7,
    connectRate: 3,
    publishRate: 100,
    retryTtlMs: 7_200_000,
  });
  assert(enabled(all));
});

Deno.test("MQTT options that cannot work are refused with a TypeError naming the option", () => {
  const refused: [Record<string, string>, Partial<typeof context>, RegExp][] = [
    [{ "mqtt-port": "70000" }, {}, /--mqtt-port must be an integer from 0 to 65535/],
    [{ "mqtts-port": "8883" }, {}, /--mqtts-port needs --cert and --key/],
    [{ "mqtt-url": "http://broker:1883" }, {}, /--mqtt-url must be mqtt:\/\/host/],
    [{ "mqtt-url": "not a url" }, {}, /--mqtt-url must be a URL/],
    [{ "mqtt-url": "mqtt://user:pw@broker" }, {}, /must not hold credentials/],
    [{ "mqtt-topic": "pulseboard/#" }, {}, /--mqtt-topic needs --mqtt-url/],
    [{ "mqtt-url": "mqtt://b", "mqtt-client-id": "has space" }, {}, /--mqtt-client-id must be/],
    [{ "mqtt-max-packet": "10" }, {}, /--mqtt-max-packet must be an integer from 256/],
    [{ "mqtt-port": "1883" }, { source: "mongo" }, /needs the Deno KV log/],
  ];
  for (const [values, over, message] of refused) {
    let error: unknown = null;
    try {
      parseMqttOptions(values, { ...context, ...over });
    } catch (e) {
      error = e;
    }
    assert(error instanceof TypeError, `${JSON.stringify(values)} was accepted`);
    assert(message.test(error.message), error.message);
    // A URL's credentials are never echoed back.
    assert(!error.message.includes("pw@"), error.message);
  }
});
