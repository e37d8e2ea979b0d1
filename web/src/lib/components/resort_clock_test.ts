import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { ResortClock } from "./resort_clock.ts";

Deno.test("re-sort at once when invalidated, then at most once per interval", () => {
  const clock = new ResortClock({ intervalMs: 1000 });
  assertEquals(clock.due(0, false), true);
  clock.sorted(0);
  assertEquals(clock.due(999, false), false);
  assertEquals(clock.due(1000, false), true);
  clock.sorted(1000);
  clock.invalidate();
  assertEquals(clock.due(1001, false), true);
});

Deno.test("a hold defers value-driven re-sorts but not the operator's own changes", () => {
  const clock = new ResortClock({ intervalMs: 1000 });
  clock.sorted(0);
  assertEquals(clock.due(60_000, true), false);
  assertEquals(clock.due(60_000, false), true);
  clock.invalidate();
  assertEquals(clock.due(60_001, true), true);
});
