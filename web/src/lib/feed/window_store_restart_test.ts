import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { allocateStates, decodeServerFrame, encodeViewFrame } from "@pulseboard/protocol";
import type { ViewFrameInput } from "@pulseboard/protocol";
import { WindowStore } from "./window_store.ts";

const T = 1_767_225_600_000;
const entry = (index: number) => ({ index, id: `s${index}`, group: "g" });

/** A view frame with fresh values `[sensor, metric, last]` (metrics "t" and "h"), decoded as the connection does. */
function frame(store: WindowStore, parts: Partial<ViewFrameInput>, values: number[][]) {
  const updates = allocateStates(values.length);
  values.forEach(([sensor, metric, last], i) => {
    updates.sensor[i] = sensor;
    updates.metric[i] = metric;
    updates.last[i] =
      updates.avg[i] =
      updates.min[i] =
      updates.max[i] =
        last;
    updates.timeMs[i] = T + last;
  });
  const event = decodeServerFrame(
    encodeViewFrame({
      epoch: 5,
      seq: 1,
      serverTimeMs: T + 1000,
      onStream: true,
      kind: "tick",
      total: 2,
      matching: 2,
      offset: 0,
      rows: null,
      entered: [],
      metrics: [{ index: 0, name: "t" }, { index: 1, name: "h" }],
      statuses: [],
      sparkBucketMs: 1000,
      sparks: [],
      intervalMs: 100,
      ...parts,
      updates,
    }),
    { base: store },
  );
  if (event.type !== "view") throw new Error(event.type);
  return event;
}

/** What the store shows of a row: its values by metric, status, attention and points. */
function rowOf(store: WindowStore, sensor: number) {
  const slot = store.slotOf(sensor);
  const values: Record<string, number> = {};
  const points: Record<string, number[]> = {};
  const out = new Float32Array(60);
  for (const m of store.metrics) {
    if (!m || m.has[slot] !== 1) continue;
    values[m.name] = m.last[slot];
    points[m.name] = Array.from(out.subarray(0, m.spark.read(slot, out)));
  }
  return {
    id: store.ids[slot],
    values,
    points,
    status: store.statuses[slot],
    attention: store.attention[slot],
    eventMs: store.eventMs[slot],
  };
}

Deno.test("a window row whose sensor restarted holds only what the frame brings of the new one, as a row that just entered would", () => {
  const store = new WindowStore();
  store.apply(
    frame(store, {
      kind: "whole",
      rows: Uint32Array.from([1, 2]),
      entered: [entry(1), entry(2)],
      statuses: [[1, "alarm"]],
      attention: [[1, 5], [2, 1]],
    }, [[1, 0, 90], [1, 1, 40], [2, 0, 20]]),
    1000,
  );
  const restarted = { rows: null, entered: [entry(1)], attention: [[1, 1]] as [number, number][] };
  store.apply(frame(store, { ...restarted, restarted: [1] }, [[1, 0, 3]]), 2000);
  // The same frame into a store that never held sensor 1 (it enters there).
  const fresh = new WindowStore();
  fresh.apply(
    frame(fresh, {
      kind: "whole",
      rows: Uint32Array.from([1, 2]),
      entered: [entry(2)],
      attention: [[2, 1]],
    }, [[2, 0, 20]]),
    1000,
  );
  fresh.apply(frame(fresh, restarted, [[1, 0, 3]]), 2000);
  assertEquals(rowOf(store, 1), rowOf(fresh, 1));
  assertEquals(rowOf(store, 1).values, { t: 3 });
  assertEquals(rowOf(store, 2).values, { t: 20 }, "another row keeps its values");
});
