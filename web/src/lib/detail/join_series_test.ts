import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { historyEndMs, joinSeries } from "./join_series.ts";
import { LiveTail } from "./live_tail.ts";

const history = [
  { t: 0, count: 2, min: 1, max: 3, avg: 2 },
  { t: 1000, count: 1, min: 5, max: 5, avg: 5 },
];

Deno.test("join keeps history, merges tail into the open last bucket, then appends new buckets", () => {
  const tail = new LiveTail();
  tail.push(900, 99); // before the history's end: already counted there
  tail.push(1500, 7); // after the end, inside the last (open) bucket
  tail.push(2100, 4);
  tail.push(2900, 6);
  const [x, min, max, avg] = joinSeries(tail, {
    history,
    bucketMs: 1000,
    historyToMs: 1200,
    gapMs: 10_000,
  });
  assertEquals(x, [0, 1, 2]);
  assertEquals(min, [1, 5, 4]);
  assertEquals(max, [3, 7, 6]);
  assertEquals(avg, [2, 6, 5]);
});

Deno.test("join without history draws the tail alone, raw when the bucket is 0", () => {
  const tail = new LiveTail();
  tail.push(2000, 1);
  tail.push(1000, 2); // out of order: sorted by time
  const [x, , , avg] = joinSeries(tail, {
    history: [],
    bucketMs: 0,
    historyToMs: -Infinity,
    gapMs: 10_000,
  });
  assertEquals(x, [1, 2]);
  assertEquals(avg, [2, 1]);
});

Deno.test("join breaks the line across a gap longer than gapMs", () => {
  const [x, min] = joinSeries(new LiveTail(), {
    history: [history[0], { t: 60_000, count: 1, min: 1, max: 1, avg: 1 }],
    bucketMs: 1000,
    historyToMs: 61_000,
    gapMs: 5000,
  });
  assertEquals(x, [0, 30, 60]);
  assertEquals(min, [1, null, 1]);
});

Deno.test("join fills in from where the server says readings may be missing, not from its to", () => {
  const tail = new LiveTail();
  tail.push(1500, 7); // in the history's last bucket, after its data ends
  tail.push(2500, 9); // before `to`, but the history lacks it
  tail.push(3500, 4);
  const served = { to: 3000, missingFrom: 1200 };
  assertEquals(historyEndMs(served), 1200);
  assertEquals(historyEndMs({ to: 3000, missingFrom: null }), 3000);
  const [x, min, max] = joinSeries(tail, {
    history,
    bucketMs: 1000,
    historyToMs: historyEndMs(served),
    gapMs: 10_000,
  });
  assertEquals(x, [0, 1, 2, 3]);
  assertEquals(min, [1, 5, 9, 4]);
  assertEquals(max, [3, 7, 9, 4]);
});
