// The source against the wire-level test server, with the real driver and shard actors.
import { MongoClient } from "mongodb";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { MongoWireServer, tokenFor } from "../../../tests/testing/mongo_wire_server.ts";
import { eventually } from "../../../tests/testing/recompute.ts";
import { DEFAULT_WINDOW_SPEC, ShardSet } from "../../../actors/mod.ts";
import { Checkpointer } from "../checkpointer.ts";
import { DEFAULT_READING_LIMITS } from "../../ingest/readings/mod.ts";
import { MongoSource } from "./mongo_source.ts";
import type { HandOff, MongoSourceOptions } from "./mongo_source.ts";
import { STANDALONE_HINT } from "./errors.ts";

function setUp(wire: MongoWireServer, options: Partial<MongoSourceOptions> = {}) {
  const shards = ShardSet.create({ count: 4, window: 50, windowSpec: DEFAULT_WINDOW_SPEC });
  const client = new MongoClient(wire.uri(), { monitorCommands: true });
  const handOffs: HandOff[] = [];
  const source = new MongoSource(shards, {
    client,
    db: "db",
    collection: "c",
    checkpointer: new Checkpointer(shards, { source: "mongo" }),
    limits: DEFAULT_READING_LIMITS,
    onHandOff: (h) => handOffs.push(h),
    ...options,
  });
  const stop = async () => {
    await source.stop();
    await client.close();
    await shards.stop();
  };
  return { source, handOffs, stop };
}

const docs = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    sensorId: `s${i % 50}`,
    timestamp: new Date(Date.now() - 60_000 + i),
    reading: { v: i },
  }));

Deno.test("a backlog of change events reaches the shards in batches of what the driver buffered", async () => {
  const wire = new MongoWireServer({ maxBatch: 2_000 }).start();
  wire.insert("db", "c", docs(7_000));
  // Resume from the start of the history: the backlog comes through the stream, not a scan.
  const { source, handOffs, stop } = setUp(wire, { startToken: tokenFor(0), maxBatch: 3_000 });
  try {
    source.start();
    await eventually(() => source.readingsRead === 7_000, 10_000, "backlog");
    assert(handOffs.every((h) => h.events <= 3_000), "never more than maxBatch at once");
    assert(handOffs.length <= 6, `${handOffs.length} hand-offs for 7,000 events`);
    assertEquals(handOffs.reduce((n, h) => n + h.readings, 0), 7_000);
    assertEquals(source.events, { insert: 7_000 });
    assertEquals(source.resyncs, 0);
  } finally {
    await stop();
    wire.stop();
  }
});

Deno.test("a standalone server found by the stream stops the source with the hint", async () => {
  const wire = new MongoWireServer({ standalone: true }).start();
  let fatal: Error | null = null;
  const { source, stop } = setUp(wire, {
    startToken: tokenFor(0),
    onFatal: (error) => (fatal = error),
  });
  try {
    source.start();
    await eventually(() => fatal !== null, 5_000, "fatal");
    assertEquals(fatal!.message, STANDALONE_HINT);
    assertEquals(source.state, "failed");
  } finally {
    await stop();
    wire.stop();
  }
});
