import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { axisTimes, fullTime } from "./time_labels.ts";

const at = (h: number, m: number, s = 0) => new Date(2026, 11, 1, h, m, s).getTime();

Deno.test("axis labels are times, with seconds only for ticks under a minute apart", () => {
  assertEquals(axisTimes([at(18, 3), at(18, 4), at(18, 5)]), ["18:03", "18:04", "18:05"]);
  assertEquals(axisTimes([at(18, 3, 0), at(18, 3, 10)]), ["18:03:00", "18:03:10"]);
});

Deno.test("the day is named only where it changes", () => {
  const late = new Date(2026, 11, 1, 23, 0).getTime();
  const next = new Date(2026, 11, 2, 1, 0).getTime();
  assertEquals(axisTimes([late, next]), ["23:00", "Dec 2 01:00"]);
});

Deno.test("the hover time is to the millisecond", () => {
  assertEquals(fullTime(at(18, 3, 12) + 250), "2026-12-01 18:03:12.250");
});
