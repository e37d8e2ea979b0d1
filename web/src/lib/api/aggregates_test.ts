import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { aggregatesPath, parseAggregates } from "./aggregates.ts";

const valid = {
  group: "plant-a",
  window: "10s",
  windowMs: 10_000,
  asOfMs: 50_000,
  metrics: [
    {
      metric: "temperature",
      windowStartMs: 30_000,
      sensors: 4,
      count: 40,
      sum: 800,
      avg: 20,
      min: 18,
      max: 23,
    },
  ],
};

Deno.test("aggregates parse per metric; an empty window may carry null min, max and avg", () => {
  assertEquals(parseAggregates(valid), valid);
  const empty = { ...valid.metrics[0], count: 0, sum: 0, avg: null, min: null, max: null };
  assertEquals(parseAggregates({ ...valid, metrics: [empty] }).metrics[0].avg, null);
});

Deno.test("aggregates with a wrong shape are refused naming the field", () => {
  throws(() => parseAggregates({ ...valid, window: "5s" }), /window is not one of/);
  throws(
    () => parseAggregates({ ...valid, metrics: [{ ...valid.metrics[0], max: "23" }] }),
    /metrics\[0\]\.max/,
  );
  throws(() => parseAggregates({ ...valid, metrics: undefined }), /metrics is not an array/);
});

Deno.test("aggregates path carries group, window and the optional metric", () => {
  assertEquals(
    aggregatesPath({ group: "plant-a/line-1", window: "1m" }),
    "/api/aggregates?group=plant-a%2Fline-1&window=1m",
  );
  assertEquals(
    aggregatesPath({ group: "g", window: "1s", metric: "t" }),
    "/api/aggregates?group=g&window=1s&metric=t",
  );
});
