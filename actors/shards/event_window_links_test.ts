import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { EventWindowStore } from "./event_window_store.ts";
import { WINDOW_FINAL } from "../../protocol/columns.ts";

// The windows' chains are linked both ways and each owner keeps its latest
// window's start beside the chain's head. These tests open windows in any
// order (readings older than the newest open windows in the middle of a
// chain), close them in end order, forget owners while their windows wait to
// close and hand the owner's number to a new sensor metric at once, and
// check every window against a recomputation from the plain list of readings.

const spec = { sizesMs: [1_000, 10_000, 60_000], graceMs: 5_000 };

interface Expected {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** From scratch: lateness against the newest time so far, then every size's window of each reading. */
function model(readings: readonly { sensor: number; value: number; t: number }[]) {
  let newest = -Infinity;
  const windows = new Map<string, Expected>();
  for (const { sensor, value, t } of readings) {
    if (Math.floor(t / 1_000) * 1_000 + 1_000 <= newest - spec.graceMs) continue;
    spec.sizesMs.forEach((size, k) => {
      const key = `${sensor}/${k}/${Math.floor(t / size) * size}`;
      const w = windows.get(key) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
      w.count++;
      w.sum += value;
      w.min = Math.min(w.min, value);
      w.max = Math.max(w.max, value);
      windows.set(key, w);
    });
    newest = Math.max(newest, t);
  }
  return { windows, watermark: newest - spec.graceMs };
}

Deno.test("windows opened out of order, closed in end order, and owners forgotten and reused at once: every live sensor's windows equal a recomputation, and a forgotten one's never go out again", () => {
  const step = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant("add" as const),
        owner: fc.integer({ min: 0, max: 1 }),
        value: fc.integer({ min: -500, max: 500 }),
        dt: fc.integer({ min: -5_500, max: 3_000 }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("take" as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("forget" as const),
        owner: fc.integer({ min: 0, max: 3 }),
      }),
    },
  );
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 250, size: "large" }), (steps) => {
      const store = new EventWindowStore(spec, { takeAtLeast: 3 });
      // Per owner number: the sensor (an incarnation) whose windows it holds now.
      const sensorOf: number[] = [];
      let nextSensor = 0;
      for (let owner = 0; owner < 2; owner++) {
        sensorOf.push(nextSensor);
        store.windowsFor(nextSensor++, 0, owner);
      }
      const forgotten = new Set<number>();
      const readings: { sensor: number; value: number; t: number }[] = [];
      const finals = new Map<string, Expected>();
      let t = 1_700_000_000_000;
      const take = () => {
        const out = store.take();
        for (let i = 0; i < out.length; i++) {
          const sensor = out.sensor[i];
          assert(!forgotten.has(sensor), `a window of forgotten sensor ${sensor} went out`);
          if (!(out.flags[i] & WINDOW_FINAL)) continue;
          const key = `${sensor}/${out.size[i]}/${out.startMs[i]}`;
          assert(!finals.has(key), `${key} went out final twice`);
          finals.set(key, {
            count: out.count[i],
            sum: out.sum[i],
            min: out.min[i],
            max: out.max[i],
          });
        }
      };
      const check = () => {
        const expected = model(readings);
        // The windows still held, then what a take hands out, are together every window of the live sensors.
        const seen = new Set<string>();
        for (let owner = 0; owner < 2; owner++) {
          spec.sizesMs.forEach((size, k) => {
            for (const w of store.heldWindows(owner, k)) {
              const key = `${sensorOf[owner]}/${k}/${w.startMs}`;
              assert(!finals.has(key), `${key} held after it went out final`);
              assert(!seen.has(key), `${key} held twice`);
              seen.add(key);
              const e = expected.windows.get(key);
              assert(e, `held window ${key} was invented`);
              assertEquals([w.count, w.sum, w.min, w.max], [e.count, e.sum, e.min, e.max], key);
              assertEquals(w.final, w.startMs + size <= expected.watermark, `${key} final`);
            }
          });
        }
        for (const [key, w] of expected.windows) {
          if (forgotten.has(Number(key.split("/")[0])) || seen.has(key)) continue;
          const e = finals.get(key);
          assert(e, `window ${key} is neither held nor handed over final`);
          assertEquals([e.count, e.sum, e.min, e.max], [w.count, w.sum, w.min, w.max], key);
        }
        for (const key of finals.keys()) {
          assert(expected.windows.has(key), `final ${key} was invented`);
        }
      };
      for (const s of steps) {
        if (s.kind === "add") {
          t = Math.max(0, t + s.dt);
          if (store.isLate(t)) continue;
          store.add(s.owner, s.value, t);
          readings.push({ sensor: sensorOf[s.owner], value: s.value, t });
        } else if (s.kind === "take") take();
        else {
          forgotten.add(sensorOf[s.owner]);
          store.forget(s.owner);
          sensorOf[s.owner] = nextSensor;
          store.windowsFor(nextSensor++, 0, s.owner);
        }
        check();
      }
    }),
    { numRuns: 300 },
  );
});
