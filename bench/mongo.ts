// `deno task bench --mongo`: the Mongo change-stream source against the
// wire-level test server (tests/mongo_wire_server.ts; no MongoDB server can
// be installed here), with the real driver and real shard actors, in one
// process. Measures the rate at which a backlog of change events reaches the
// shards, and at a paced rate the latency from insert to hand-off.
import { DEFAULT_WINDOW_SPEC, ShardSet } from "../actors/mod.ts";
import { Checkpointer } from "../server/sources/checkpointer.ts";
import { DEFAULT_READING_LIMITS } from "../server/ingest/readings/mod.ts";
import { MongoClient } from "mongodb";
import { MongoSource } from "../server/sources/mongo/mod.ts";
import type { HandOff } from "../server/sources/mongo/mod.ts";
import { MongoWireServer, tokenFor } from "../tests/testing/mongo_wire_server.ts";
import { logger } from "../server/ops/logger.ts";

export interface MongoBenchOptions {
  /** Change events in the backlog. Default 200 000. */
  backlog?: number;
  /** Paced events per second, and for how long. Defaults 5000/s for 5 s. */
  rate?: number;
  seconds?: number;
  sensors?: number;
  /** Most events per hand-off (the source's batch). Default 5000. */
  maxBatch?: number;
}

export interface MongoBenchResult {
  backlog: { events: number; seconds: number; eventsPerSecond: number; batches: number };
  paced: {
    rate: number;
    events: number;
    /** Insert (document timestamp) to the shards having it, ms. */
    endToEnd: { p50: number; p99: number };
    /** What the source adds: driver returned the batch's first event → shards have the batch, ms. */
    added: { p50: number; p99: number };
    batches: number;
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function docs(from: number, count: number, sensors: number, timeMs: number) {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `sensor-${(from + i) % sensors}`,
    group: `plant-${(from + i) % 4}/line-1`,
    timestamp: new Date(timeMs),
    reading: { temperature: 20 + ((from + i) % 100) / 10, humidity: 50, pressure: 1013 },
    status: "ok",
  }));
}

export async function runMongoBench(options: MongoBenchOptions = {}): Promise<MongoBenchResult> {
  const backlog = options.backlog ?? 200_000;
  const rate = options.rate ?? 5_000;
  const seconds = options.seconds ?? 5;
  const sensors = options.sensors ?? 5_000;
  const maxBatch = options.maxBatch ?? 5_000;
  logger.setLevel("warn");
  const wire = new MongoWireServer({ maxBatch }).start();
  // The backlog is in the oplog before the source starts; it resumes from its beginning.
  for (let at = 0; at < backlog; at += 10_000) {
    wire.insert("bench", "readings", docs(at, Math.min(10_000, backlog - at), sensors, Date.now()));
  }
  const shards = ShardSet.create({ count: 16, window: 50, windowSpec: DEFAULT_WINDOW_SPEC });
  const client = new MongoClient(wire.uri(), { monitorCommands: true });
  let onHandOff: (h: HandOff) => void = () => {};
  const source = new MongoSource(shards, {
    client,
    db: "bench",
    collection: "readings",
    checkpointer: new Checkpointer(shards, { source: "mongo" }),
    startToken: tokenFor(0),
    limits: { ...DEFAULT_READING_LIMITS, maxFutureMs: 60_000 },
    maxBatch,
    onHandOff: (h) => onHandOff(h),
  });
  // Shards are flushed as the hub would, so their dirty lists stay small.
  const flusher = setInterval(() => void shards.flushAll(), 100);
  let batches = 0;
  onHandOff = () => batches++;
  const started = performance.now();
  source.start();
  while (source.eventsRead < backlog) await new Promise((r) => setTimeout(r, 5));
  const backlogSeconds = (performance.now() - started) / 1000;
  const backlogBatches = batches;

  // Paced: inserts every 10 ms, each document stamped with its insert time.
  const endToEnd: number[] = [];
  const added: number[] = [];
  batches = 0;
  onHandOff = (h) => {
    batches++;
    added.push(h.handedAt - h.receivedAt);
    const now = Date.now();
    for (const block of h.blocks) {
      for (let i = 0; i < block.length; i++) endToEnd.push(now - block.timeMs[i]);
    }
  };
  const perTick = Math.max(1, Math.round(rate / 100));
  const until = performance.now() + seconds * 1000;
  const before = source.eventsRead;
  let sent = 0;
  for (let next = performance.now(); next < until; next += 10) {
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    wire.insert("bench", "readings", docs(sent, perTick, sensors, Date.now()));
    sent += perTick;
  }
  while (source.eventsRead - before < sent) await new Promise((r) => setTimeout(r, 5));
  clearInterval(flusher);
  await source.stop();
  await client.close();
  await shards.stop();
  wire.stop();
  endToEnd.sort((a, b) => a - b);
  added.sort((a, b) => a - b);
  return {
    backlog: {
      events: backlog,
      seconds: backlogSeconds,
      eventsPerSecond: backlog / backlogSeconds,
      batches: backlogBatches,
    },
    paced: {
      rate,
      events: sent,
      endToEnd: { p50: percentile(endToEnd, 50), p99: percentile(endToEnd, 99) },
      added: { p50: percentile(added, 50), p99: percentile(added, 99) },
      batches,
    },
  };
}

export function renderMongoBench(r: MongoBenchResult): string {
  const ms = (n: number) => n.toFixed(n < 10 ? 2 : 0);
  return [
    `Mongo source (real driver → wire-level test server, 16 shard actors, one process):`,
    `  backlog: ${r.backlog.events} change events handed to the shards in ${
      r.backlog.seconds.toFixed(2)
    } s = ${Math.round(r.backlog.eventsPerSecond)} events/s (${r.backlog.batches} batches)`,
    `  paced ${r.paced.rate}/s for ${r.paced.events} events: insert → shards p50 ${
      ms(r.paced.endToEnd.p50)
    } ms, p99 ${ms(r.paced.endToEnd.p99)} ms; added by the source (batch → shards) p50 ${
      ms(r.paced.added.p50)
    } ms, p99 ${ms(r.paced.added.p99)} ms (${r.paced.batches} batches)`,
  ].join("\n");
}
