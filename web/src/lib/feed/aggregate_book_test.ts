import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { AggregateBook } from "./aggregate_book.ts";
import { pushedAggregates } from "../group/aggregates_source.ts";
import { allocateWindowStates } from "@pulseboard/protocol";
import type { GroupAggregateEntry, ServerFrame } from "@pulseboard/protocol";
import type { GroupAggregates } from "../api/mod.ts";

const noUpdates = {
  length: 0,
  sensor: new Uint32Array(),
  metric: new Uint16Array(),
  last: new Float64Array(),
  avg: new Float64Array(),
  min: new Float64Array(),
  max: new Float64Array(),
  timeMs: new Float64Array(),
};

function aggregate(over: Partial<GroupAggregateEntry>): GroupAggregateEntry {
  return {
    group: "plant-a",
    size: 1,
    metric: 0,
    startMs: 10_000,
    sensors: 2,
    count: 4,
    sum: 80,
    min: 19,
    max: 21,
    ...over,
  };
}

function snapshot(aggregates: GroupAggregateEntry[]): ServerFrame {
  return {
    type: "snapshot",
    epoch: 1,
    seq: 0,
    serverTimeMs: 50_000,
    sensors: [],
    metrics: [{ index: 0, name: "temperature" }, { index: 1, name: "humidity" }],
    values: noUpdates,
    catchUp: false,
    windowSizesMs: [1_000, 10_000, 60_000],
    aggregates,
    countWindow: 50,
    windows: allocateWindowStates(0),
    late: [],
  };
}

function delta(seq: number, aggregates: GroupAggregateEntry[]): ServerFrame {
  return {
    type: "delta",
    epoch: 1,
    seq,
    serverTimeMs: 50_000 + seq * 100,
    sensors: [],
    metrics: [],
    updates: noUpdates,
    removed: [],
    aggregates,
    windows: allocateWindowStates(0),
    late: [],
  };
}

Deno.test("pushed aggregates reach the group view for its group and window, named, with averages", () => {
  const book = new AggregateBook();
  book.apply(snapshot([aggregate({}), aggregate({ group: "plant-b", sum: 1 })]));
  const seen: GroupAggregates[] = [];
  const stop = pushedAggregates(book)({ group: "plant-a", window: "10s" }, {
    data: (a) => seen.push(a),
    error: (e) => {
      throw e;
    },
  });
  // What the snapshot carried arrives at once.
  assertEquals(seen.length, 1);
  assertEquals(seen[0].windowMs, 10_000);
  assertEquals(seen[0].metrics, [{
    metric: "temperature",
    windowStartMs: 10_000,
    sensors: 2,
    count: 4,
    sum: 80,
    avg: 20,
    min: 19,
    max: 21,
  }]);
  // Other groups and sizes do not wake it; a revision of its own does.
  book.apply(delta(1, [aggregate({ group: "plant-b" }), aggregate({ size: 0 })]));
  assertEquals(seen.length, 1);
  book.apply(delta(2, [aggregate({ metric: 1, sum: 200, count: 4 })]));
  assertEquals(seen.length, 2);
  assertEquals(seen[1].metrics.map((m) => [m.metric, m.avg]), [["humidity", 50], [
    "temperature",
    20,
  ]]);
  assertEquals(seen[1].asOfMs, 50_200);
  stop();
  book.apply(delta(3, [aggregate({ sum: 0 })]));
  assertEquals(seen.length, 2);
  // A new snapshot starts the book over.
  book.apply(snapshot([]));
  const later: GroupAggregates[] = [];
  pushedAggregates(book)({ group: "plant-a", window: "10s" }, {
    data: (a) => later.push(a),
    error: () => {},
  });
  assertEquals(later, []);
});
