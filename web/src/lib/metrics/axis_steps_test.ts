import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import fc from "fast-check";
import { axisSteps } from "./axis_steps.ts";
import { formatNumber } from "./metric_format.ts";

Deno.test("ticks a step apart, whatever the step chosen, never print the same label twice", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(1, 0.5, 0.25, 0.1, 0.01, 0.001, 1e-6, 10, 5),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.nat({ max: 8 }),
      (precision, start, which) => {
        const step = axisSteps(precision)[which];
        // As uPlot places them: from a multiple of the step.
        const first = Math.ceil(start / step) * step;
        const labels = Array.from(
          { length: 8 },
          (_, i) => formatNumber(first + i * step, { name: "m", unit: "", precision }),
        );
        assertEquals(new Set(labels).size, labels.length, labels.join(" "));
      },
    ),
  );
});

Deno.test("the steps are the precision times 1, 2 and 5 times powers of ten, in increasing order", () => {
  const steps = axisSteps(0.1);
  const expected = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50];
  for (const [i, value] of expected.entries()) {
    assert(Math.abs(steps[i] - value) < 1e-12, `${steps[i]} vs ${value}`);
  }
  for (let i = 1; i < steps.length; i++) assert(steps[i] > steps[i - 1]);
  for (const precision of [1e-6, 0.1, 1, 1000]) {
    assert(axisSteps(precision).at(-1)! >= 1e19, `${precision}`);
  }
});
