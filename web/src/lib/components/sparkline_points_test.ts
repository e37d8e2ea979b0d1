import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { sparklinePoints } from "./sparkline_points.ts";

Deno.test("sparkline scales values to the box, highest at the top", () => {
  assertEquals(sparklinePoints([0, 5, 10], 3, 10, 12), "0.0,11.0 5.0,6.0 10.0,1.0");
});

Deno.test("sparkline of a flat series is a middle line; fewer than two points draw nothing", () => {
  assertEquals(sparklinePoints([3, 3], 2, 4, 10), "0.0,5.0 4.0,5.0");
  assertEquals(sparklinePoints([3], 1, 4, 10), "");
  assertEquals(sparklinePoints([1, 2, 3], 0, 4, 10), "");
});
