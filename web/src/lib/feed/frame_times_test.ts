import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { FrameTimes } from "./frame_times.ts";

Deno.test("frame times report the 95th percentile since the last report, then start over", () => {
  const times = new FrameTimes();
  assertEquals(times.take(), { p95: 0, count: 0 });
  for (let ms = 1; ms <= 100; ms++) times.add(ms);
  assertEquals(times.take(), { p95: 95, count: 100 });
  assertEquals(times.lastP95Ms, 95);
  times.add(7);
  assertEquals(times.take(), { p95: 7, count: 1 });
});
