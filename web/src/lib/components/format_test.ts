import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { countWindowLabel } from "./format.ts";

Deno.test("the stats label names the readings avg, min and max cover", () => {
  assertEquals(countWindowLabel(50), "avg · min · max of the last 50 readings");
  assertEquals(countWindowLabel(1), "avg · min · max of the last reading");
  assertEquals(countWindowLabel(10_000), "avg · min · max of the last 10,000 readings");
  // A server that does not say how many.
  assertEquals(countWindowLabel(0), "avg · min · max of the most recent readings");
});
