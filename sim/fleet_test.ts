import { assert, assertEquals } from "../tests/testing/assert.ts";
import { Fleet, METRICS, MODELS } from "./fleet.ts";

/** A fleet with only the OU walk: no daily swing, steps or spikes. */
function walkOnly(sensors: number, seed: number): Fleet {
  return new Fleet({ sensors, seed, swing: 0, stepsPerHour: 0, spikeChance: 0 });
}

Deno.test("fleet readings stay within physical ranges and at 0.1 resolution over a simulated week", () => {
  // Frequent steps and spikes push values toward the limits.
  const fleet = new Fleet({ sensors: 40, seed: 3, stepsPerHour: 20, spikeChance: 0.05 });
  const out = new Float64Array(METRICS.length);
  for (let t = 0; t < 7 * 86_400_000; t += 60_000) {
    for (let s = 0; s < fleet.size; s++) {
      fleet.read(s, t, out);
      for (let k = 0; k < METRICS.length; k++) {
        const { min, max } = MODELS[k];
        assert(out[k] >= min && out[k] <= max, `${METRICS[k]} = ${out[k]}`);
        assert(Math.abs(out[k] * 10 - Math.round(out[k] * 10)) < 1e-6, `${out[k]} is not at 0.1`);
      }
    }
  }
});

Deno.test("fleet walk reverts toward the baseline at the modelled rate (lag regression slope)", () => {
  // For an OU process, E[x(t+Δ) − b | x(t) − b] = (x(t) − b)·exp(−θΔ); a plain
  // random walk would give 1 and uniform noise 0.
  const sensors = 20, lag = 20;
  const fleet = walkOnly(sensors, 11);
  const out = new Float64Array(METRICS.length);
  const series = METRICS.map(() => Array.from({ length: sensors }, () => [] as number[]));
  for (let t = 0; t < 6 * 3_600_000; t += 1_000) {
    for (let s = 0; s < sensors; s++) {
      fleet.read(s, t, out);
      for (let k = 0; k < METRICS.length; k++) series[k][s].push(out[k] - fleet.baseline(s, k));
    }
  }
  for (let k = 0; k < METRICS.length; k++) {
    let num = 0, den = 0;
    for (const xs of series[k]) {
      for (let i = 0; i + lag < xs.length; i++) {
        num += xs[i] * xs[i + lag];
        den += xs[i] * xs[i];
      }
    }
    const expected = Math.exp(-MODELS[k].reversion * lag);
    assert(
      Math.abs(num / den - expected) < 0.05,
      `${METRICS[k]}: slope ${num / den}, expected ${expected}`,
    );
  }
});

Deno.test("fleet spread around baselines stays at the walk's stationary level instead of growing", () => {
  const sensors = 400;
  const fleet = walkOnly(sensors, 5);
  const out = new Float64Array(METRICS.length);
  const spreadAt = (hours: number[]) => {
    const result: number[][] = [];
    let t = 0;
    for (const h of hours) {
      for (; t <= h * 3_600_000; t += 10_000) {
        for (let s = 0; s < sensors; s++) fleet.read(s, t, out);
      }
      const sums = METRICS.map(() => 0);
      for (let s = 0; s < sensors; s++) {
        fleet.read(s, t, out);
        for (let k = 0; k < METRICS.length; k++) sums[k] += (out[k] - fleet.baseline(s, k)) ** 2;
      }
      result.push(sums.map((x) => Math.sqrt(x / sensors)));
    }
    return result;
  };
  const [early, late] = spreadAt([1, 12]);
  for (let k = 0; k < METRICS.length; k++) {
    const { volatility, reversion } = MODELS[k];
    const stationary = volatility / Math.sqrt(2 * reversion);
    for (const spread of [early[k], late[k]]) {
      assert(
        Math.abs(spread / stationary - 1) < 0.15,
        `${METRICS[k]}: spread ${spread}, stationary ${stationary}`,
      );
    }
  }
});

Deno.test("spikes come at the configured chance, are marked warn and stand out by their size", () => {
  const fleet = new Fleet({ sensors: 100, seed: 9, spikeChance: 0.01, stepsPerHour: 0, swing: 0 });
  const out = new Float64Array(METRICS.length);
  let readings = 0, warns = 0, outliers = 0;
  for (let t = 0; t < 2_000_000; t += 1_000) {
    for (let s = 0; s < fleet.size; s++) {
      const status = fleet.read(s, t, out);
      readings++;
      if (status !== "warn") continue;
      warns++;
      // Exactly one metric jumps by its spike size, far beyond the walk's spread.
      const far = METRICS.filter((_, k) =>
        Math.abs(out[k] - fleet.baseline(s, k)) > MODELS[k].spike / 2
      ).length;
      if (far >= 1) outliers++;
    }
  }
  const expected = readings * 0.01;
  assert(Math.abs(warns - expected) < 4 * Math.sqrt(expected), `${warns} warns, ~${expected}`);
  assert(outliers >= warns * 0.95, `${outliers} of ${warns} spikes stand out`);
});

Deno.test("the same seed gives the same fleet, order and readings", () => {
  const a = new Fleet({ sensors: 20, seed: 5 });
  const b = new Fleet({ sensors: 20, seed: 5 });
  const c = new Fleet({ sensors: 20, seed: 6 });
  const oa = new Float64Array(3), ob = new Float64Array(3), oc = new Float64Array(3);
  let differs = false;
  for (let i = 0; i < 200; i++) {
    const s = a.nextSensor();
    assertEquals(b.nextSensor(), s);
    c.nextSensor();
    assertEquals(a.read(s, i * 100, oa), b.read(s, i * 100, ob));
    c.read(s, i * 100, oc);
    assertEquals([...oa], [...ob]);
    differs ||= oa.some((v, k) => v !== oc[k]);
  }
  assertEquals(a.groups, b.groups);
  assert(differs, "another seed gives other readings");
});

Deno.test("each sensor reports once per round, evenly spaced, so it gets rate / sensors", () => {
  const sensors = 997;
  const fleet = new Fleet({ sensors, seed: 2 });
  const counts = new Uint32Array(sensors);
  const lastAt = new Int32Array(sensors).fill(-1);
  const rounds = 5;
  for (let i = 0; i < rounds * sensors; i++) {
    const s = fleet.nextSensor();
    counts[s]++;
    if (lastAt[s] >= 0) assertEquals(i - lastAt[s], sensors, "gap between two reports");
    lastAt[s] = i;
  }
  assert(counts.every((n) => n === rounds), "every sensor reported once per round");
  // The order is spread: neighbours in it are rarely neighbours by index.
  const fresh = new Fleet({ sensors, seed: 2 });
  let adjacent = 0;
  for (let i = 0, prev = fresh.nextSensor(); i < sensors - 1; i++) {
    const s = fresh.nextSensor();
    if (Math.abs(s - prev) === 1) adjacent++;
    prev = s;
  }
  assert(adjacent < 20, `${adjacent} index neighbours in a row`);
});

Deno.test("sensors are spread over plants and lines as group paths", () => {
  const fleet = new Fleet({ sensors: 48, plants: 4, linesPerPlant: 6 });
  const groups = new Set(fleet.groups);
  assertEquals(groups.size, 24);
  for (const g of groups) assert(/^plant-[a-d]\/line-[1-6]$/.test(g), g);
  assertEquals(new Set(fleet.ids).size, 48);
});
