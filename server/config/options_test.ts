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
