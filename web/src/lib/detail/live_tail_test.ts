import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { LiveTail } from "./live_tail.ts";

const after = (tail: LiveTail, ms: number) => {
  const out: [number, number][] = [];
  tail.forEachAfter(ms, (t, v) => out.push([t, v]));
  return out;
};

Deno.test("live tail keeps the newest samples in a fixed ring and says what it dropped", () => {
  const tail = new LiveTail(3);
  for (let i = 1; i <= 5; i++) tail.push(i * 100, i);
  assertEquals(tail.size, 3);
  assertEquals(after(tail, 0), [[300, 3], [400, 4], [500, 5]]);
  assertEquals(tail.droppedThroughMs, 200);
  assertEquals(after(tail, 400), [[500, 5]]);
});

Deno.test("live tail ignores non-finite samples", () => {
  const tail = new LiveTail(2);
  tail.push(NaN, 1);
  tail.push(1, Infinity);
  assertEquals(tail.size, 0);
  assertEquals(tail.droppedThroughMs, -Infinity);
});
