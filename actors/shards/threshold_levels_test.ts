import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { statusLevel, ThresholdLevels, valueLevel } from "./threshold_levels.ts";
import type { Thresholds } from "../../protocol/metric_meta.ts";

const T: Thresholds = { warn: { above: 30, below: 10 }, critical: { above: 35 }, holdMs: 1000 };

/**
 * The level after a sequence, recomputed from its definition: keep the
 * readings not older than every one before them; for critical then warn,
 * the run of newest kept readings at or past the level must span the hold.
 */
function recompute(t: Thresholds, readings: [number, number][]): number {
  const kept: [number, number][] = [];
  let newest = -Infinity;
  for (const r of readings) {
    if (r[1] < newest) continue;
    newest = r[1];
    kept.push(r);
  }
  if (kept.length === 0) return 0;
  const last = kept[kept.length - 1];
  for (const level of [2, 1]) {
    let start = kept.length;
    while (start > 0 && valueLevel(t, kept[start - 1][0]) >= level) start--;
    if (start < kept.length && last[1] - kept[start][1] >= t.holdMs) return level;
  }
  return 0;
}

Deno.test("a level is raised only when held for holdMs in event time, and dropped at once", () => {
  const levels = new ThresholdLevels();
  levels.ensure(1);
  const seen: number[] = [];
  for (const [value, t] of [[20, 0], [40, 1000], [20, 1500], [40, 2000], [40, 2500], [40, 3000]]) {
    levels.observe(0, T, value, t);
    seen.push(levels.level(0));
  }
  // The spike at 1000 does not flap; 2000..3000 holds 1 s: critical.
  assertEquals(seen, [0, 0, 0, 0, 0, 2]);
  levels.observe(0, T, 32, 3100);
  assertEquals(levels.level(0), 1, "critical drops at once to warn (past warn since 2000)");
  levels.observe(0, T, 20, 3200);
  assertEquals(levels.level(0), 0, "back under: ok at once");
  levels.observe(0, T, 31, 3300);
  assertEquals(levels.level(0), 0, "warn starts its own hold");
  levels.observe(0, T, 31, 4300);
  assertEquals(levels.level(0), 1);
  levels.observe(0, T, 50, 100);
  assertEquals(levels.level(0), 1, "a reading older than the newest is not judged");
});

Deno.test("threshold levels over random event-time sequences equal the recomputation", () => {
  const thresholds = fc.record({
    warn: fc.option(fc.record({ above: fc.constant(30) }), { nil: undefined }),
    critical: fc.option(fc.record({ above: fc.constant(35), below: fc.constant(0) }), {
      nil: undefined,
    }),
    holdMs: fc.constantFrom(0, 1, 500, 2000),
  });
  const reading = fc.tuple(
    fc.constantFrom(-5, 5, 20, 31, 36, 40),
    fc.integer({ min: 0, max: 10_000 }),
  );
  fc.assert(fc.property(
    thresholds,
    fc.array(fc.array(reading, { maxLength: 40 }), { minLength: 1, maxLength: 4 }),
    (raw, sequences) => {
      const t: Thresholds = { holdMs: raw.holdMs };
      if (raw.warn) t.warn = raw.warn;
      if (raw.critical) t.critical = raw.critical;
      // Several cells interleaved: no cell sees another's state.
      const levels = new ThresholdLevels();
      levels.ensure(sequences.length);
      const longest = Math.max(...sequences.map((s) => s.length));
      for (let i = 0; i < longest; i++) {
        sequences.forEach((s, cell) => {
          if (i < s.length) levels.observe(cell, t, s[i][0], s[i][1]);
        });
        sequences.forEach((s, cell) => {
          assertEquals(levels.level(cell), recompute(t, s.slice(0, i + 1)), `cell ${cell} at ${i}`);
        });
      }
    },
  ));
});

Deno.test("a saved cell restores to the same state: the sequence goes on as if unbroken", () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.constantFrom(20, 31, 36), fc.integer({ min: 0, max: 5000 })), {
      maxLength: 30,
    }),
    fc.nat(30),
    (readings, cut) => {
      const whole = new ThresholdLevels();
      whole.ensure(1);
      const first = new ThresholdLevels();
      first.ensure(1);
      readings.forEach(([v, t], i) => {
        whole.observe(0, T, v, t);
        if (i < cut) first.observe(0, T, v, t);
      });
      const saved = new Float64Array(ThresholdLevels.RECORD);
      first.save(0, saved, 0);
      const second = new ThresholdLevels();
      second.restore(5, saved, 0);
      readings.slice(cut).forEach(([v, t]) => second.observe(5, T, v, t));
      assertEquals(second.level(5), whole.level(0));
    },
  ));
});

Deno.test("reported statuses map to levels; unknown words raise nothing", () => {
  assertEquals(
    ["ok", "warn", "WARNING", "critical", "alarm", "error", "fault", "", "banana"].map(statusLevel),
    [0, 1, 1, 2, 2, 2, 2, 0, 0],
  );
});

Deno.test("cells never judged take no room, read ok and are not held; a judged cell is held until cleared", () => {
  const levels = new ThresholdLevels();
  levels.clear(100_000);
  assertEquals([levels.capacity, levels.level(100_000), levels.held(100_000)], [0, 0, false]);
  levels.observe(5, T, 20, 0);
  assert(levels.capacity >= 6 && levels.capacity < 100_000);
  assertEquals([levels.held(5), levels.held(4), levels.held(100_000)], [true, false, false]);
  levels.clear(5);
  assertEquals(levels.held(5), false);
  // A cell at a level is held even with no reading time (restored as saved).
  const saved = Float64Array.of(NaN, NaN, NaN, 2);
  levels.restore(7, saved, 0);
  assertEquals([levels.held(7), levels.level(7)], [true, 2]);
});
