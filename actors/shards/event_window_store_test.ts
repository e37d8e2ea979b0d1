import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { EventWindowStore, SLOT_LENGTH } from "./event_window_store.ts";
import { WINDOW_CHANGED, WINDOW_FINAL } from "../../protocol/columns.ts";
import type { WindowStates } from "./event_window_store.ts";

const spec = { sizesMs: [1_000, 10_000, 60_000], graceMs: 5_000 };

interface Stats {
  count: number;
  sum: number;
  min: number;
  max: number;
  values: number[];
}

/**
 * Straightforward model: decide lateness against the newest time so far
 * (each reading's no later than when it was accepted), then bucket.
 */
function recompute(
  readings: { sensor: number; value: number; t: number; accepted?: number }[],
) {
  let newest = -Infinity;
  let late = 0;
  const windows = new Map<string, Stats>();
  for (const { sensor, value, t, accepted = Infinity } of readings) {
    const firstEnd = Math.floor(t / 1000) * 1000 + 1000;
    if (firstEnd <= newest - spec.graceMs) {
      late++;
      continue;
    }
    spec.sizesMs.forEach((size, k) => {
      const key = `${sensor}/${k}/${Math.floor(t / size) * size}`;
      const w = windows.get(key) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity, values: [] };
      w.count++;
      w.sum += value;
      w.min = Math.min(w.min, value);
      w.max = Math.max(w.max, value);
      w.values.push(value);
      windows.set(key, w);
    });
    newest = Math.max(newest, Math.min(t, accepted));
  }
  return { windows, late, watermark: newest - spec.graceMs, newest };
}

function entries(states: WindowStates) {
  return Array.from({ length: states.length }, (_, i) => ({
    key: `${states.sensor[i]}/${states.size[i]}/${states.startMs[i]}`,
    final: (states.flags[i] & WINDOW_FINAL) !== 0,
    changed: (states.flags[i] & WINDOW_CHANGED) !== 0,
    count: states.count[i],
    sum: states.sum[i],
    min: states.min[i],
    max: states.max[i],
    std: states.std[i],
  }));
}

/** A published window's numbers, to compare to the bit. */
const numbers = (e: ReturnType<typeof entries>[number]) => [e.count, e.sum, e.min, e.max, e.std];

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/** A take's least share of what is due: a few windows (bursts spread over many takes), or all. */
const takeAtLeast = fc.constantFrom(1, 2, 7, Infinity);

Deno.test("event-time windows equal a recomputation: late readings dropped and counted, each closed window published final once, however few windows a take hands out, with readings stamped ahead of their acceptance", () => {
  const reading = fc.record({
    // Enough sensors that an end holds more windows than a small take hands out.
    sensor: fc.integer({ min: 0, max: 9 }),
    value: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    // Mostly forward in time, sometimes back (late or within grace).
    step: fc.integer({ min: -9_000, max: 2_500 }),
    // Mostly stamped at the time it is accepted, sometimes ahead of it (a fast clock).
    ahead: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 12_000 })),
    takeAfter: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(reading, { minLength: 1, maxLength: 300 }), takeAtLeast, (steps, most) => {
      const store = new EventWindowStore(spec, { takeAtLeast: most });
      const perSensor = new Map<number, number>();
      let t = 1_700_000_000_000;
      const readings: { sensor: number; value: number; t: number; accepted?: number }[] = [];
      const published: ReturnType<typeof entries> = [];
      for (const step of steps) {
        t = Math.max(0, t + step.step);
        const stamped = t + step.ahead;
        readings.push({ sensor: step.sensor, value: step.value, t: stamped, accepted: t });
        let windows = perSensor.get(step.sensor);
        if (windows === undefined) {
          perSensor.set(step.sensor, windows = store.windowsFor(step.sensor, 0));
        }
        if (store.isLate(stamped)) store.lateDropped++;
        else store.add(windows, step.value, stamped, t);
        if (step.takeAfter) published.push(...entries(store.take()));
      }
      // What is due goes out over takes of at least `most`: at most 3 windows a reading (a
      // size each), each due twice (ended, then closed).
      const takes = Math.ceil((6 * steps.length) / most) + 1;
      for (let i = 0; i < takes; i++) published.push(...entries(store.take()));
      const model = recompute(readings);
      assertEquals(store.lateDropped, model.late);

      const finals = new Map<string, number>();
      const last = new Map<string, (typeof published)[number]>();
      for (const e of published) {
        assert(!finals.has(e.key), `window ${e.key} published after it was final`);
        if (e.final) finals.set(e.key, 1);
        last.set(e.key, e);
      }
      for (const [key, w] of model.windows) {
        const [, k, start] = key.split("/").map(Number);
        const end = start + spec.sizesMs[k];
        const e = last.get(key);
        if (end > model.newest) {
          assert(e === undefined, `window ${key} published before it ended`);
          continue;
        }
        assert(e, `ended window ${key} never published`);
        assertEquals(e.final, end <= model.watermark, `window ${key} final flag`);
        assertEquals(e.count, w.count);
        assertEquals(e.min, w.min);
        assertEquals(e.max, w.max);
        assert(close(e.sum, w.sum), `sum of ${key}: ${e.sum} vs ${w.sum}`);
        const mean = w.sum / w.count;
        const variance = w.values.reduce((a, v) => a + (v - mean) ** 2, 0) / w.count;
        assert(
          Math.abs(e.std - Math.sqrt(variance)) <= 1e-6 * Math.max(1, Math.sqrt(variance)),
          `std of ${key}: ${e.std} vs ${Math.sqrt(variance)}`,
        );
      }
      for (const key of last.keys()) assert(model.windows.has(key), `window ${key} was invented`);
    }),
    { numRuns: 300 },
  );
});

Deno.test("takes that hand out a part of what is due delay windows, oldest end first, and change none: each window goes final once with the values of takes that hand out all", () => {
  const reading = fc.record({
    sensor: fc.integer({ min: 0, max: 19 }),
    value: fc.integer({ min: -1000, max: 1000 }),
    // Forward, now and then a little back (within the grace or late).
    step: fc.oneof(fc.integer({ min: 0, max: 1_500 }), fc.integer({ min: -6_000, max: 0 })),
    takeAfter: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.array(reading, { minLength: 1, maxLength: 400 }),
      fc.integer({ min: 1, max: 8 }),
      (steps, most) => {
        const run = (takeAtLeast: number) => {
          const store = new EventWindowStore(spec, { takeAtLeast });
          const owners = new Map<number, number>();
          const finals = new Map<string, ReturnType<typeof entries>[number]>();
          const order: number[] = [];
          const hand = (states: WindowStates) => {
            for (const e of entries(states)) {
              if (!e.final) continue;
              assert(!finals.has(e.key), `window ${e.key} final twice`);
              finals.set(e.key, e);
              order.push(Number(e.key.split("/")[2]) + spec.sizesMs[Number(e.key.split("/")[1])]);
            }
          };
          let t = 1_700_000_000_000;
          for (const step of steps) {
            t += step.step;
            let owner = owners.get(step.sensor);
            if (owner === undefined) {
              owners.set(step.sensor, owner = store.windowsFor(step.sensor, 0));
            }
            if (store.isLate(t)) store.lateDropped++;
            else store.add(owner, step.value, t);
            if (step.takeAfter) hand(store.take());
          }
          // Then time moves on past every window: all of them close.
          for (const owner of owners.values()) store.add(owner, 0, t + 200_000);
          for (let i = 0; i < (6 * steps.length) / takeAtLeast + 2; i++) hand(store.take());
          return { finals, order, late: store.lateDropped };
        };
        const all = run(Infinity);
        const part = run(most);
        assertEquals(part.late, all.late);
        assertEquals(part.finals.size, all.finals.size);
        // The values, not `changed`: a window closed before it went out ended goes final changed.
        const values = (e?: ReturnType<typeof entries>[number]) =>
          e && { ...e, changed: undefined };
        for (const [key, e] of all.finals) {
          assertEquals(values(part.finals.get(key)), values(e), `window ${key}`);
        }
        // Closed oldest end first, whatever the share.
        for (let i = 1; i < part.order.length; i++) {
          assert(
            part.order[i] >= part.order[i - 1],
            `a window ending ${part.order[i]} went after ${part.order[i - 1]}`,
          );
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("a reading stamped ahead of when it was accepted makes no other reading late: its windows stay open until accepted readings get there", () => {
  const now = 1_700_000_000_000;
  // Without the bound (log chunks from before it was recorded), one fast clock drops the others.
  const unbounded = new EventWindowStore(spec);
  const bounded = new EventWindowStore(spec);
  for (const store of [unbounded, bounded]) {
    const honest = store.windowsFor(0, 0), fast = store.windowsFor(1, 0);
    store.add(honest, 1, now, now);
    const ahead = store.add.bind(store, fast, 7, now + 9_900);
    if (store === bounded) ahead(now);
    else ahead();
    store.take();
    // The honest sensor's next readings, at the real clock.
    for (const t of [now + 300, now + 800, now + 1_300]) {
      if (store.isLate(t)) store.lateDropped++;
      else store.add(honest, 2, t, t);
    }
  }
  assertEquals(unbounded.lateDropped, 3);
  assertEquals(bounded.lateDropped, 0);
  assertEquals(bounded.newestMs, now + 1_300);
  // The honest sensor's first 1 s window has ended (published), the fast one's has not.
  const first = entries(bounded.take());
  assertEquals(first.map((e) => [e.key, e.count, e.final]), [
    [`0/0/${now}`, 3, false],
  ]);
  // Once accepted readings reach past its end and the grace, the fast window closes, final.
  const later = bounded.windowsFor(2, 0);
  bounded.add(later, 3, now + 16_000, now + 16_000);
  const closed = entries(bounded.take()).filter((e) => e.key.startsWith("1/0/"));
  assertEquals(closed.map((e) => [e.key, e.count, e.sum, e.final]), [
    [`1/0/${now + 9_000}`, 1, 7, true],
  ]);
});

Deno.test("a late reading within the grace period revises an ended window; later than that it is dropped", () => {
  const store = new EventWindowStore(spec);
  const w = store.windowsFor(7, 1);
  const base = 1_000_000_000_000; // a whole minute
  store.add(w, 10, base + 100);
  store.add(w, 20, base + 1_500); // ends the first 1 s window
  const first = entries(store.take());
  assertEquals(first.map((e) => [e.key, e.count, e.final, e.changed]), [
    [`7/0/${base}`, 1, false, true],
  ]);
  store.add(w, 30, base + 900); // late but within grace: revises it
  const revised = entries(store.take());
  assertEquals(revised.map((e) => [e.key, e.count, e.sum, e.changed]), [
    [`7/0/${base}`, 2, 40, true],
  ]);
  assertEquals(entries(store.take()), []);
  store.add(w, 1, base + 7_000); // watermark = base + 2000: the first two 1 s windows close
  const closed = entries(store.take()).filter((e) => e.final).sort((a, b) =>
    a.key < b.key ? -1 : 1
  );
  assertEquals(closed.map((e) => [e.key, e.count, e.changed]), [
    [`7/0/${base}`, 2, false],
    [`7/0/${base + 1_000}`, 1, true],
  ]);
  assert(store.isLate(base + 950));
  assert(!store.isLate(base + 2_000));
});

Deno.test("a window spec whose sizes do not nest, or a negative grace, is refused", () => {
  for (
    const bad of [{ sizesMs: [1_000, 1_500], graceMs: 0 }, { sizesMs: [1_000], graceMs: -1 }, {
      sizesMs: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      graceMs: 0,
    }]
  ) {
    let threw = false;
    try {
      new EventWindowStore(bad);
    } catch (error) {
      threw = error instanceof RangeError;
    }
    assert(threw, JSON.stringify(bad));
  }
});

Deno.test("with no window sizes nothing is late and nothing is published", () => {
  const store = new EventWindowStore({ sizesMs: [], graceMs: 5_000 });
  const w = store.windowsFor(1, 0);
  store.add(w, 5, 2_000_000);
  assert(!store.isLate(0));
  store.add(w, 6, 0);
  assertEquals([entries(store.take()).length, store.lateDropped, store.windowCount(w)], [0, 0, 0]);
});

Deno.test("held windows and the final windows handed over are together every window of a recomputation, each once; the held ones the watermark passed are final", () => {
  const reading = fc.record({
    sensor: fc.integer({ min: 0, max: 2 }),
    value: fc.integer({ min: -1_000, max: 1_000 }),
    step: fc.integer({ min: -9_000, max: 8_000 }),
    takeAfter: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(reading, { minLength: 1, maxLength: 200 }), (steps) => {
      const store = new EventWindowStore(spec);
      const perSensor = new Map<number, number>();
      let t = 1_700_000_000_000;
      const readings: { sensor: number; value: number; t: number; accepted?: number }[] = [];
      const handedOver = new Map<string, ReturnType<typeof entries>[number]>();
      const check = () => {
        const model = recompute(readings);
        const seen = new Set<string>();
        for (const [sensor, windows] of perSensor) {
          spec.sizesMs.forEach((size, k) => {
            for (const w of store.heldWindows(windows, k)) {
              const key = `${sensor}/${k}/${w.startMs}`;
              assert(!handedOver.has(key), `window ${key} held after it was handed over final`);
              assert(!seen.has(key), `window ${key} held twice`);
              seen.add(key);
              const expected = model.windows.get(key);
              assert(expected, `held window ${key} was invented`);
              assertEquals([w.count, w.sum, w.min, w.max], [
                expected.count,
                expected.sum,
                expected.min,
                expected.max,
              ], key);
              // Final once the watermark passed its end (maybe before `take` closed it).
              assertEquals(w.final, w.startMs + size <= model.watermark, `${key} final`);
            }
          });
        }
        for (const [key, w] of model.windows) {
          if (seen.has(key)) continue;
          const e = handedOver.get(key);
          assert(e, `window ${key} is neither held nor handed over final`);
          assertEquals([e.count, e.sum, e.min, e.max], [w.count, w.sum, w.min, w.max], key);
        }
      };
      for (const step of steps) {
        t = Math.max(0, t + step.step);
        let windows = perSensor.get(step.sensor);
        if (windows === undefined) {
          perSensor.set(step.sensor, windows = store.windowsFor(step.sensor, 0));
        }
        if (!store.isLate(t)) {
          store.add(windows, step.value, t);
          readings.push({ sensor: step.sensor, value: step.value, t });
        }
        if (step.takeAfter) {
          for (const e of entries(store.take())) if (e.final) handedOver.set(e.key, e);
        }
        check();
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("larger windows merged from the smallest equal a direct recomputation for any nesting sizes and grace, across a save and restore; a final without a change repeats the values last sent", () => {
  const specArb = fc.record({
    base: fc.constantFrom(1, 7, 100, 250, 1_000),
    factors: fc.array(fc.integer({ min: 2, max: 6 }), { minLength: 0, maxLength: 3 }),
    grace: fc.integer({ min: 0, max: 3_000 }),
  }).map(({ base, factors, grace }) => {
    const sizesMs: number[] = [base];
    for (const f of factors) sizesMs.push(sizesMs[sizesMs.length - 1] * f);
    return { sizesMs, graceMs: grace };
  });
  const step = fc.record({
    owner: fc.integer({ min: 0, max: 3 }),
    value: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    dt: fc.integer({ min: -4_000, max: 1_500 }),
    action: fc.constantFrom("none", "none", "take", "restore"),
  });
  fc.assert(
    fc.property(specArb, fc.array(step, { minLength: 1, maxLength: 250 }), (spec, steps) => {
      let store = new EventWindowStore(spec);
      const owners = [0, 1, 2, 3].map((o) => store.windowsFor(10 + o, o));
      let t = 1_700_000_000_000 + 333;
      let newest = -Infinity;
      let late = 0;
      // Independent model: per window key, the values of the readings in it.
      const model = new Map<string, number[]>();
      const lastSent = new Map<string, ReturnType<typeof entries>[number]>();
      const finals = new Set<string>();
      const handle = (states: WindowStates) => {
        for (const e of entries(states)) {
          assert(!finals.has(e.key), `${e.key} published after it was final`);
          const before = lastSent.get(e.key);
          if (!e.changed) {
            // Not changed since last sent: the same numbers, to the bit.
            assert(before, `${e.key} unchanged but never sent`);
            assertEquals(numbers(e), numbers(before), e.key);
          }
          if (e.final) finals.add(e.key);
          lastSent.set(e.key, e);
        }
      };
      for (const s of steps) {
        t = Math.max(0, t + s.dt);
        const firstEnd = t - (t % spec.sizesMs[0]) + spec.sizesMs[0];
        if (firstEnd <= newest - spec.graceMs) {
          late++;
          assert(store.isLate(t), `${t} is late`);
          store.lateDropped++;
        } else {
          assert(!store.isLate(t), `${t} is not late`);
          store.add(owners[s.owner], s.value, t);
          newest = Math.max(newest, t);
          spec.sizesMs.forEach((size, k) => {
            const key = `${10 + s.owner}/${k}/${t - (t % size)}`;
            model.set(key, [...(model.get(key) ?? []), s.value]);
          });
        }
        if (s.action === "take") handle(store.take());
        if (s.action === "restore") {
          // A flush, then a checkpoint: restored into a fresh store, it goes on the same.
          handle(store.take());
          const saved = owners.map((o) => {
            const f64 = new Float64Array(store.savedLength(o));
            assertEquals(store.saveWindows(o, f64, 0), f64.length);
            return { f64, n: store.windowCount(o) };
          });
          const next = new EventWindowStore(spec);
          next.newestMs = store.newestMs;
          next.lateDropped = store.lateDropped;
          owners.forEach((o, i) => {
            next.windowsFor(10 + i, i, o);
            assertEquals(next.restoreWindows(o, saved[i].f64, 0, saved[i].n), saved[i].f64.length);
          });
          store = next;
        }
      }
      handle(store.take());
      assertEquals(store.lateDropped, late);
      for (const [key, values] of model) {
        const [, k, start] = key.split("/").map(Number);
        const end = start + spec.sizesMs[k];
        const e = lastSent.get(key);
        if (end > newest) {
          assert(e === undefined, `${key} published before it ended`);
          continue;
        }
        assert(e, `ended window ${key} never published`);
        assertEquals(e.final, end <= newest - spec.graceMs, `${key} final`);
        assertEquals(e.count, values.length, `${key} count`);
        assertEquals(e.min, Math.min(...values), `${key} min`);
        assertEquals(e.max, Math.max(...values), `${key} max`);
        const sum = values.reduce((a, v) => a + v, 0);
        const scale = values.reduce((a, v) => a + Math.abs(v), 0);
        assert(Math.abs(e.sum - sum) <= 1e-9 * Math.max(1, scale), `${key} sum ${e.sum} vs ${sum}`);
        const mean = sum / values.length;
        const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
        assert(Math.abs(e.std - std) <= 1e-6 * Math.max(1, std), `${key} std ${e.std} vs ${std}`);
      }
      for (const key of lastSent.keys()) assert(model.has(key), `${key} was invented`);
    }),
    { numRuns: 400 },
  );
});

Deno.test("windows of no reading or one are saved in 2 or 3 numbers, others in full, and a restore gives back every window to the bit", () => {
  // Values with few distinct choices (repeats, 0 and -0), readings sparse or dense per window.
  const reading = fc.record({
    owner: fc.integer({ min: 0, max: 2 }),
    value: fc.oneof(fc.constantFrom(0, -0, 21.5, -3), fc.double({ noNaN: true })),
    dt: fc.integer({ min: -6_000, max: 3_000 }),
    take: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(reading, { minLength: 1, maxLength: 120 }), (steps) => {
      const store = new EventWindowStore(spec);
      const owners = [0, 1, 2].map((o) => store.windowsFor(o, 0));
      let t = 1_700_000_000_000;
      for (const r of steps) {
        t = Math.max(0, t + r.dt);
        if (!store.isLate(t)) store.add(owners[r.owner], r.value, t);
        if (r.take) store.take();
      }
      const next = new EventWindowStore(spec);
      next.newestMs = store.newestMs;
      for (const o of owners) {
        const n = store.windowCount(o);
        const f64 = new Float64Array(store.savedLength(o));
        assertEquals(store.saveWindows(o, f64, 0), f64.length);
        // Each window's length follows from its own numbers (a recomputation from heldWindows).
        const held = spec.sizesMs.flatMap((_, k) => store.heldWindows(o, k));
        assert(f64.length <= n * SLOT_LENGTH);
        next.windowsFor(o, 0, o);
        assertEquals(next.restoreWindows(o, f64, 0, n), f64.length);
        // Saved again from the restored store: the same numbers, to the bit (-0 included),
        // but for the state in each code (the newest ended window is marked to go out again).
        const again = new Float64Array(next.savedLength(o));
        next.saveWindows(o, again, 0);
        assertEquals(again.length, f64.length);
        for (let at = 0; at < f64.length;) {
          assertEquals(again[at] - (again[at] % 8), f64[at] - (f64[at] % 8));
          const length = [9, 2, 3][Math.floor(f64[at] / 64)];
          for (let i = 1; i < length; i++) assert(Object.is(again[at + i], f64[at + i]));
          at += length;
        }
        const heldAgain = spec.sizesMs.flatMap((_, k) => next.heldWindows(o, k));
        assertEquals(heldAgain.length, held.length);
        heldAgain.forEach((w, i) => {
          for (const key of ["startMs", "count", "sum", "min", "max"] as const) {
            assert(Object.is(w[key], held[i][key]), `${key} ${w[key]} vs ${held[i][key]}`);
          }
        });
      }
      // Both go on the same: the next take hands over the same windows.
      const a = entries(store.take()), b = entries(next.take());
      const byKey = new Map(a.map((e) => [e.key, e]));
      for (const e of b) {
        const before = byKey.get(e.key);
        if (before) {
          assertEquals(numbers(e), numbers(before));
        }
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("a window's saved length: 3 numbers for one reading, 2 for a larger window with none closed yet, 9 for two readings or a -0", () => {
  const store = new EventWindowStore(spec);
  const [a, b, c] = [0, 1, 2].map((o) => store.windowsFor(o, 0));
  const t = 1_700_000_000_000;
  store.add(a, 21.5, t); // 1 s window of one reading; 10 s and 60 s windows hold none closed
  store.add(b, 1, t);
  store.add(b, 2, t + 1); // two readings: full
  store.add(c, -0, t); // -0: its sum is +0, so saved in full
  assertEquals(store.savedLength(a), 3 + 2 + 2);
  assertEquals(store.savedLength(b), SLOT_LENGTH + 2 + 2);
  assertEquals(store.savedLength(c), SLOT_LENGTH + 2 + 2);
  // Once the 1 s window closes, the 10 s window holds its one reading: 3 numbers.
  store.add(a, 5, t + 7_000);
  store.take();
  assertEquals([store.windowCount(a), store.savedLength(a)], [3, 3 + 3 + 3]);
});

Deno.test("reused output columns: a take's views stay intact through the next take and are overwritten only after it", () => {
  const store = new EventWindowStore(spec, { reuse: true });
  const w = store.windowsFor(1, 0);
  const base = 1_000_000_000_000;
  store.add(w, 1, base);
  store.add(w, 2, base + 1_000); // ends [base, base+1s)
  const first = store.take();
  const firstCopy = entries(first);
  store.add(w, 3, base + 2_000); // ends [base+1s, base+2s)
  const second = store.take();
  assertEquals(entries(first), firstCopy, "the first take is intact after the second");
  assertEquals(entries(second).map((e) => [e.key, e.sum]), [[`1/0/${base + 1_000}`, 2]]);
  store.add(w, 4, base + 3_000);
  const third = store.take();
  assertEquals(
    third.sensor.buffer,
    first.sensor.buffer,
    "the third take writes the first's buffer",
  );
  assertEquals(entries(third).map((e) => [e.key, e.sum]), [[`1/0/${base + 2_000}`, 3]]);
});

Deno.test("the window output buffer grown by a burst (every 10 s window ends at once) shrinks back after small takes", () => {
  const store = new EventWindowStore(spec, { takeAtLeast: Infinity });
  const base = 1_000_000_000_000;
  const owners = Array.from({ length: 20_000 }, (_, i) => store.windowsFor(i, 0));
  for (const w of owners) store.add(w, 1, base);
  store.add(owners[0], 1, base + 1_000); // all the first 1 s windows end: a burst of 20,000
  const burst = store.take();
  assertEquals(burst.length, 20_000);
  const grown = store.bytes;
  // Longer than the shrink waits (~100 s of 100 ms flushes: bursts come a window size apart).
  for (let i = 0; i < 1_100; i++) {
    store.add(owners[0], 1, base + 1_000 + i);
    store.take();
  }
  // Records stay (their pages are reused); the output buffer went back down.
  assert(store.bytes < grown - 20_000 * 50, `bytes ${store.bytes} vs ${grown} after the burst`);
});

Deno.test("a burst take sizes the output buffer once from what it will hand out, not by doubling", () => {
  // 20,000 windows end at once, then close at once: each take must hold them all. Doubling
  // from 256 would leave 32,768 entries (and a series of dead buffers on the way there).
  for (const reuse of [false, true]) {
    const store = new EventWindowStore(spec, { reuse, takeAtLeast: Infinity });
    const base = 1_000_000_000_000;
    const owners = Array.from({ length: 20_000 }, (_, i) => store.windowsFor(i, 0));
    for (const w of owners) store.add(w, 1, base);
    store.add(owners[0], 1, base + 1_000); // the 1 s windows end (provisional)
    const before = store.bytes;
    const ended = store.take();
    assertEquals(ended.length, 20_000);
    const grown = store.bytes - before;
    const entry = 4 + 2 + 1 + 1 + 6 * 8;
    assert(
      grown <= 20_000 * entry * 1.3,
      `reuse ${reuse}: the buffer grew by ${grown} bytes for 20,000 windows of ${entry}`,
    );
    store.add(owners[0], 1, base + 1_000 + spec.graceMs); // the 1 s windows close (final)
    const closed = store.take();
    // The 20,000 finals, and owners[0]'s window of base + 1 s, ended since.
    assertEquals(closed.length, 20_001);
    assert(
      store.bytes - before <= (reuse ? 2 : 1) * 20_000 * entry * 1.3,
      `reuse ${reuse}: ${store.bytes - before} bytes after the close`,
    );
  }
});

Deno.test("the window output buffers are kept between bursts that come seconds apart at a 100 ms flush, not shrunk and grown again", () => {
  const store = new EventWindowStore(spec, { reuse: true, takeAtLeast: Infinity });
  const base = 1_000_000_000_000;
  const owners = Array.from({ length: 20_000 }, (_, i) => store.windowsFor(i, 0));
  for (const w of owners) store.add(w, 1, base);
  store.add(owners[0], 1, base + 1_000); // a burst: 20,000 ended windows
  assertEquals(store.take().length, 20_000);
  // 10 s of flushes every 100 ms with one reading each; the 20,000 close (another burst) at 6 s.
  let bytes = store.bytes;
  for (let i = 1; i <= 100; i++) {
    store.add(owners[0], 1, base + 1_000 + i * 100);
    store.take();
    assert(store.bytes >= bytes, `take ${i}: ${store.bytes} bytes, ${bytes} before: shrunk`);
    bytes = store.bytes;
  }
});

Deno.test("the first take after a restore sizes the output buffer to the windows it publishes again, counted once", () => {
  const store = new EventWindowStore(spec, { takeAtLeast: Infinity });
  const base = 1_000_000_000_000;
  const owners = Array.from({ length: 20_000 }, (_, i) => store.windowsFor(i, 0));
  for (const w of owners) store.add(w, 1, base);
  store.add(owners[0], 1, base + 1_000); // the 1 s windows end and are handed over
  assertEquals(store.take().length, 20_000);
  const saved = owners.map((o) => {
    const f64 = new Float64Array(store.savedLength(o));
    store.saveWindows(o, f64, 0);
    return { f64, n: store.windowCount(o) };
  });
  const next = new EventWindowStore(spec, { takeAtLeast: Infinity });
  next.newestMs = store.newestMs;
  owners.forEach((o, i) => {
    next.windowsFor(i, 0, o);
    next.restoreWindows(o, saved[i].f64, 0, saved[i].n);
  });
  const before = next.bytes;
  const again = next.take();
  assertEquals(again.length, 20_000); // each owner's newest ended window, for a fresh hub
  const entry = 4 + 2 + 1 + 1 + 6 * 8;
  const grown = next.bytes - before;
  assert(grown <= 20_000 * entry * 1.3, `the buffer grew by ${grown} bytes for 20,000 windows`);
});

Deno.test("when bursts have landed in both reused output buffers, only one stays at burst size: the other goes back to a quarter of it, and no take's views are touched", () => {
  const store = new EventWindowStore(spec, { reuse: true, takeAtLeast: Infinity });
  const base = 1_000_000_000_000;
  const owners = Array.from({ length: 20_000 }, (_, i) => store.windowsFor(i, 0));
  for (const w of owners) store.add(w, 1, base);
  const before = store.bytes;
  store.add(owners[0], 1, base + 1_000); // the 1 s windows end: a burst into one buffer
  assertEquals(store.take().length, 20_000);
  for (let i = 1; i <= 2; i++) {
    store.add(owners[0], 1, base + 1_000 + i * 100);
    store.take();
  }
  store.add(owners[0], 1, base + 1_000 + spec.graceMs); // they close: a burst into the other
  const closed = store.take();
  assertEquals(closed.length, 20_001);
  const closedCopy = entries(closed);
  const entry = 4 + 2 + 1 + 1 + 6 * 8;
  const burst = 20_001 * entry * 1.25; // a burst's buffer: room for it and a quarter
  let smallest = Infinity;
  for (let i = 1; i <= 4; i++) {
    store.add(owners[0], 1, base + 1_000 + spec.graceMs + i * 100);
    store.take();
    smallest = Math.min(smallest, store.bytes - before);
    // Handed out whole, a buffer's columns (and `length`) are the take after next's again.
    if (i === 1) {
      assertEquals(
        entries(closed),
        closedCopy,
        "the burst's views are intact through the next take",
      );
    }
  }
  // Both at burst size would be 2 bursts; one of them and a quarter of it is 1.25.
  assert(smallest > burst, `${smallest} bytes: the burst-size buffer was let go`);
  assert(smallest <= burst * 1.25 + 2 * 256 * entry, `${smallest} bytes for two buffers`);
});
