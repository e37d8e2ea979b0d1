import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { DEFAULT_CONFIG, duration, parseConfig } from "./options.ts";

Deno.test("window, grace, retention, rollup and idempotency options read durations and check each other", () => {
  const config = parseConfig([
    "--windows",
    "500ms,5s,1m",
    "--grace",
    "0",
    "--max-future",
    "2s",
    "--retention",
    "36h",
    "--rollups",
    "5s=2d,1m=90d",
    "--rollup-flush",
    "250ms",
    "--idempotency-ttl",
    "2h",
    "--idempotency-lease",
    "5s",
  ]);
  assertEquals(config.windowSizesMs, [500, 5_000, 60_000]);
  assertEquals(config.graceMs, 0);
  assertEquals(config.maxFutureMs, 2_000);
  assertEquals(config.retentionMs, 36 * 3_600_000);
  assertEquals(config.rollups, [[5_000, 2 * 86_400_000], [60_000, 90 * 86_400_000]]);
  assertEquals(config.rollupFlushMs, 250);
  assertEquals([config.idempotencyTtlMs, config.idempotencyLeaseMs], [7_200_000, 5_000]);
  const defaults = parseConfig([]);
  assertEquals(
    [defaults.windowSizesMs, defaults.graceMs, defaults.rollups],
    [DEFAULT_CONFIG.windowSizesMs, 5_000, [[1_000, 86_400_000], [60_000, 30 * 86_400_000]]],
  );
});

Deno.test("--windows none turns windows off, and default rollups follow the windows", () => {
  const off = parseConfig(["--windows", "none"]);
  assertEquals([off.windowSizesMs, off.rollups], [[], []]);
  // Only the default rollup sizes that are still windows are kept.
  assertEquals(parseConfig(["--windows", "1s,10s"]).rollups, [[1_000, 86_400_000]]);
  assertEquals(parseConfig(["--rollups", "none"]).rollups, []);
});

Deno.test("bad durations and rollups of sizes that are not windows are refused by name", () => {
  const cases: [string[], RegExp][] = [
    [["--grace", "5 s"], /--grace: "5 s" is not a duration/],
    [["--retention", "0"], /--retention/],
    [["--retention", "500d"], /at most 400d/],
    [["--windows", "1s,,1m"], /--windows/],
    [["--rollups", "2s=1d"], /2s is not one of the --windows sizes/],
    [["--rollups", "1s"], /size=retention pairs/],
    [["--idempotency-ttl", "0"], /--idempotency-ttl/],
    [["--idempotency-lease", "soon"], /--idempotency-lease/],
  ];
  for (const [args, why] of cases) {
    let message = "";
    try {
      parseConfig(args);
    } catch (error) {
      assert(error instanceof TypeError);
      message = error.message;
    }
    assert(why.test(message), `${args.join(" ")}: ${message}`);
  }
  assertEquals(duration("x", "1.5s"), 1_500);
});

Deno.test("connection timeouts and the drain read durations of at most an hour", () => {
  const config = parseConfig([
    "--header-timeout",
    "3s",
    "--body-timeout",
    "1m",
    "--idle-timeout",
    "500ms",
    "--drain",
    "0",
  ]);
  assertEquals(
    [config.headerTimeoutMs, config.bodyTimeoutMs, config.idleTimeoutMs, config.drainMs],
    [3_000, 60_000, 500, 0],
  );
  const defaults = parseConfig([]);
  assertEquals(
    [defaults.headerTimeoutMs, defaults.bodyTimeoutMs, defaults.idleTimeoutMs, defaults.drainMs],
    [10_000, 30_000, 5_000, 2_000],
  );
  for (
    const [args, why] of [
      [["--header-timeout", "2h"], /--header-timeout: "2h" is longer than 1h/],
      [["--body-timeout", "0"], /--body-timeout/],
      [["--idle-timeout", "soon"], /--idle-timeout/],
    ] as [string[], RegExp][]
  ) {
    let message = "";
    try {
      parseConfig(args);
    } catch (error) {
      assert(error instanceof TypeError);
      message = error.message;
    }
    assert(why.test(message), `${args.join(" ")}: ${message}`);
  }
});

Deno.test("mongo source options come from flags or PULSEBOARD_* env vars, flags winning", () => {
  const none = () => undefined;
  const config = parseConfig(
    ["--source", "mongo", "--mongo-uri", "mongodb://a:27017/?replicaSet=rs0", "--db", "fleet"],
    none,
  );
  assertEquals(
    [config.source, config.mongoUri, config.mongoDb, config.mongoCollection],
    ["mongo", "mongodb://a:27017/?replicaSet=rs0", "fleet", "readings"],
  );
  const env: Record<string, string> = {
    PULSEBOARD_SOURCE: "mongo",
    PULSEBOARD_MONGO_URI: "mongodb+srv://user:pw@cluster0.example.net/",
    PULSEBOARD_MONGO_DB: "envdb",
    PULSEBOARD_MONGO_COLLECTION: "envcoll",
  };
  const fromEnv = parseConfig(["--collection", "flagcoll"], (name) => env[name]);
  assertEquals(
    [fromEnv.source, fromEnv.mongoUri, fromEnv.mongoDb, fromEnv.mongoCollection],
    ["mongo", env.PULSEBOARD_MONGO_URI, "envdb", "flagcoll"],
  );
  assertEquals(parseConfig([], none).source, "kv");
});

Deno.test("bad mongo options are refused by name, without echoing a URI", () => {
  const none = () => undefined;
  const cases: [string[], RegExp][] = [
    [["--source", "postgres"], /--source must be kv or mongo/],
    [["--source", "mongo"], /needs --mongo-uri/],
    [["--source", "mongo", "--mongo-uri", "http://user:secret@x"], /must start with mongodb:\/\//],
    [["--mongo-uri", "mongodb://x"], /need --source mongo/],
    [["--source", "mongo", "--mongo-uri", "mongodb://x", "--db", "a.b"], /--db: "a.b"/],
    [
      ["--source", "mongo", "--mongo-uri", "mongodb://x", "--collection", "system.x"],
      /--collection/,
    ],
    [["--source", "mongo", "--mongo-uri", "mongodb://x", "--collection", "a$b"], /--collection/],
  ];
  for (const [args, why] of cases) {
    let message = "";
    try {
      parseConfig(args, none);
    } catch (error) {
      assert(error instanceof TypeError);
      message = error.message;
    }
    assert(why.test(message), `${args.join(" ")}: ${message}`);
    assert(!message.includes("secret"), "the URI is not echoed");
  }
});

Deno.test("subscription limits: per connection caps and a topic share per client, checked by name", () => {
  const defaults = parseConfig([]);
  assertEquals(
    [defaults.maxSubscriptions, defaults.maxSubscriptionBytes, defaults.topicsPerClient],
    [64, 16_384, null],
  );
  const set = parseConfig([
    "--max-subscriptions",
    "8",
    "--max-subscription-bytes",
    "4096",
    "--topics-per-client",
    "2",
  ]);
  assertEquals([set.maxSubscriptions, set.maxSubscriptionBytes, set.topicsPerClient], [8, 4096, 2]);
  for (const [name, value] of [["topics-per-client", "0"], ["max-subscriptions", "x"]]) {
    let message = "";
    try {
      parseConfig([`--${name}`, value]);
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message.startsWith(`--${name} must be an integer`), message);
  }
});

Deno.test("--allowed-hosts reads host or host:port names, lower-cased, and refuses anything else by name", () => {
  assertEquals(DEFAULT_CONFIG.allowedHosts, []);
  assertEquals(
    parseConfig(["--allowed-hosts", "Dash.Example.com, ops.example.com:8443,[::1]:9000"])
      .allowedHosts,
    ["dash.example.com", "ops.example.com:8443", "[::1]:9000"],
  );
  for (const bad of ["https://dash.example.com", "dash.example.com/", "a@b", "b:99999"]) {
    let message = "";
    try {
      parseConfig(["--allowed-hosts", bad]);
    } catch (error) {
      assert(error instanceof TypeError);
      message = error.message;
    }
    assert(message.startsWith("--allowed-hosts:") && message.includes(bad), `${bad}: ${message}`);
  }
});

Deno.test("MQTT options: off by default, ports, bridge and limits read into their fields", () => {
  const none = () => undefined;
  const off = parseConfig([], none);
  assertEquals([off.mqttPort, off.mqttsPort, off.mqttUrl], [null, null, null]);
  const all = parseConfig([
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
    "--mqtt-port",
    "1883",
    "--mqtts-port",
    "0",
    "--mqtt-url",
    "mqtts://broker.example:8883",
    "--mqtt-topic",
    "pulseboard/plant-a/#",
    "--mqtt-client-id",
    "pb-1",
    "--mqtt-ca",
    "ca.pem",
    "--mqtt-username",
    "bridge",
    "--mqtt-max-packet",
    "4096",
    "--mqtt-max-connections",
    "50",
    "--mqtt-max-connections-per-address",
    "5",
    "--mqtt-max-connections-per-key",
    "7",
    "--mqtt-connect-rate",
    "3",
    "--mqtt-rate",
    "100",
    "--mqtt-retry-ttl",
    "2h",
  ], (name) => name === "PULSEBOARD_MQTT_PASSWORD" ? "s3cret" : undefined);
  assertEquals({
    mqttPort: all.mqttPort,
    mqttsPort: all.mqttsPort,
    mqttUrl: all.mqttUrl,
    mqttTopic: all.mqttTopic,
    mqttClientId: all.mqttClientId,
    mqttCaFile: all.mqttCaFile,
    mqttUsername: all.mqttUsername,
    mqttMaxPacketBytes: all.mqttMaxPacketBytes,
    mqttMaxConnections: all.mqttMaxConnections,
    mqttMaxConnectionsPerAddress: all.mqttMaxConnectionsPerAddress,
    mqttMaxConnectionsPerKey: all.mqttMaxConnectionsPerKey,
    mqttConnectRate: all.mqttConnectRate,
    mqttPublishRate: all.mqttPublishRate,
    mqttRetryTtlMs: all.mqttRetryTtlMs,
  }, {
    mqttPort: 1883,
    mqttsPort: 0,
    mqttUrl: "mqtts://broker.example:8883",
    mqttTopic: "pulseboard/plant-a/#",
    mqttClientId: "pb-1",
    mqttCaFile: "ca.pem",
    mqttUsername: "bridge",
    mqttMaxPacketBytes: 4096,
    mqttMaxConnections: 50,
    mqttMaxConnectionsPerAddress: 5,
    mqttMaxConnectionsPerKey: 7,
    mqttConnectRate: 3,
    mqttPublishRate: 100,
    mqttRetryTtlMs: 7_200_000,
  });
  // The password is never part of the config (nor of anything that logs it).
  assert(!JSON.stringify(all).includes("s3cret"));
});

Deno.test("MQTT options that cannot work are refused with a TypeError naming the option", () => {
  const refused: [string[], Record<string, string>, RegExp][] = [
    [["--mqtt-port", "70000"], {}, /--mqtt-port must be an integer from 0 to 65535/],
    [["--mqtts-port", "8883"], {}, /--mqtts-port needs --cert and --key/],
    [["--mqtt-url", "http://broker:1883"], {}, /--mqtt-url must be mqtt:\/\/host/],
    [["--mqtt-url", "not a url"], {}, /--mqtt-url must be a URL/],
    [["--mqtt-url", "mqtt://user:pw@broker"], {}, /--mqtt-url must not hold credentials/],
    [["--mqtt-topic", "pulseboard/#"], {}, /--mqtt-topic needs --mqtt-url/],
    [["--mqtt-username", "u"], {}, /--mqtt-username needs --mqtt-url/],
    [["--mqtt-url", "mqtt://b", "--mqtt-client-id", "has space"], {}, /--mqtt-client-id must be/],
    [["--mqtt-max-packet", "10"], {}, /--mqtt-max-packet must be an integer from 256/],
    [["--mqtt-retry-ttl", "soon"], {}, /--mqtt-retry-ttl: "soon" is not a duration/],
    [
      ["--mqtt-port", "1883", "--source", "mongo", "--mongo-uri", "mongodb://h/?replicaSet=rs0"],
      {},
      /--mqtt-port needs the Deno KV log \(--source kv\)/,
    ],
    [
      ["--mqtt-url", "mqtt://b"],
      { PULSEBOARD_SOURCE: "mongo", PULSEBOARD_MONGO_URI: "mongodb://h/?replicaSet=rs0" },
      /--mqtt-url needs the Deno KV log/,
    ],
    // The password is an environment variable only.
    [["--mqtt-password", "pw"], {}, /mqtt-password/],
  ];
  for (const [args, env, message] of refused) {
    let error: unknown = null;
    try {
      parseConfig(args, (name) => env[name]);
    } catch (e) {
      error = e;
    }
    assert(error instanceof TypeError, `${args.join(" ")} was accepted`);
    assert(message.test(error.message), error.message);
    // A URL's credentials are never echoed back.
    assert(!error.message.includes("pw@"), error.message);
  }
});
