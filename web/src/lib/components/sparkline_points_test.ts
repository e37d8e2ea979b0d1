import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { sparklinePath, sparklinePoints } from "./sparkline_points.ts";

Deno.test("sparkline scales values to the box, highest at the top", () => {
  assertEquals(sparklinePoints([0, 5, 10], 3, 10, 12), "0.0,11.0 5.0,6.0 10.0,1.0");
});

Deno.test("sparkline of a flat series is a middle line; fewer than two points draw nothing", () => {
  assertEquals(sparklinePoints([3, 3], 2, 4, 10), "0.0,5.0 4.0,5.0");
  assertEquals(sparklinePoints([3], 1, 4, 10), "");
  assertEquals(sparklinePoints([1, 2, 3], 0, 4, 10), "");
});

Deno.test("a span under minSpan is drawn about its middle, so a 0.1 step is a ripple", () => {
  // 1013.2 / 1013.3 alternating, minSpan 2 (20 steps of 0.1): y stays within 1/20 of the height.
  const values = [1013.2, 1013.3, 1013.2, 1013.3];
  const ys = sparklinePoints(values, 4, 60, 20, { minSpan: 2 }).split(" ").map((p) =>
    Number(p.split(",")[1])
  );
  const spread = Math.max(...ys) - Math.min(...ys);
  assertEquals(spread <= 18 / 20 + 0.1, true, `spread ${spread}`);
  // Without it, the same values fill the height.
  const full = sparklinePoints(values, 4, 60, 20).split(" ").map((p) => Number(p.split(",")[1]));
  assertEquals(Math.max(...full) - Math.min(...full), 18);
});

Deno.test("a sparkline path breaks at a gap (NaN) and draws nothing across it", () => {
  assertEquals(
    sparklinePath([0, 10, NaN, NaN, 10, 0], 6, 10, 12),
    "M0.0,11.0L2.0,1.0 M8.0,1.0L10.0,11.0",
  );
  assertEquals(sparklinePath([NaN, NaN], 2, 10, 12), "");
  // A marked break: the pen lifts before the marked value.
  assertEquals(
    sparklinePath([0, 10, 10, 0], 4, 6, 12, { breaks: [0, 0, 1, 0] }),
    "M0.0,11.0L2.0,1.0 M4.0,1.0L6.0,11.0",
  );
});
