import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { SparkRings } from "../../../web/src/lib/feed/spark_rings.ts";
import { FeedView } from "../feed_view.ts";
import { shardChanges } from "../../../tests/shard_changes.ts";
import { SparkPoints } from "./spark_points.ts";

interface Push {
  sensor: number;
  metric: number;
  timeMs: number;
  value: number;
  clear: boolean;
}

/** Pushes (and clears) into ours and into the dashboard's rings, one per metric; every sensor's points read alike. */
function assertFollowsRings(pushes: Push[], o: { points: number; metrics: number }): void {
  const ours = new SparkPoints({ points: o.points });
  const theirs = Array.from({ length: o.metrics }, () => new SparkRings({ points: o.points }));
  const top = Math.max(0, ...pushes.map((p) => p.sensor)) + 1;
  for (const r of theirs) r.grow(top);
  for (const p of pushes) {
    if (p.clear) {
      ours.clear(p.sensor);
      for (const r of theirs) r.clear(p.sensor);
    }
    ours.push(p.sensor, p.metric, p.timeMs, p.value);
    theirs[p.metric].push(p.sensor, p.timeMs, p.value);
  }
  for (const sensor of new Set(pushes.map((p) => p.sensor))) {
    for (let metric = 0; metric < o.metrics; metric++) {
      const a = new Float32Array(o.points), b = new Float32Array(o.points);
      const n = ours.read(sensor, metric, a);
      assertEquals(n, theirs[metric].read(sensor, b));
      assertEquals([...a.subarray(0, n)], [...b.subarray(0, n)]);
    }
  }
}

Deno.test("points per sensor and metric follow the dashboard's spark rings for any pushes", () => {
  // The dashboard's rings are the reference: one SparkRings per metric.
  const push = fc.record({
    sensor: fc.nat(5),
    metric: fc.nat(2),
    timeMs: fc.integer({ min: 0, max: 90_000 }),
    value: fc.oneof(fc.double({ noNaN: false }), fc.integer({ min: -50, max: 50 })),
    clear: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
  });
  fc.assert(
    fc.property(
      fc.array(push, { maxLength: 300 }),
      fc.integer({ min: 1, max: 8 }),
      (pushes, points) => assertFollowsRings(pushes, { points, metrics: 3 }),
    ),
    { numRuns: 300 },
  );
});

Deno.test("a tick's last values become points; a removed sensor's points are gone", () => {
  const feed = new FeedView();
  const spark = new SparkPoints();
  const sensors = [{ index: 0, id: "a", group: "g" }, { index: 1, id: "b", group: "g" }];
  spark.apply(feed.apply([shardChanges({
    sensors,
    metrics: ["t"],
    updates: [{ sensor: 0, metric: 0, last: 1, timeMs: 1_000 }, {
      sensor: 1,
      metric: 0,
      last: 5,
      timeMs: 1_000,
    }],
  })]));
  spark.apply(feed.apply([shardChanges({
    updates: [{ sensor: 0, metric: 0, last: 2, timeMs: 1_500 }, {
      sensor: 1,
      metric: 0,
      last: 6,
      timeMs: 2_000,
    }],
  })]));
  spark.apply(
    feed.apply([shardChanges({ updates: [{ sensor: 0, metric: 0, last: 3, timeMs: 3_100 }] })]),
  );
  const into = new Float32Array(60);
  // Sensor 0: 1 then 2 in the same second (2 wins), then 3.
  assertEquals([...into.subarray(0, spark.read(0, 0, into))], [2, 3]);
  assertEquals(spark.newestMs(0, 0), 3_000);
  assertEquals([...into.subarray(0, spark.read(1, 0, into))], [5, 6]);
  spark.apply(feed.apply([shardChanges({ removed: [1] })]));
  assertEquals(spark.read(1, 0, into), 0);
  assertEquals(spark.metricsOf(0), [0]);
});

Deno.test("memory is fixed per sensor and metric: a minute of points whatever the rate", () => {
  const spark = new SparkPoints();
  for (let t = 0; t < 600_000; t += 50) spark.push(99, 0, t, t);
  const before = spark.bytes;
  for (let t = 600_000; t < 1_200_000; t += 10) spark.push(99, 0, t, t);
  assertEquals(spark.bytes, before);
  assertEquals(spark.read(99, 0, new Float32Array(100)), 60);
});

Deno.test("readings with a few decimals read back as float32 of what was pushed, across pages and scales", () => {
  // Values of 0–6 decimals and any size: pages take more decimals or widen as they come.
  const value = fc.oneof(
    fc.tuple(fc.integer({ min: -400_000, max: 400_000 }), fc.integer({ min: 0, max: 6 }))
      .map(([k, d]) => k / 10 ** d),
    fc.tuple(fc.integer({ min: -3_000, max: 3_000 }), fc.integer({ min: 0, max: 4 }))
      .map(([k, d]) => k / 10 ** d),
    fc.constantFrom(-0, 0, 1e-9, 32_767, 32_768, -32_767, 1e6),
    fc.double({ noNaN: true }),
  );
  const push = fc.record({
    // Three pages' worth of sensors, sparse.
    sensor: fc.oneof(fc.nat(5), fc.integer({ min: 1000, max: 1030 }), fc.constant(2_500)),
    metric: fc.nat(1),
    timeMs: fc.integer({ min: 0, max: 20_000 }),
    value,
    clear: fc.integer({ min: 0, max: 29 }).map((n) => n === 0),
  });
  fc.assert(
    fc.property(
      fc.array(push, { maxLength: 400 }),
      (pushes) => assertFollowsRings(pushes, { points: 8, metrics: 2 }),
    ),
    { numRuns: 300 },
  );
});

Deno.test("a page of one-decimal readings holds two bytes a point; one value it cannot scale widens only its page", () => {
  const points = 60;
  const spark = new SparkPoints({ points });
  // Two pages of 1,024 sensors, readings like 21.3 and 1013.2 (as parsed: the nearest double).
  for (let s = 0; s < 2048; s++) spark.push(s, 0, 0, ((s % 2 === 0 ? 213 : 10_132) + s) / 10);
  const perSensor = 2 + 2 + 8; // head, filled, bucket
  // Pages of 1,024 sensors up to the capacity (grown by a quarter: more than the two filled).
  const pages = Math.ceil(spark.capacity / 1024);
  assertEquals(spark.bytes, pages * 1024 * (points * 2) + spark.capacity * perSensor);
  spark.push(1500, 0, 1_000, Math.PI);
  assertEquals(
    spark.bytes,
    (pages - 1) * 1024 * (points * 2) + 1024 * (points * 4) + spark.capacity * perSensor,
  );
  const read = new Float32Array(points);
  assertEquals(spark.read(1500, 0, read), 2);
  assertEquals([...read.subarray(0, 2)], [Math.fround(171.3), Math.fround(Math.PI)]);
  assertEquals(spark.read(1501, 0, read), 1);
  assertEquals(read[0], Math.fround(1163.3));
  // More decimals in a narrow page: its points are scaled up (it stays narrow), and read as before.
  const scaled = new SparkPoints({ points });
  scaled.push(0, 0, 0, 21.3);
  const narrowBytes = scaled.bytes;
  scaled.push(1, 0, 0, 2.25);
  scaled.push(0, 0, 1_000, -0.125);
  assertEquals(scaled.bytes, narrowBytes);
  assertEquals(scaled.read(0, 0, read), 2);
  assertEquals([...read.subarray(0, 2)], [Math.fround(21.3), -0.125]);
  assertEquals(scaled.read(1, 0, read), 1);
  assertEquals(read[0], 2.25);
});
