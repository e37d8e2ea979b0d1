import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { MovingWindows } from "./moving_windows.ts";

/**
 * What a window of `window` readings shows, recomputed from a plain list of
 * every reading in arrival order: avg, min and max over the last `window` of
 * them (late ones included), last = the newest event time (a tie goes to the
 * later arrival).
 */
function naive(readings: readonly (readonly [number, number])[], window: number) {
  let newest = 0;
  for (let i = 1; i < readings.length; i++) if (readings[i][1] >= readings[newest][1]) newest = i;
  const recent = readings.slice(-window).map(([value]) => value);
  let min = Infinity, max = -Infinity, sum = 0;
  for (const value of recent) {
    sum += value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return {
    last: readings[newest][0],
    timeMs: readings[newest][1],
    avg: sum / recent.length,
    min,
    max,
  };
}

/** Checks slot `k` against the recomputation after `readings` (min/max exactly; avg to rounding). */
function check(
  w: MovingWindows,
  k: number,
  readings: readonly (readonly [number, number])[],
) {
  const expected = naive(readings, w.window);
  const got = w.read(k, { avg: 0, min: 0, max: 0 });
  assert(got.min === expected.min, `slot ${k} min ${got.min} vs ${expected.min}`);
  assert(got.max === expected.max, `slot ${k} max ${got.max} vs ${expected.max}`);
  assert(w.last(k) === expected.last, `slot ${k} last ${w.last(k)} vs ${expected.last}`);
  assertEquals(w.timeMs(k), expected.timeMs);
  assertEquals(w.filled(k), Math.min(readings.length, w.window));
  assert(
    Math.abs(got.avg - expected.avg) <= 1e-6 * Math.max(1, Math.abs(expected.avg)),
    `slot ${k} avg ${got.avg} vs ${expected.avg}`,
  );
}

const readingArb = fc.tuple(
  // Few distinct values too, so equal values (and a shared min or max) are common.
  fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -3, max: 3 })),
  // Few distinct times too, so event-time ties are common.
  fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 3 })),
);

Deno.test("moving windows: avg, min and max cover each slot's last N readings in arrival order, last the newest event time (a tie: the later arrival), after every reading and across a save and restore", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      // Readings interleaved over a few slots, some far apart (other ring pages).
      fc.array(fc.tuple(fc.constantFrom(0, 1, 2, 1500), readingArb), {
        minLength: 1,
        maxLength: 300,
      }),
      fc.nat(),
      (window, readings, cut) => {
        const restoreAt = cut % (readings.length + 1);
        const slots = [0, 1, 2, 1500];
        let w = new MovingWindows(window);
        for (const k of slots) w.reset(k);
        const seen = new Map<number, [number, number][]>(slots.map((k) => [k, []]));
        for (let i = 0; i < readings.length; i++) {
          if (i === restoreAt) {
            // Every slot through a checkpoint record, into fresh columns.
            const saved = slots.map((k) => {
              const data = new Float64Array(2 + window + 3);
              const end = w.save(k, data, 3);
              assertEquals(end, 3 + 2 + w.filled(k));
              return { k, data, filled: w.filled(k) };
            });
            w = new MovingWindows(window);
            for (const { k, data, filled } of saved) {
              assertEquals(w.restore(k, data, 3, filled), 3 + 2 + filled);
              if (seen.get(k)!.length > 0) check(w, k, seen.get(k)!);
            }
          }
          const [k, [value, timeMs]] = readings[i];
          w.add(k, value, timeMs);
          seen.get(k)!.push([value, timeMs]);
          check(w, k, seen.get(k)!);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("moving windows: the average does not drift over a million large values", () => {
  const w = new MovingWindows(50);
  w.reset(7);
  const values: number[] = [];
  let x = 1;
  for (let i = 0; i < 1_000_000; i++) {
    x = (x * 48271) % 2147483647;
    const value = 1e9 + (x % 1000) / 7;
    values.push(value);
    if (values.length > 50) values.shift();
    w.add(7, value, i);
  }
  const exact = values.reduce((a, b) => a + b, 0) / values.length;
  const got = w.read(7, { avg: 0, min: 0, max: 0 });
  assert(Math.abs(got.avg - exact) < 1e-6, `average ${got.avg} vs ${exact}`);
  assertEquals([got.min, got.max], [Math.min(...values), Math.max(...values)]);
});

/** Values that stress the narrow rings: fixed resolutions, scale changes, int32's edges, -0, wide ones. */
const exactValueArb = fc.oneof(
  fc.integer({ min: -100_000, max: 100_000 }).map((n) => n / 10),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 1_000),
  fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }),
  fc.constantFrom(-0, 0, 2 ** 31, -(2 ** 31), 214_748.3647, 0.1 + 0.2, 1e-7, 1e300),
  fc.constantFrom(32_767, 32_768, -32_767, -32_768, 3_276.7, 3_276.8, -3_276.8, 3.2767, 3.2768),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
);

/**
 * The average a window of `recent` reads as, recomputed: in a narrow ring
 * page (`ringForm` not 0; its values then have at most 4 decimals) the mean
 * of the decimals, one rounding of their integer sum at 10^4 over 10^4 ×
 * count (the page's own scale gives the same rational, so the same double);
 * in a float64 page the values summed oldest first, over the count.
 */
function recomputedAvg(narrow: boolean, recent: readonly number[]): number {
  if (!narrow) {
    let sum = 0;
    for (const v of recent) sum += v;
    return sum / recent.length;
  }
  let sum = 0;
  for (const v of recent) {
    const k = Math.round(v * 1e4);
    assert(k / 1e4 === v, `${v} has at most 4 decimals in a narrow page`);
    sum += k; // |sum| < 2^53: exact
  }
  return sum / (1e4 * recent.length);
}

/** Asserts the slot reads as `recent` recomputed: the average (`recomputedAvg`), min and max, bit for bit. */
function assertSummary(w: MovingWindows, slot: number, recent: readonly number[]): void {
  let min = Infinity, max = -Infinity;
  for (const v of recent) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const got = w.read(slot, { avg: 0, min: 0, max: 0 });
  const avg = recomputedAvg(w.ringForm(slot) !== 0, recent);
  assert(Object.is(got.avg, avg), `slot ${slot} avg ${got.avg} vs ${avg}`);
  assert(Object.is(got.min, min), `slot ${slot} min ${got.min} vs ${min}`);
  assert(Object.is(got.max, max), `slot ${slot} max ${got.max} vs ${max}`);
}

Deno.test("moving windows: every value comes back as the very double added (avg, min, max, last and a save equal a recomputation bit for bit), whatever mix of resolutions a ring page holds", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.array(fc.tuple(fc.constantFrom(0, 1, 2, 1500), exactValueArb), {
        minLength: 1,
        maxLength: 300,
      }),
      (window, readings) => {
        const slots = [0, 1, 2, 1500];
        const w = new MovingWindows(window);
        for (const k of slots) w.reset(k);
        const seen = new Map<number, number[]>(slots.map((k) => [k, []]));
        for (let i = 0; i < readings.length; i++) {
          const [k, value] = readings[i];
          w.add(k, value, i);
          seen.get(k)!.push(value);
          for (const s of slots) {
            const values = seen.get(s)!;
            if (values.length === 0) continue;
            const recent = values.slice(-window);
            assertSummary(w, s, recent);
            assert(Object.is(w.last(s), values[values.length - 1]), `slot ${s} last`);
            const saved = new Float64Array(2 + window);
            w.save(s, saved, 0);
            recent.forEach((v, j) => assert(Object.is(saved[2 + j], v), `slot ${s} saved ${j}`));
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("moving windows: a ring page of values at a fixed decimal resolution takes 2 bytes a value while they fit int16, 4 once one does not, and 8 once one is not decimal", () => {
  const window = 50;
  const ringPageValues = 1024 * window; // 2^k slots per page, 2^k * 50 ≤ 65,536
  // 0.1 resolution within ±1,000.0: k = 10 * value fits int16.
  const valueAt = (s: number, i: number) => Math.round(((s * 7 + i * 13) % 20_000) - 10_000) / 10;
  const fill = () => {
    const w = new MovingWindows(window);
    for (let s = 0; s < 3000; s++) {
      w.reset(s);
      for (let i = 0; i < window; i++) w.add(s, valueAt(s, i), i);
    }
    return w;
  };
  const int16 = fill(), int32 = fill(), wide = fill();
  int32.add(1234, 4_000.1, 99); // k = 40,001: past int16
  wide.add(1234, 1 / 3, 99);
  // The same scalar pages and ring pages; only the changed page's values differ in size.
  assertEquals(int32.bytes - int16.bytes, ringPageValues * 2);
  assertEquals(wide.bytes - int16.bytes, ringPageValues * 6);
  // The changed pages still give back what they held, and the new value.
  for (const [w, last] of [[int32, 4_000.1], [wide, 1 / 3]] as const) {
    const recent = [...Array.from({ length: window - 1 }, (_, i) => valueAt(1234, i + 1)), last];
    const got = w.read(1234, { avg: 0, min: 0, max: 0 });
    assertEquals(
      [got.avg, got.min, got.max],
      [recomputedAvg(w === int32, recent), Math.min(...recent), Math.max(...recent)],
    );
    const other = w.read(1235, { avg: 0, min: 0, max: 0 });
    const expected = int16.read(1235, { avg: 0, min: 0, max: 0 });
    assertEquals([other.avg, other.min, other.max], [expected.avg, expected.min, expected.max]);
  }
});

Deno.test("moving windows: slots restored one by one into fresh ring pages, then fed values of other resolutions, read back as a recomputation (a page rescaled or widened keeps every restored value)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.tuple(fc.nat(5), exactValueArb), { minLength: 1, maxLength: 60 }),
      fc.array(fc.tuple(fc.nat(5), exactValueArb), { maxLength: 60 }),
      (window, before, after) => {
        const slots = [0, 1, 2, 3, 4, 5];
        const seen = new Map<number, number[]>(slots.map((k) => [k, []]));
        const first = new MovingWindows(window);
        for (const k of slots) first.reset(k);
        before.forEach(([k, value], i) => {
          first.add(k, value, i);
          seen.get(k)!.push(value);
        });
        // Restored slot by slot into a fresh instance (as a restart does), in an order of their own.
        const restored = new MovingWindows(window);
        for (const k of [3, 0, 5, 1, 4, 2]) {
          const image = new Float64Array(2 + window);
          first.save(k, image, 0);
          restored.restore(k, image, 0, Math.min(window, seen.get(k)!.length));
        }
        after.forEach(([k, value], i) => {
          restored.add(k, value, before.length + i);
          seen.get(k)!.push(value);
        });
        for (const k of slots) {
          const recent = seen.get(k)!.slice(-window);
          if (recent.length === 0) continue;
          assertSummary(restored, k, recent);
        }
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("moving windows: a ring saved in its page's form (int16, int32 or float64) and restored into any page gives back the very doubles added, and fills no more than its values", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.tuple(fc.constantFrom(0, 1, 2), exactValueArb), {
        minLength: 1,
        maxLength: 200,
      }),
      // Into a fresh store, or one whose page already took a value of another resolution.
      fc.constantFrom(null, 0.5, 4_000.1, 1 / 3, -0),
      (window, readings, before) => {
        const slots = [0, 1, 2];
        const w = new MovingWindows(window);
        for (const k of slots) w.reset(k);
        const seen = new Map<number, number[]>(slots.map((k) => [k, []]));
        readings.forEach(([k, value], i) => {
          w.add(k, value, i);
          seen.get(k)!.push(value);
        });
        const next = new MovingWindows(window);
        next.reset(3);
        if (before !== null) next.add(3, before, 0);
        for (const s of slots) {
          const form = w.ringForm(s);
          const filled = w.filled(s);
          const head = new Float64Array(2);
          assertEquals(w.saveHead(s, head, 0), 2);
          const ring = form === 0
            ? new Float64Array(filled + 2)
            : form <= 5
            ? new Int16Array(filled + 2)
            : new Int32Array(filled + 2);
          // Written from offset 1: exactly `filled` values, nothing past them.
          assertEquals(w.saveRing(s, ring, 1), 1 + filled);
          assertEquals([ring[0], ring[filled + 1]], [0, 0]);
          next.reset(s);
          next.restoreParts(s, head, 0, filled, ring, 1, form);
          const recent = seen.get(s)!.slice(-window);
          if (recent.length === 0) continue;
          assertSummary(next, s, recent);
          assert(Object.is(next.last(s), w.last(s)), `slot ${s} last`);
          const saved = new Float64Array(2 + window);
          next.save(s, saved, 0);
          recent.forEach((v, j) => assert(Object.is(saved[2 + j], v), `slot ${s} saved ${j}`));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("moving windows: ring forms follow the page: int16 while values fit, int32 past that, float64 once one is not decimal", () => {
  const w = new MovingWindows(5);
  w.reset(0);
  w.add(0, 21.3, 0);
  assertEquals(w.ringForm(0), 1 + 1); // int16, d = 1
  w.add(0, 4_000.1, 1);
  assertEquals(w.ringForm(0), 6 + 1); // int32, d = 1
  w.add(0, 1 / 3, 2);
  assertEquals(w.ringForm(0), 0);
});
