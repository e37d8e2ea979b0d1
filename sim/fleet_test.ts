import { assert, assertEquals } from "../tests/assert.ts";
import { Fleet, METRICS } from "./fleet.ts";

const LIMITS = [[-40, 125], [0, 100], [870, 1085]];

Deno.test("fleet readings stay within physical ranges over a simulated week", () => {
  const fleet = new Fleet({ sensors: 50, seed: 3 });
  const out = new Float64Array(METRICS.length);
  for (let t = 0; t < 7 * 86_400_000; t += 60_000) {
    for (let s = 0; s < fleet.size; s++) {
      fleet.read(s, t, out);
      for (let k = 0; k < METRICS.length; k++) {
        assert(out[k] >= LIMITS[k][0] && out[k] <= LIMITS[k][1], `${METRICS[k]} = ${out[k]}`);
      }
    }
  }
});

Deno.test("fleet readings drift (successive values are correlated) and revert toward the baseline", () => {
  const fleet = new Fleet({ sensors: 1, seed: 11 });
  const out = new Float64Array(METRICS.length);
  const temps: number[] = [];
  for (let t = 0; t < 86_400_000; t += 1_000) {
    fleet.read(0, t, out);
    temps.push(out[0]);
  }
  // Lag-1 autocorrelation of a drifting series is near 1; uniform noise gives ~0.
  const mean = temps.reduce((a, b) => a + b, 0) / temps.length;
  let num = 0, den = 0;
  for (let i = 1; i < temps.length; i++) num += (temps[i] - mean) * (temps[i - 1] - mean);
  for (const x of temps) den += (x - mean) ** 2;
  assert(num / den > 0.9, `autocorrelation ${num / den}`);
  // Over a day the mean stays near the baseline: the daily swing averages out.
  assert(
    Math.abs(mean - fleet.baseline(0, 0)) < 2,
    `mean ${mean} vs baseline ${fleet.baseline(0, 0)}`,
  );
});

Deno.test("the same seed gives the same fleet and readings", () => {
  const a = new Fleet({ sensors: 20, seed: 5 });
  const b = new Fleet({ sensors: 20, seed: 5 });
  const c = new Fleet({ sensors: 20, seed: 6 });
  const oa = new Float64Array(3), ob = new Float64Array(3), oc = new Float64Array(3);
  let differs = false;
  for (let s = 0; s < 20; s++) {
    a.read(s, 1000, oa);
    b.read(s, 1000, ob);
    c.read(s, 1000, oc);
    assertEquals([...oa], [...ob]);
    differs ||= oa.some((v, k) => v !== oc[k]);
  }
  assertEquals(a.groups, b.groups);
  assert(differs, "another seed gives other readings");
});

Deno.test("sensors are spread over plants and lines as group paths", () => {
  const fleet = new Fleet({ sensors: 48, plants: 4, linesPerPlant: 6 });
  const groups = new Set(fleet.groups);
  assertEquals(groups.size, 24);
  for (const g of groups) assert(/^plant-[a-d]\/line-[1-6]$/.test(g), g);
  assertEquals(new Set(fleet.ids).size, 48);
});
