import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { allocateStates, decodeServerFrame, encodeViewFrame } from "@pulseboard/protocol";
import type { ViewFrameInput } from "@pulseboard/protocol";
import { WindowStore } from "./window_store.ts";

/** A frame as the server would send it, decoded against the store as the connection does. */
function frame(
  store: WindowStore,
  parts: Partial<ViewFrameInput> & {
    values?: [sensor: number, last: number, base?: number][];
  },
) {
  const values = parts.values ?? [];
  const updates = allocateStates(values.length);
  values.forEach(([sensor, last], i) => {
    updates.sensor[i] = sensor;
    updates.last[i] =
      updates.avg[i] =
      updates.min[i] =
      updates.max[i] =
        last;
    updates.timeMs[i] = 1_767_225_600_000 + i;
  });
  const previous = {
    has: values.map(([, , base]) => (base === undefined ? 0 : 1)),
    last: values.map(([, , base]) => base ?? 0),
    avg: values.map(([, , base]) => base ?? 0),
    min: values.map(([, , base]) => base ?? 0),
    max: values.map(([, , base]) => base ?? 0),
  };
  const bytes = encodeViewFrame({
    epoch: 5,
    seq: 1,
    serverTimeMs: 1_767_225_601_000,
    onStream: true,
    kind: "tick",
    total: 100,
    matching: 100,
    offset: 0,
    rows: null,
    entered: [],
    metrics: [{ index: 0, name: "t" }],
    statuses: [],
    sparkBucketMs: 1000,
    sparks: [],
    intervalMs: 100,
    ...parts,
    updates,
    previous,
  });
  const event = decodeServerFrame(bytes, { base: store });
  if (event.type !== "view") throw new Error(event.type);
  return event;
}

const entry = (index: number) => ({ index, id: `s${index}`, group: "g" });

Deno.test("a window store holds only its rows' sensors, in slots it reuses as rows leave and enter", () => {
  const store = new WindowStore();
  store.apply(
    frame(store, {
      kind: "whole",
      rows: Uint32Array.from([7, 3, 9]),
      entered: [entry(7), entry(3), entry(9)],
      values: [[7, 70], [3, 30], [9, 90]],
      sparks: [{
        metric: 0,
        counts: [2, 0, 1],
        newestBucket: [1_767_225_600, 0, 1_767_225_601],
        points: [69, 70, 90],
      }],
      countWindow: 50,
    }),
    1000,
  );
  assertEquals([store.size, store.total, store.countWindow], [3, 100, 50]);
  const t = store.metrics[0]!;
  assertEquals([7, 3, 9].map((s) => t.last[store.slotOf(s)]), [70, 30, 90]);
  const out = new Float32Array(60);
  assertEquals(Array.from(out.subarray(0, t.spark.read(store.slotOf(7), out))), [69, 70]);
  const slot9 = store.slotOf(9);
  // Staying rows against what the store holds; 3 leaves, 4 enters in its slot.
  store.apply(
    frame(store, {
      rows: Uint32Array.from([9, 7, 4]),
      entered: [entry(4)],
      values: [[4, 40], [9, 91, 90]],
    }),
    2000,
  );
  assertEquals([store.slotOf(3), store.size], [-1, 3]);
  assertEquals(store.slotOf(9), slot9, "a staying row keeps its slot");
  assertEquals([9, 7, 4].map((s) => t.last[store.slotOf(s)]), [91, 70, 40]);
  assertEquals(
    Array.from(out.subarray(0, t.spark.read(store.slotOf(4), out))),
    [40],
    "fresh points",
  );
  assertEquals(store.capacity, 64, "slots, not sensor indexes");
  assertEquals([store.slotAt(0), store.slotAt(2), store.slotAt(3)], [slot9, store.slotOf(4), -1]);
});

Deno.test("a whole window forgets every row it does not bring; a followed sensor hears its updates", () => {
  const store = new WindowStore();
  const heard: number[] = [];
  store.follow("s2", (_metric, _time, value) => heard.push(value));
  store.apply(
    frame(store, {
      kind: "whole",
      rows: Uint32Array.from([1, 2]),
      entered: [entry(1), entry(2)],
      values: [[1, 1], [2, 2]],
    }),
    0,
  );
  store.apply(frame(store, { values: [[2, 3, 2]] }), 100);
  store.apply(
    frame(store, {
      kind: "whole",
      rows: Uint32Array.from([5]),
      entered: [entry(5)],
      values: [[5, 5]],
    }),
    200,
  );
  assertEquals([store.size, store.slotOf(1), store.slotOf(2)], [1, -1, -1]);
  assertEquals(heard, [2, 3]);
});

Deno.test("a row is marked changed only when a value moves past its metric's step, or its attention moves", () => {
  const store = new WindowStore({ stepOf: () => 0.1 });
  store.apply(
    frame(store, {
      kind: "whole",
      rows: Uint32Array.from([1]),
      entered: [entry(1)],
      values: [[1, 21.01]],
      attention: [[1, 1]],
    }),
    1000,
  );
  const slot = store.slotOf(1);
  assertEquals([store.changedAt[slot], store.attention[slot], store.attentionChangedAt[slot]], [
    0,
    1,
    0,
  ]);
  store.apply(frame(store, { values: [[1, 21.04, 21.01]] }), 2000);
  assertEquals(store.changedAt[slot], 0, "21.01 → 21.04 is the same 0.1 step");
  store.apply(frame(store, { values: [[1, 21.06, 21.04]] }), 3000);
  assertEquals(store.changedAt[slot], 3000, "21.04 → 21.06 shows as 21.0 → 21.1");
  store.apply(frame(store, { attention: [[1, 5]] }), 4000);
  assertEquals([store.attention[slot], store.attentionChangedAt[slot]], [5, 4000]);
});

Deno.test("a window store keeps the topic's attention counts as last told, until a reset", () => {
  const store = new WindowStore();
  assertEquals(store.attentionCounts, null);
  store.apply(frame(store, { kind: "whole", attentionCounts: [0, 90, 4, 3, 2, 1] }), 1000);
  assertEquals(store.attentionCounts, [0, 90, 4, 3, 2, 1]);
  // A tick that does not carry them leaves them as they were.
  store.apply(frame(store, {}), 1100);
  assertEquals(store.attentionCounts, [0, 90, 4, 3, 2, 1]);
  store.apply(frame(store, { attentionCounts: [0, 89, 4, 3, 2, 2] }), 1200);
  assertEquals(store.attentionCounts, [0, 89, 4, 3, 2, 2]);
  store.reset();
  assertEquals(store.attentionCounts, null);
});

Deno.test("a row's newest event time moves with a time told for a hidden metric, never back", () => {
  const store = new WindowStore();
  store.apply(
    frame(store, {
      kind: "whole",
      rows: Uint32Array.from([4]),
      entered: [entry(4)],
      values: [[4, 1]],
    }),
    1000,
  );
  const slot = store.slotOf(4);
  const first = store.eventMs[slot];
  store.apply(frame(store, { seen: [[4, first + 5_000]] }), 1100);
  assertEquals(store.eventMs[slot], first + 5_000);
  store.apply(frame(store, { seen: [[4, first + 1_000], [99, first + 9_000]] }), 1200);
  assertEquals(store.eventMs[slot], first + 5_000, "an older time changes nothing");
});
