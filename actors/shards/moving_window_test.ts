import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { MovingWindow } from "./moving_window.ts";

/**
 * What a window of `window` readings shows, recomputed from a plain list of
 * every reading in arrival order: avg, min and max over the last `window` of
 * them (late ones included), last = the newest event time (a tie goes to the
 * later arrival), count and sum since start.
 */
function naive(readings: readonly (readonly [number, number])[], window: number) {
  let newest = 0;
  for (let i = 1; i < readings.length; i++) if (readings[i][1] >= readings[newest][1]) newest = i;
  const recent = readings.slice(-window).map(([value]) => value);
  let min = Infinity, max = -Infinity, recentSum = 0, sum = 0;
  for (const value of recent) {
    recentSum += value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  for (const [value] of readings) sum += value;
  return {
    last: readings[newest][0],
    timeMs: readings[newest][1],
    average: recentSum / recent.length,
    min,
    max,
    count: readings.length,
    sum,
  };
}

function near(actual: number, expected: number, what: string): void {
  assert(
    Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs ${expected}`,
  );
}

/** Checks `w` against the recomputation after `readings` (min/max exactly; -0 equals 0). */
function check(w: MovingWindow, readings: readonly (readonly [number, number])[], window: number) {
  const expected = naive(readings, window);
  assert(w.min === expected.min, `min ${w.min} vs ${expected.min}`);
  assert(w.max === expected.max, `max ${w.max} vs ${expected.max}`);
  assert(w.last === expected.last, `last ${w.last} vs ${expected.last}`);
  assertEquals(w.timeMs, expected.timeMs);
  assertEquals(w.count, expected.count);
  near(w.sum, expected.sum, "sum");
  near(w.average, expected.average, "average");
}

const readingArb = fc.tuple(
  // Few distinct values too, so equal values (and a shared min or max) are common.
  fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -3, max: 3 })),
  fc.integer({ min: 0, max: 1000 }),
);

Deno.test("metric window: avg, min and max cover the last N readings in arrival order, last the newest event time, after every reading and across a save and restore", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.array(readingArb, { minLength: 1, maxLength: 300 }),
      fc.nat(),
      fc.boolean(),
      (window, readings, cut, oldFormat) => {
        const restoreAt = cut % (readings.length + 1);
        let w = new MovingWindow(window);
        for (let i = 0; i < readings.length; i++) {
          if (i === restoreAt) {
            const data = new Float64Array(MovingWindow.recordLength(window) + 3);
            const end = w.save(data, 3);
            assertEquals(end, data.length);
            if (oldFormat) {
              // Older checkpoints hold min and max since start: a restore must not trust them.
              data[3 + 2] = -1e9;
              data[3 + 3] = 1e9;
            }
            w = new MovingWindow(window);
            assertEquals(w.restore(data, 3), data.length);
            if (i > 0) check(w, readings.slice(0, i), window);
          }
          w.add(readings[i][0], readings[i][1]);
          check(w, readings.slice(0, i + 1), window);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("moving average does not drift over a million large values", () => {
  const w = new MovingWindow(50);
  const values: number[] = [];
  let x = 1;
  for (let i = 0; i < 1_000_000; i++) {
    x = (x * 48271) % 2147483647;
    const value = 1e9 + (x % 1000) / 7;
    values.push(value);
    if (values.length > 50) values.shift();
    w.add(value, i);
  }
  const exact = values.reduce((a, b) => a + b, 0) / values.length;
  assert(Math.abs(w.average - exact) < 1e-6, `average ${w.average} vs ${exact}`);
  assertEquals([w.min, w.max], [Math.min(...values), Math.max(...values)]);
});

Deno.test("a window saved and restored continues exactly as the original", () => {
  const original = new MovingWindow(7);
  for (let i = 0; i < 23; i++) original.add(Math.sin(i) * 10, i);
  const data = new Float64Array(MovingWindow.recordLength(7));
  original.save(data, 0);
  const copy = new MovingWindow(7);
  copy.restore(data, 0);
  for (let i = 23; i < 40; i++) {
    original.add(Math.cos(i), i);
    copy.add(Math.cos(i), i);
  }
  for (const key of ["last", "timeMs", "count", "sum", "min", "max", "average"] as const) {
    assertEquals(copy[key], original[key], key);
  }
});
