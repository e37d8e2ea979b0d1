import fc from "fast-check";
import { assert } from "../../tests/testing/assert.ts";
import { allocateStates } from "../../protocol/columns.ts";
import { MovingWindows } from "./moving_windows.ts";

// writeState computes an empty window's average as 0 / 0 (no conditional
// NaN, which V8 boxed per call): empty slots still read NaN, Infinity and
// -Infinity, beside filled ones on the same ring pages, whatever their form.
Deno.test("moving windows: a slot with no reading writes avg NaN, min Infinity and max -Infinity, and its filled neighbours their windows' recomputation", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      // Per slot: its values (empty for some); decimals, integers or any double (other ring forms).
      fc.array(
        fc.array(
          fc.oneof(
            fc.integer({ min: -300, max: 300 }).map((n) => n / 10),
            fc.integer({ min: -1e6, max: 1e6 }),
            fc.double({ min: -1e6, max: 1e6, noNaN: true }),
          ),
          { maxLength: 30 },
        ),
        { minLength: 1, maxLength: 40 },
      ),
      (window, slots) => {
        const w = new MovingWindows(window);
        slots.forEach((_, k) => w.reset(k));
        slots.forEach((values, k) => values.forEach((v, i) => w.add(k, v, i)));
        const out = allocateStates(slots.length);
        slots.forEach((_, k) => w.writeState(k, out, k));
        slots.forEach((values, k) => {
          const recent = values.slice(-window);
          let sum = 0;
          for (const v of recent) sum += v;
          const avg = sum / recent.length;
          const min = recent.length === 0 ? Infinity : Math.min(...recent);
          const max = recent.length === 0 ? -Infinity : Math.max(...recent);
          if (recent.length === 0) assert(Number.isNaN(out.avg[k]), `slot ${k} avg ${out.avg[k]}`);
          else {
            assert(
              Math.abs(out.avg[k] - avg) <= 1e-6 * Math.max(1, Math.abs(avg)),
              `slot ${k} avg ${out.avg[k]} vs ${avg}`,
            );
          }
          assert(out.min[k] === min, `slot ${k} min ${out.min[k]} vs ${min}`);
          assert(out.max[k] === max, `slot ${k} max ${out.max[k]} vs ${max}`);
        });
      },
    ),
  );
});
