import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { SensorStore } from "./sensor_store.ts";
import { decodeServerFrame, encodeDelta, encodeSnapshot } from "@pulseboard/protocol";
import type { MetricStates, ServerFrame } from "@pulseboard/protocol";

function states(rows: [sensor: number, metric: number, last: number][]): MetricStates {
  const n = rows.length;
  const s: MetricStates = {
    length: n,
    sensor: new Uint32Array(n),
    metric: new Uint16Array(n),
    last: new Float64Array(n),
    avg: new Float64Array(n),
    min: new Float64Array(n),
    max: new Float64Array(n),
    timeMs: new Float64Array(n),
  };
  rows.forEach(([sensor, metric, last], i) => {
    s.sensor[i] = sensor;
    s.metric[i] = metric;
    s.last[i] = last;
    s.avg[i] = last / 2;
    s.min[i] = last - 1;
    s.max[i] = last + 1;
    s.timeMs[i] = 1000 + i;
  });
  return s;
}

const sensors = [
  { index: 0, id: "sensor_10", group: "plant-a/line-1" },
  { index: 1, id: "sensor_2", group: "plant-b/line-1" },
];
const metrics = [{ index: 0, name: "temperature" }, { index: 1, name: "humidity" }];

function snapshot(seq = 5) {
  return decodeServerFrame(
    encodeSnapshot({
      epoch: 9,
      seq,
      serverTimeMs: 0,
      sensors,
      metrics,
      values: states([[0, 0, 20], [1, 1, 40]]),
    }),
  );
}

function delta(
  seq: number,
  rows: [number, number, number][],
  extra: { removed?: number[]; epoch?: number } = {},
) {
  return decodeServerFrame(encodeDelta({
    epoch: extra.epoch ?? 9,
    seq,
    serverTimeMs: 0,
    sensors: seq === 6 ? [{ index: 2, id: "sensor_1", group: "default" }] : [],
    metrics: [],
    updates: states(rows),
    removed: extra.removed ?? [],
  }));
}

Deno.test("store applies a snapshot then contiguous deltas to the values they carry", () => {
  const store = new SensorStore();
  assertEquals(store.apply(snapshot(), 100), "applied");
  assertEquals(store.seq, 5);
  assertEquals(store.sensorCount, 2);
  assertEquals(store.metrics[0]!.last[0], 20);
  assertEquals(store.metrics[1]!.has[0], 0, "sensor 0 has no humidity yet");
  assertEquals(store.apply(delta(6, [[0, 0, 21], [2, 1, 55]]), 200), "applied");
  assertEquals(store.metrics[0]!.last[0], 21);
  assertEquals(store.metrics[0]!.avg[0], 10.5);
  assertEquals(store.metrics[1]!.last[2], 55);
  assertEquals(store.changedAt[2], 200);
  assertEquals(store.changedAt[1], 100);
  assertEquals(store.updatesApplied, 2, "snapshot values are not counted as updates");
  // Numeric-aware order by id: sensor_1, sensor_2, sensor_10.
  assertEquals(store.order.map((i) => store.ids[i]), ["sensor_1", "sensor_2", "sensor_10"]);
});

Deno.test("store refuses a delta after a gap or from another epoch, changing nothing", () => {
  const store = new SensorStore();
  store.apply(snapshot(), 0);
  assertEquals(store.apply(delta(7, [[0, 0, 99]]), 1), "gap");
  assertEquals(store.apply(delta(6, [[0, 0, 99]], { epoch: 10 }), 1), "gap");
  assertEquals(store.metrics[0]!.last[0], 20);
  assertEquals(store.seq, 5);
});

Deno.test("store drops removed sensors and a new snapshot replaces everything", () => {
  const store = new SensorStore();
  store.apply(snapshot(), 0);
  assertEquals(store.metrics[0]!.has[0], 1);
  store.apply(delta(6, [], { removed: [0] }), 1);
  assertEquals(store.sensorCount, 2);
  assert(!store.order.includes(0));
  assertEquals(store.metrics[0]!.has[0], 0, "its values are gone with it");
  store.apply(snapshot(40), 2);
  assertEquals(store.seq, 40);
  assertEquals(store.sensorCount, 2);
  assertEquals(store.ids[2], undefined);
});

Deno.test("store accepts a recovered subscription only at its own position", () => {
  const store = new SensorStore();
  store.apply(snapshot(), 0);
  const subscribed = (epoch: number, seq: number, recovered: boolean): ServerFrame => ({
    type: "subscribed",
    topic: "*",
    ids: [1],
    epoch,
    seq,
    recovered,
  });
  assertEquals(store.apply(subscribed(9, 5, true), 1), "applied");
  assertEquals(store.apply(subscribed(9, 4, true), 1), "gap");
  assertEquals(store.apply(subscribed(8, 5, true), 1), "gap");
  assertEquals(store.apply(subscribed(1, 0, false), 1), "applied", "a snapshot follows");
  assertEquals(store.apply(delta(6, [[0, 0, 30]]), 2), "applied");
  assertEquals(store.metrics[0]!.last[0], 30);
});

Deno.test("store keeps a sparkline ring per metric and sensor from snapshot and deltas", () => {
  const store = new SensorStore({ spark: { points: 8, bucketMs: 1 } });
  store.apply(snapshot(), 0);
  store.apply(delta(6, [[0, 0, 21], [0, 0, 22]]), 1);
  const into = new Float32Array(8);
  const n = store.metrics[0]!.spark.read(0, into);
  // Snapshot value at t=1000, then the two delta rows at t=1000 (same bucket: latest wins) and 1001.
  assertEquals(Array.from(into.subarray(0, n)), [21, 22]);
});

Deno.test("store sends the followed sensor's updates to its sink, by id across snapshots", () => {
  const store = new SensorStore();
  const seen: [string, number, number][] = [];
  store.follow("sensor_1", (metric, timeMs, value) => seen.push([metric, timeMs, value]));
  store.apply(snapshot(), 0);
  // sensor_1 first appears (index 2) in delta 6.
  store.apply(delta(6, [[2, 1, 55], [0, 0, 21]]), 1);
  assertEquals(seen, [["humidity", 1000, 55]]);
  store.apply(snapshot(40), 2);
  store.apply(delta(41, [[2, 0, 30]]), 3);
  assertEquals(seen.length, 1, "after a fresh snapshot without the sensor, nothing follows");
  store.follow(null);
  store.apply(delta(42, [[0, 0, 1]]), 4);
  assertEquals(seen.length, 1);
});

Deno.test("sparklines outlive a fresh snapshot for the same ids, not for a new id at an index", () => {
  const store = new SensorStore({ spark: { points: 8, bucketMs: 1 } });
  store.apply(snapshot(), 0);
  store.apply(delta(6, [[0, 0, 21], [0, 0, 22]]), 1);
  store.apply(snapshot(40), 2); // same ids: sensor_10 keeps its recent values
  const into = new Float32Array(8);
  const spark = () => Array.from(into.subarray(0, store.metrics[0]!.spark.read(0, into)));
  assertEquals(spark(), [21, 22]);
  const other = decodeServerFrame(encodeSnapshot({
    epoch: 10,
    seq: 1,
    serverTimeMs: 0,
    sensors: [{ index: 0, id: "elsewhere", group: "g" }],
    metrics,
    values: states([]),
  }));
  store.apply(other, 3);
  assertEquals(spark(), []);
});

Deno.test("store keeps how many readings avg, min and max cover, from each snapshot", () => {
  const store = new SensorStore();
  assertEquals(store.countWindow, 0, "unknown before a snapshot");
  const frame = (countWindow?: number) =>
    decodeServerFrame(encodeSnapshot({
      epoch: 1,
      seq: 0,
      serverTimeMs: 0,
      sensors,
      metrics,
      values: states([[0, 0, 20]]),
      countWindow,
    }));
  store.apply(frame(50), 0);
  assertEquals(store.countWindow, 50);
  store.apply(frame(), 0); // a server that does not say
  assertEquals(store.countWindow, 0);
});
