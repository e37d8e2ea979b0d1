import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SparkRings } from "./spark_rings.ts";

const read = (rings: SparkRings, sensor: number) => {
  const into = new Float32Array(rings.points);
  return Array.from(into.subarray(0, rings.read(sensor, into)));
};

Deno.test("spark ring keeps the latest value per bucket, oldest first", () => {
  const rings = new SparkRings({ points: 4, bucketMs: 1000 });
  rings.grow(2);
  rings.push(1, 1000, 1);
  rings.push(1, 1500, 2); // same bucket: replaces
  rings.push(1, 2100, 3);
  rings.push(1, 1900, 99); // older than the newest bucket: ignored
  assertEquals(read(rings, 1), [2, 3]);
  assertEquals(read(rings, 0), []);
});

Deno.test("spark ring wraps and keeps only the newest points, memory fixed", () => {
  const rings = new SparkRings({ points: 3, bucketMs: 10 });
  rings.grow(1);
  for (let i = 0; i < 1000; i++) rings.push(0, i * 10, i);
  assertEquals(read(rings, 0), [997, 998, 999]);
});

Deno.test("spark ring survives growing and ignores unknown sensors and NaN", () => {
  const rings = new SparkRings({ points: 2, bucketMs: 1 });
  rings.grow(1);
  rings.push(0, 1, 5);
  rings.push(0, 2, NaN);
  rings.push(7, 1, 5);
  rings.grow(64);
  rings.push(7, 1, 6);
  assertEquals(read(rings, 0), [5]);
  assertEquals(read(rings, 7), [6]);
  rings.clear(7);
  assertEquals(read(rings, 7), []);
});

Deno.test("loaded points read back oldest first, and later values extend them from the newest bucket", () => {
  const rings = new SparkRings({ points: 4, bucketMs: 1000 });
  rings.grow(2);
  rings.load(1, [1, 2, 3, 4, 5, 6], 100); // more than fit: the newest four
  const out = new Float32Array(4);
  assertEquals(Array.from(out.subarray(0, rings.read(1, out))), [3, 4, 5, 6]);
  rings.push(1, 100_500, 7); // the same bucket: replaces the newest
  rings.push(1, 99_000, 8); // older than the newest bucket: ignored
  rings.push(1, 101_000, 9);
  assertEquals(Array.from(out.subarray(0, rings.read(1, out))), [4, 5, 7, 9]);
  rings.load(1, [], 0);
  assertEquals(rings.read(1, out), 0);
});

Deno.test("a value after a silence of five buckets or more is marked as a break; after a shorter one it is not", () => {
  const rings = new SparkRings({ points: 12, bucketMs: 1000 });
  rings.grow(1);
  rings.push(0, 0, 1);
  rings.push(0, 3_000, 2); // 2 empty buckets: bridged
  rings.push(0, 9_000, 3); // 5 empty buckets: a break
  const values = new Float32Array(12), gaps = new Uint8Array(12);
  const n = rings.read(0, values, gaps);
  assertEquals([Array.from(values.subarray(0, n)), Array.from(gaps.subarray(0, n))], [
    [1, 2, 3],
    [0, 0, 1],
  ]);
});
