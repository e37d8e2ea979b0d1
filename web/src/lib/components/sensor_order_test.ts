import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SensorStore } from "../feed/sensor_store.ts";
import { decodeServerFrame, encodeSnapshot } from "@pulseboard/protocol";
import { nextSort, sensorOrder } from "./sensor_order.ts";
import type { RowFilter, SortSpec } from "./sensor_order.ts";

// Five sensors; temperature: s1=20, s2=25, s3=20, s10=30, s4 has none.
function store(): SensorStore {
  const sensors = [
    { index: 0, id: "s10", group: "plant-a/line-1" },
    { index: 1, id: "s2", group: "plant-b/line-1" },
    { index: 2, id: "s1", group: "plant-a/line-2" },
    { index: 3, id: "s3", group: "plant-a/line-10" },
    { index: 4, id: "s4", group: "plant-ab" },
  ];
  const rows: [number, number][] = [[0, 30], [1, 25], [2, 20], [3, 20]];
  const n = rows.length;
  const values = {
    length: n,
    sensor: Uint32Array.from(rows.map((r) => r[0])),
    metric: new Uint16Array(n),
    last: Float64Array.from(rows.map((r) => r[1])),
    avg: Float64Array.from(rows.map((r) => -r[1])),
    min: new Float64Array(n),
    max: new Float64Array(n),
    timeMs: new Float64Array(n).fill(1000),
  };
  const s = new SensorStore();
  const frame = encodeSnapshot({
    epoch: 1,
    seq: 1,
    serverTimeMs: 0,
    sensors,
    metrics: [{ index: 0, name: "temperature" }],
    values,
  });
  s.apply(decodeServerFrame(frame), 0);
  return s;
}

const all: RowFilter = { text: "", group: null };
const ids = (s: SensorStore, sort: SortSpec, filter = all) =>
  sensorOrder(s, sort, { filter, nowMs: 0 }).map((i) => s.ids[i]);
const temperature = (direction: "asc" | "desc"): SortSpec => ({
  column: { kind: "metric", metric: "temperature", field: "last" },
  direction,
});

Deno.test("order by id is numeric-aware in both directions", () => {
  const s = store();
  assertEquals(ids(s, { column: { kind: "id" }, direction: "asc" }), [
    "s1",
    "s2",
    "s3",
    "s4",
    "s10",
  ]);
  assertEquals(ids(s, { column: { kind: "id" }, direction: "desc" }), [
    "s10",
    "s4",
    "s3",
    "s2",
    "s1",
  ]);
});

Deno.test("order by a metric breaks ties by id and puts missing values last either way", () => {
  const s = store();
  assertEquals(ids(s, temperature("asc")), ["s1", "s3", "s2", "s10", "s4"]);
  assertEquals(ids(s, temperature("desc")), ["s10", "s2", "s1", "s3", "s4"]);
  const avg: SortSpec = {
    column: { kind: "metric", metric: "temperature", field: "avg" },
    direction: "asc",
  };
  assertEquals(ids(s, avg), ["s10", "s2", "s1", "s3", "s4"]);
});

Deno.test("order by group is numeric-aware with ties by id", () => {
  const s = store();
  assertEquals(ids(s, { column: { kind: "group" }, direction: "asc" }), [
    "s10",
    "s1",
    "s3",
    "s4",
    "s2",
  ]);
});

Deno.test("filter by id substring (any case) and by group prefix, not by string prefix", () => {
  const s = store();
  const byId: SortSpec = { column: { kind: "id" }, direction: "asc" };
  assertEquals(ids(s, byId, { text: "S1", group: null }), ["s1", "s10"]);
  assertEquals(ids(s, byId, { text: "", group: "plant-a" }), ["s1", "s3", "s10"]);
  assertEquals(ids(s, byId, { text: "1", group: "plant-a/line-1" }), ["s10"]);
});

Deno.test("a header click flips the same column; a new metric starts highest first", () => {
  const start: SortSpec = { column: { kind: "id" }, direction: "asc" };
  assertEquals(nextSort(start, { kind: "id" }).direction, "desc");
  assertEquals(nextSort(start, { kind: "metric", metric: "t", field: "last" }).direction, "desc");
  assertEquals(nextSort(start, { kind: "age" }).direction, "desc");
  assertEquals(nextSort(start, { kind: "group" }).direction, "asc");
});
