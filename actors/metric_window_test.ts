import fc from "fast-check";
import { assert, assertEquals } from "../tests/assert.ts";
import { MetricWindow } from "./metric_window.ts";

function naive(values: number[], times: number[], window: number) {
  let newest = 0;
  for (let i = 1; i < times.length; i++) if (times[i] >= times[newest]) newest = i;
  const recent = values.slice(-window);
  return {
    last: values[newest],
    timeMs: times[newest],
    average: recent.reduce((a, b) => a + b, 0) / recent.length,
    count: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

Deno.test("metric window equals a naive recomputation for any values, times and window size", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.array(
        fc.tuple(
          fc.double({ min: -1e6, max: 1e6, noNaN: true }),
          fc.integer({ min: 0, max: 1000 }),
        ),
        {
          minLength: 1,
          maxLength: 300,
        },
      ),
      (window, readings) => {
        const w = new MetricWindow(window);
        for (const [value, time] of readings) w.add(value, time);
        const expected = naive(readings.map((r) => r[0]), readings.map((r) => r[1]), window);
        assertEquals(w.last, expected.last);
        assertEquals(w.timeMs, expected.timeMs);
        assertEquals(w.count, expected.count);
        assertEquals(w.min, expected.min);
        assertEquals(w.max, expected.max);
        assert(Math.abs(w.sum - expected.sum) <= 1e-6 * Math.max(1, Math.abs(expected.sum)));
        assert(
          Math.abs(w.average - expected.average) <= 1e-6 * Math.max(1, Math.abs(expected.average)),
        );
      },
    ),
  );
});

Deno.test("moving average does not drift over a million large values", () => {
  const w = new MetricWindow(50);
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
});

Deno.test("a window saved and restored continues exactly as the original", () => {
  const original = new MetricWindow(7);
  for (let i = 0; i < 23; i++) original.add(Math.sin(i) * 10, i);
  const data = new Float64Array(MetricWindow.recordLength(7));
  original.save(data, 0);
  const copy = new MetricWindow(7);
  copy.restore(data, 0);
  for (let i = 23; i < 40; i++) {
    original.add(Math.cos(i), i);
    copy.add(Math.cos(i), i);
  }
  for (const key of ["last", "timeMs", "count", "sum", "min", "max", "average"] as const) {
    assertEquals(copy[key], original[key], key);
  }
});
