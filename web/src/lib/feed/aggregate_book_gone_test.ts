import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { AggregateBook } from "./aggregate_book.ts";
import { pushedAggregates } from "../group/aggregates_source.ts";
import { allocateStates, allocateWindowStates } from "@pulseboard/protocol";
import type { GroupAggregateEntry, ServerFrame } from "@pulseboard/protocol";
import type { GroupAggregates } from "../api/mod.ts";

const entry = (group: string, metric: number, sensors: number): GroupAggregateEntry => ({
  group,
  size: 1,
  metric,
  startMs: sensors === 0 ? 0 : 10_000,
  sensors,
  count: sensors * 2,
  sum: sensors * 40,
  min: sensors === 0 ? 0 : 19,
  max: sensors === 0 ? 0 : 21,
});

function frame(seq: number, aggregates: GroupAggregateEntry[]): ServerFrame {
  const parts = {
    epoch: 1,
    seq,
    serverTimeMs: 50_000 + seq * 100,
    sensors: [],
    windows: allocateWindowStates(0),
    late: [],
    aggregates,
  };
  return seq === 0
    ? {
      type: "snapshot",
      ...parts,
      metrics: [{ index: 0, name: "temperature" }, { index: 1, name: "humidity" }],
      values: allocateStates(0),
      catchUp: false,
      windowSizesMs: [1_000, 10_000, 60_000],
      countWindow: 50,
    } as ServerFrame
    : {
      type: "delta",
      ...parts,
      metrics: [],
      updates: allocateStates(0),
      removed: [],
    } as ServerFrame;
}

Deno.test("an aggregate with no sensors takes the group's metric out of the book and the group view, and an empty group is shown empty as of that frame", () => {
  const book = new AggregateBook();
  book.apply(frame(0, [entry("plant|a", 0, 2), entry("plant|a", 1, 1), entry("plant-b", 0, 3)]));
  const seen: GroupAggregates[] = [];
  pushedAggregates(book)({ group: "plant|a", window: "10s" }, {
    data: (a) => seen.push(a),
    error: (e) => {
      throw e;
    },
  });
  assertEquals(seen.map((s) => s.metrics.map((m) => m.metric)), [["humidity", "temperature"]]);
  // Humidity's last sensor is gone: the view drops it, keeps temperature.
  book.apply(frame(1, [entry("plant|a", 1, 0)]));
  assertEquals(seen.at(-1)!.metrics.map((m) => [m.metric, m.sensors]), [["temperature", 2]]);
  // Then the group's last sensor: nothing left, as of the frame that said so.
  book.apply(frame(2, [entry("plant|a", 0, 0)]));
  assertEquals([seen.at(-1)!.metrics, seen.at(-1)!.asOfMs], [[], 50_200]);
  // Another group is untouched, and a view opened now on the empty one hears nothing.
  const later: GroupAggregates[] = [];
  pushedAggregates(book)({ group: "plant|a", window: "10s" }, {
    data: (a) => later.push(a),
    error: () => {},
  });
  assertEquals(later, []);
  const b: GroupAggregates[] = [];
  pushedAggregates(book)({ group: "plant-b", window: "10s" }, {
    data: (a) => b.push(a),
    error: () => {},
  });
  assertEquals(b.map((x) => x.metrics.map((m) => m.sensors)), [[3]]);
});
