import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { bucketize, bucketWidth, parseHistoryRequest, pickResolution } from "./history_query.ts";
import type { HistoryRequest } from "./history_query.ts";

const NOW = 1_800_000_000_000;

Deno.test("history parameters are checked one by one with a reason, with sane defaults", () => {
  const parse = (query: string, id = "s1") =>
    parseHistoryRequest(id, new URLSearchParams(query), NOW);
  assertEquals(parse("metric=t"), {
    sensorId: "s1",
    metric: "t",
    fromMs: NOW - 3_600_000,
    toMs: NOW,
    maxPoints: 1_000,
  });
  const cases: [string, RegExp, string?][] = [
    ["", /metric is required/],
    ["metric=bad name", /not an identifier/],
    ["metric=t&from=10&to=10", /must be before/],
    ["metric=t&from=1.5", /whole number/],
    ["metric=t&to=-1", /whole number/],
    ["metric=t&from=abc", /whole number/],
    ["metric=t&maxPoints=0", /1\.\.10000/],
    ["metric=t&maxPoints=10001", /1\.\.10000/],
    ["metric=t&from=0&to=" + 401 * 86_400_000, /400 days/],
    ["metric=t", /sensorId/, ""],
    // Past the latest time a Date holds (and past exact integers): said, not rounded.
    ["metric=t&to=9999999999999999", /to must be at most 8640000000000000 .*9999999999999999/],
    ["metric=t&to=8640000000000001", /to must be at most 8640000000000000/],
    ["metric=t&from=9999999999999999&to=1", /from must be at most 8640000000000000/],
    ["metric=t&to=0", /from \(0\) must be before to \(0\)/],
    ["metric=t&maxPoints=9999999999999999", /1\.\.10000/],
  ];
  for (const [query, reason, id] of cases) {
    const result = parse(query, id);
    assert(typeof result === "string" && reason.test(result), `${query}: ${result}`);
  }
  // The default hour before an early `to` starts at 0, not before 1970.
  assertEquals(parse("metric=t&to=1000"), {
    sensorId: "s1",
    metric: "t",
    fromMs: 0,
    toMs: 1000,
    maxPoints: 1_000,
  });
  const latest = parse("metric=t&to=8640000000000000");
  assert(typeof latest !== "string", `${latest}`);
  assertEquals([latest.fromMs, latest.toMs], [8_640_000_000_000_000 - 3_600_000, 8.64e15]);
});

Deno.test("bucketize equals a recomputation per epoch-aligned bucket and never exceeds maxPoints", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10 ** 9 }),
      fc.integer({ min: 1, max: 10 ** 7 }),
      fc.integer({ min: 1, max: 500 }),
      fc.constantFrom(1, 1_000, 60_000),
      fc.array(
        fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: -100, max: 100 })),
      ),
      (from, span, maxPoints, size, raw) => {
        const to = from + span;
        const bucketMs = bucketWidth(from, to, maxPoints, size);
        assertEquals(bucketMs % size, 0);
        const buckets = Math.floor((to - 1) / bucketMs) - Math.floor(from / bucketMs) + 1;
        assert(buckets <= Math.max(maxPoints, 1) + (maxPoints === 1 ? 1 : 0), `${buckets} buckets`);
        const points = raw.map(([f, v]) => {
          const t = Math.floor(from + f * (span - 1));
          return { t: t - (t % size), count: 1, sum: v, min: v, max: v };
        }).filter((p) => p.t >= from - (from % bucketMs));
        const got = bucketize(points, from, to, bucketMs);
        const expected = new Map<number, number[]>();
        for (const p of points) {
          const b = Math.floor(p.t / bucketMs) * bucketMs;
          expected.set(b, [...(expected.get(b) ?? []), p.sum]);
        }
        assertEquals(got.map((b) => b.t), [...expected.keys()].sort((a, b) => a - b));
        for (const b of got) {
          const values = expected.get(b.t)!;
          assertEquals([b.count, b.min, b.max], [
            values.length,
            Math.min(...values),
            Math.max(...values),
          ]);
          assert(Math.abs(b.avg - values.reduce((a, v) => a + v, 0) / values.length) < 1e-9);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("the resolution is the coarsest rollup that fits the bucket and is still kept, else raw", () => {
  const sizes = new Map([[1_000, 86_400_000], [60_000, 30 * 86_400_000]]);
  const request = (span: number, maxPoints: number, ago = 0): HistoryRequest => ({
    sensorId: "s",
    metric: "t",
    fromMs: NOW - ago - span,
    toMs: NOW - ago,
    maxPoints,
  });
  assertEquals(pickResolution(request(300_000, 1_000), sizes, NOW), 0); // 5 min: 300 ms buckets
  assertEquals(pickResolution(request(3_600_000, 1_000), sizes, NOW), 1_000); // 1 h: 3.6 s buckets
  assertEquals(pickResolution(request(86_000_000, 1_000), sizes, NOW), 60_000); // 24 h: 86 s buckets
  // 1 s rollups are gone after a day: an old hour comes from 1 min rollups.
  assertEquals(
    pickResolution(request(3_600_000, 1_000, 2 * 86_400_000), sizes, NOW, 86_400_000),
    60_000,
  );
  // An old 5 min: raw and 1 s rollups are gone, so 1 min rollups rather than nothing.
  assertEquals(
    pickResolution(request(300_000, 1_000, 2 * 86_400_000), sizes, NOW, 86_400_000),
    60_000,
  );
  // Within the raw retention, a fine bucket is served raw.
  assertEquals(pickResolution(request(60_000, 1_000, 3_600_000), sizes, NOW, 86_400_000), 0);
});
