import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SensorStore } from "./sensor_store.ts";
import {
  allocateStates,
  decodeServerFrame,
  encodeDelta,
  encodeSnapshot,
} from "@pulseboard/protocol";
import type { SensorEntry } from "@pulseboard/protocol";

const T = 1_767_225_600_000;
const metrics = [{ index: 0, name: "t" }, { index: 1, name: "h" }];

/** Values `[sensor, metric, last]`. */
function states(values: number[][]) {
  const u = allocateStates(values.length);
  values.forEach(([sensor, metric, last], i) => {
    u.sensor[i] = sensor;
    u.metric[i] = metric;
    u.last[i] =
      u.avg[i] =
      u.min[i] =
      u.max[i] =
        last;
    u.timeMs[i] = T + last;
  });
  return u;
}

function delta(
  seq: number,
  o: { sensors?: SensorEntry[]; values: number[][]; restarted?: number[] },
) {
  return decodeServerFrame(encodeDelta({
    epoch: 9,
    seq,
    serverTimeMs: T,
    sensors: o.sensors ?? [],
    metrics: [],
    updates: states(o.values),
    removed: [],
    ...(o.restarted ? { restarted: o.restarted } : {}),
  }));
}

/** What the store shows of sensor `index`: id, values by metric and sparkline points. */
function shown(store: SensorStore, index: number) {
  const values: Record<string, number> = {};
  const points: Record<string, number[]> = {};
  const out = new Float32Array(64);
  for (const m of store.metrics) {
    if (!m || m.has[index] !== 1) continue;
    values[m.name] = m.last[index];
    points[m.name] = Array.from(out.subarray(0, m.spark.read(index, out)));
  }
  return { id: store.ids[index], values, points, sensors: store.sensorCount };
}

function storeWith(sensors: SensorEntry[], values: number[][]) {
  const store = new SensorStore();
  store.apply(
    decodeServerFrame(
      encodeSnapshot({
        epoch: 9,
        seq: 1,
        serverTimeMs: T,
        sensors,
        metrics,
        values: states(values),
      }),
    ),
    0,
  );
  return store;
}

Deno.test("a sensor the feed says restarted shows only its new values and points, as one that never sent the old ones", () => {
  const a = { index: 0, id: "a", group: "g" }, b = { index: 1, id: "b", group: "g" };
  const store = storeWith([a, b], [[0, 0, 90], [0, 1, 40], [1, 0, 20]]);
  store.apply(delta(2, { values: [[0, 0, 95]] }), 1);
  store.apply(delta(3, { sensors: [a], values: [[0, 0, 3]], restarted: [0] }), 2);
  // Recomputed: a fleet where "a" only ever sent 3.
  const reference = storeWith([b], [[1, 0, 20]]);
  reference.apply(delta(2, { values: [] }), 1);
  reference.apply(delta(3, { sensors: [a], values: [[0, 0, 3]] }), 2);
  assertEquals(shown(store, 0), shown(reference, 0));
  assertEquals(shown(store, 0).values, { t: 3 });
  assertEquals(shown(store, 1), shown(reference, 1));
});
