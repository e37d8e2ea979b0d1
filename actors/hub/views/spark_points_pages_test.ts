// A page takes more decimals, or widens, by rewriting only its sensors'
// written points: what every sensor reads must be what the dashboard's rings
// read, across pages, rings that wrapped and sensors cleared.
import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { SparkRings } from "../../../web/src/lib/feed/spark_rings.ts";
import { SparkPoints } from "./spark_points.ts";

/** Sensors at the ends of the first three pages (1,024 sensors a page). */
const SENSORS = [0, 1, 2, 1022, 1023, 1024, 1025, 2046, 2047, 2048, 2049];

Deno.test("a page rescaled or widened reads as the dashboard's rings, whichever sensors wrote it", () => {
  const push = fc.record({
    sensor: fc.constantFrom(...SENSORS),
    metric: fc.nat(1),
    second: fc.integer({ min: 0, max: 40 }),
    // Integers, then one to four decimals, some past what int16 holds at those decimals.
    value: fc.tuple(fc.integer({ min: -40_000, max: 40_000 }), fc.nat(4)).map(([k, d]) =>
      k / 10 ** d
    ),
    clear: fc.integer({ min: 0, max: 29 }).map((n) => n === 0),
  });
  fc.assert(
    fc.property(
      fc.array(push, { maxLength: 400 }),
      fc.integer({ min: 1, max: 6 }),
      (pushes, points) => {
        const ours = new SparkPoints({ points });
        const theirs = [0, 1].map(() => new SparkRings({ points }));
        for (const r of theirs) r.grow(SENSORS[SENSORS.length - 1] + 1);
        for (const p of pushes) {
          if (p.clear) {
            ours.clear(p.sensor);
            for (const r of theirs) r.clear(p.sensor);
          }
          ours.push(p.sensor, p.metric, p.second * 1000, p.value);
          theirs[p.metric].push(p.sensor, p.second * 1000, p.value);
        }
        for (const sensor of SENSORS) {
          for (const metric of [0, 1]) {
            const a = new Float32Array(points), b = new Float32Array(points);
            const n = ours.read(sensor, metric, a);
            assertEquals(n, theirs[metric].read(sensor, b));
            assertEquals(
              [...a.subarray(0, n)],
              [...b.subarray(0, n)],
              `sensor ${sensor} metric ${metric}`,
            );
          }
        }
      },
    ),
    { numRuns: 400 },
  );
});
