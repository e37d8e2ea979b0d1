import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { historyPath, parseHistory } from "./history.ts";

const valid = {
  sensorId: "sensor_1",
  metric: "temperature",
  from: 1000,
  to: 5000,
  resolution: "1s",
  bucketMs: 1000,
  points: [
    { t: 1000, count: 3, min: 1, max: 3, avg: 2 },
    { t: 3000, count: 1, min: 4, max: 4, avg: 4 },
  ],
  bounded: false,
};

Deno.test("history response parses to the same series, with an empty note when none", () => {
  const history = parseHistory(valid);
  assertEquals(history.points, valid.points);
  assertEquals(history.resolution, "1s");
  assertEquals(history.note, "");
  assertEquals(
    parseHistory({ ...valid, bounded: true, note: "scan stopped" }).note,
    "scan stopped",
  );
});

Deno.test("history response carries where its provisional and missing parts start, null when absent", () => {
  const plain = parseHistory(valid);
  assertEquals([plain.provisionalFrom, plain.missingFrom], [null, null]);
  const marked = parseHistory({ ...valid, provisionalFrom: 3000, missingFrom: 4000 });
  assertEquals([marked.provisionalFrom, marked.missingFrom], [3000, 4000]);
});

Deno.test("history response with a wrong shape is refused naming the field", () => {
  const bad: [unknown, RegExp][] = [
    [null, /history is not an object/],
    [[], /history is not an object/],
    [{ ...valid, points: "x" }, /points is not an array/],
    [{ ...valid, points: [{ ...valid.points[0], t: "1000" }] }, /points\[0\]\.t/],
    [{ ...valid, points: [{ ...valid.points[0], avg: NaN }] }, /points\[0\]\.avg/],
    [{ ...valid, points: [{ ...valid.points[0], count: -1 }] }, /points\[0\]\.count/],
    [{ ...valid, points: [{ ...valid.points[0], min: 5 }] }, /min above max/],
    [{ ...valid, points: [valid.points[1], valid.points[0]] }, /points\[1\]\.t is not ascending/],
    [{ ...valid, resolution: "5m" }, /resolution is not one of/],
    [{ ...valid, bounded: "no" }, /bounded/],
    [{ ...valid, note: 5 }, /note/],
    [{ ...valid, provisionalFrom: "3000" }, /provisionalFrom/],
    [{ ...valid, missingFrom: null }, /missingFrom/],
    [{ ...valid, sensorId: undefined }, /sensorId/],
  ];
  for (const [json, message] of bad) throws(() => parseHistory(json), message);
});

Deno.test("history path escapes the id and clamps maxPoints to 1..10000", () => {
  assertEquals(
    historyPath("a/b c", { metric: "temperature", from: 1.5, to: 9.2, maxPoints: 640.4 }),
    "/api/sensors/a%2Fb%20c/history?metric=temperature&from=1&to=10&maxPoints=640",
  );
  const clamp = (maxPoints: number) =>
    new URL(historyPath("s", { metric: "m", from: 0, to: 1, maxPoints }), "http://x")
      .searchParams.get("maxPoints");
  assertEquals(clamp(50_000), "10000");
  assertEquals(clamp(0), "1");
});
