import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import type { FleetNames } from "../../actors/shards/mod.ts";
import { blockFromReadings, refusalKind } from "./readings/mod.ts";
import { FleetLimit } from "./fleet_limit.ts";

/** The router's names as the shards learn them: only what was handed over with `route`. */
class RoutedNames implements FleetNames {
  readonly sensors = new Set<string>();
  readonly metrics = new Set<string>();
  readonly maxMetrics: number;
  droppedValues = 0;
  constructor(maxMetrics: number) {
    this.maxMetrics = maxMetrics;
  }
  get sensorCount() {
    return this.sensors.size;
  }
  get metricCount() {
    return this.metrics.size;
  }
  hasSensor(id: string) {
    return this.sensors.has(id);
  }
  hasMetric(name: string) {
    return this.metrics.has(name);
  }
  route(readings: readonly { sensorId: string; values: Record<string, number> }[]) {
    for (const r of readings) {
      this.sensors.add(r.sensorId);
      for (const m of Object.keys(r.values)) this.metrics.add(m);
    }
  }
}

const reading = (sensorId: string, metrics: string[]) => ({
  sensorId,
  timeMs: 1_000,
  values: Object.fromEntries(metrics.map((m, i) => [m, i])),
});

Deno.test("batches keep the fleet within its caps however they interleave with routing, and known names are never refused", () => {
  // Sensor ids and metric names from one pool: a string may be both in one batch.
  const batchArb = fc.array(
    fc.record({
      sensor: fc.integer({ min: 0, max: 11 }),
      metrics: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { minLength: 1, maxLength: 4 }),
    }),
    { minLength: 1, maxLength: 12 },
  );
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 8 }),
    fc.integer({ min: 1, max: 6 }),
    fc.array(fc.record({ batch: batchArb, routed: fc.boolean() }), { minLength: 1, maxLength: 8 }),
    (maxSensors, maxMetrics, steps) => {
      const names = new RoutedNames(maxMetrics);
      const fleet = new FleetLimit(names, { maxSensors, now: () => 0 });
      // Recomputed: every name of every reading accepted so far, routed or not.
      const sensors = new Set<string>(), metrics = new Set<string>();
      const unrouted: ReturnType<typeof reading>[] = [];
      for (const { batch, routed } of steps) {
        const readings = batch.map((r) => reading(`n${r.sensor}`, r.metrics.map((m) => `n${m}`)));
        const kept = fleet.keep({ block: blockFromReadings(readings), refused: [] });
        const refusedAt = new Set(kept.refused.map((r) => r.index));
        assertEquals(kept.block.length + kept.refused.length, readings.length);
        readings.forEach((r, index) => {
          const names = Object.keys(r.values);
          if (!refusedAt.has(index)) {
            sensors.add(r.sensorId);
            names.forEach((m) => metrics.add(m));
            unrouted.push(r);
            return;
          }
          const reason = kept.refused.find((x) => x.index === index)!.reason;
          // A refusal is only ever for a name that is new, at a full cap.
          if (reason.includes("--max-sensors")) {
            assert(!sensors.has(r.sensorId), `known sensor ${r.sensorId} refused`);
            assertEquals(sensors.size, maxSensors);
          } else {
            const fresh = names.filter((m) => !metrics.has(m));
            assert(fresh.length > 0, `known metrics refused: ${reason}`);
            assert(metrics.size + fresh.length > maxMetrics, `room left: ${reason}`);
          }
        });
        assert(sensors.size <= maxSensors, `${sensors.size} sensors over ${maxSensors}`);
        assert(metrics.size <= maxMetrics, `${metrics.size} metrics over ${maxMetrics}`);
        if (routed) names.route(unrouted.splice(0));
      }
    },
  ));
});

Deno.test("one reading at a time (MQTT) is taken or refused by the same caps, and counted", () => {
  const names = new RoutedNames(3);
  const fleet = new FleetLimit(names, { maxSensors: 2, now: () => 0 });
  assertEquals(fleet.admit("a", ["t", "h"]), null);
  assertEquals(fleet.admit("b", ["t"]), null);
  assert(fleet.admit("c", ["t"])!.endsWith("at most 2 sensors (--max-sensors)"));
  // Two new names where one fits: the reading is refused whole, nothing taken.
  assert(fleet.admit("a", ["p", "q"])!.startsWith('metric name "q" is new'));
  assertEquals(fleet.admit("b", ["p"]), null);
  assertEquals(fleet.admit("a", ["t", "h", "p"]), null);
  const stats = fleet.stats();
  assertEquals([stats.refusedNewSensors, stats.refusedNewMetricNames], [1, 1]);
});

Deno.test("names taken but never routed (a failed append) stop counting after pendingMs", () => {
  const names = new RoutedNames(1024);
  let now = 0;
  const fleet = new FleetLimit(names, { maxSensors: 2, pendingMs: 60_000, now: () => now });
  assertEquals(fleet.admit("lost-1", ["t"]), null);
  assertEquals(fleet.admit("lost-2", ["t"]), null);
  assert(fleet.admit("c", ["t"]) !== null);
  now = 59_000;
  assert(fleet.admit("c", ["t"]) !== null, "still pending");
  now = 61_000;
  assertEquals(fleet.admit("c", ["t"]), null);
  // A routed name counts through the router, not twice: c is in the fleet, room for one more.
  names.route([reading("c", ["t"])]);
  assertEquals(fleet.admit("d", ["t"]), null);
  assert(fleet.admit("e", ["t"]) !== null, "c and d fill the fleet");
});

Deno.test("a take-over leaves the rows its first attempt appended unjudged, and judges the rest", () => {
  const names = new RoutedNames(1024);
  names.route([reading("a", ["t"])]);
  const fleet = new FleetLimit(names, { maxSensors: 1, now: () => 0 });
  const block = blockFromReadings([reading("b", ["t"]), reading("c", ["t"]), reading("a", ["t"])]);
  // Rows 0 and 1 were appended before the crash: not judged again, not counted.
  const kept = fleet.keep({ block, refused: [] }, 2);
  assertEquals([kept.block.length, kept.refused], [3, []]);
  // Judged from row 1: c is new and the fleet is full.
  const judged = fleet.keep({ block, refused: [] }, 1);
  assertEquals(judged.refused.map((r) => r.index), [1]);
  assertEquals(fleet.stats().refusedNewSensors, 1);
});

Deno.test("the caps' refusals are counted as such, whatever the names they quote", () => {
  const names = new RoutedNames(1);
  names.route([reading("known", ["t"])]);
  const fleet = new FleetLimit(names, { maxSensors: 1, now: () => 0 });
  for (const id of ["sensorId-7", "group-a", "status_timestamp"]) {
    assertEquals(refusalKind(fleet.admit(id, ["t"])!), "fleet_full", id);
  }
  assertEquals(refusalKind(fleet.admit("known", ["sensorId_timestamp"])!), "metric_names_full");
});

Deno.test("a take-over refuses again the rows its first attempt refused for a cap, when the log's names say which", () => {
  const names = new RoutedNames(1024);
  // The first attempt, at a full cap (a known): b refused, a appended (through 2, appended 1).
  names.route([reading("a", ["t"])]);
  const fleet = new FleetLimit(names, { maxSensors: 1, now: () => 0 });
  const block = blockFromReadings([reading("b", ["t"]), reading("a", ["t"]), reading("c", ["t"])]);
  const again = fleet.keepTakenOver({ block, refused: [] }, 2, 1);
  assertEquals(again.refused.map((r) => r.index), [0, 2]);
  assertEquals(refusalKind(again.refused[0].reason), "fleet_full");
  assertEquals(again.block.length, 1);
  // The router has not read the log that far (a unknown too): the counts disagree, so the
  // rows before `through` are left as they are and only c is judged.
  const lagging = new FleetLimit(new RoutedNames(1024), { maxSensors: 1, now: () => 0 });
  const unjudged = lagging.keepTakenOver({ block, refused: [] }, 2, 1);
  assertEquals(unjudged.refused.map((r) => r.index), []);
  assertEquals(unjudged.block.length, 3);
});

Deno.test("while the router refills (its counts partial), new names wait and the caps hold once it is whole; names it has are taken", () => {
  // The source holds a fleet already; a rebuild empties the router and refills it
  // in steps, while batches (every kind of writer) come in between.
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 8 }),
    fc.integer({ min: 1, max: 6 }),
    fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { minLength: 1, maxLength: 8 }),
    fc.array(
      fc.record({
        sensor: fc.integer({ min: 0, max: 11 }),
        metrics: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { minLength: 1, maxLength: 3 }),
        refill: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 1, maxLength: 16 },
    ),
    (maxSensors, maxMetrics, stored, steps) => {
      // What the source holds, within the caps (the fleet before the rebuild).
      const source = stored.slice(0, maxSensors).map((n, i) =>
        reading(`n${n}`, [`n${stored[i % Math.min(stored.length, maxMetrics)]}`])
      );
      const names = new RoutedNames(maxMetrics);
      let refilled = 0;
      const fleet = new FleetLimit(names, {
        maxSensors,
        now: () => 0,
        settled: () => refilled === source.length,
      });
      const accepted: ReturnType<typeof reading>[] = [];
      for (const { sensor, metrics, refill } of steps) {
        names.route(source.slice(refilled, refilled += Math.min(refill, source.length - refilled)));
        const r = reading(`n${sensor}`, metrics.map((m) => `n${m}`));
        const partial = refilled < source.length;
        const known = names.hasSensor(r.sensorId) &&
          Object.keys(r.values).every((m) => names.hasMetric(m));
        let kept;
        try {
          kept = fleet.keep({ block: blockFromReadings([r]), refused: [] });
        } catch (error) {
          assert(error instanceof Deno.errors.Busy, String(error));
          assert(partial && !known, "only a new name waits, and only while the router refills");
          continue;
        }
        if (partial) assert(known && kept.block.length === 1, "taken: it adds nothing");
        if (kept.block.length === 1) accepted.push(r);
      }
      // The refill ends, and what was taken reaches the router after it.
      names.route(source.slice(refilled));
      names.route(accepted);
      assert(names.sensorCount <= maxSensors, `${names.sensorCount} sensors over ${maxSensors}`);
      assert(names.metricCount <= maxMetrics, `${names.metricCount} metrics over ${maxMetrics}`);
    },
  ));
});

/** Whether `run` throws Busy (503: send it again shortly). */
function waits(run: () => unknown): boolean {
  try {
    run();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.Busy) return true;
    throw error;
  }
}

Deno.test("one reading (MQTT) with a new name waits while the router refills; a take-over with rows it does not know waits too", () => {
  const names = new RoutedNames(1024);
  names.route([reading("a", ["t"])]);
  let settled = false;
  const fleet = new FleetLimit(names, { maxSensors: 10, now: () => 0, settled: () => settled });
  assertEquals(fleet.admit("a", ["t"]), null, "known names are taken");
  assert(waits(() => fleet.admit("b", ["t"])), "a new sensor");
  assert(waits(() => fleet.admit("a", ["h"])), "a new metric name");
  const block = blockFromReadings([reading("b", ["t"]), reading("a", ["t"])]);
  // Row 0 (b) was appended before the crash and the router has not routed it yet.
  assert(waits(() => fleet.keepTakenOver({ block, refused: [] }, 1, 1)), "a take-over");
  assertEquals(fleet.stats().refusedNewSensors + fleet.stats().refusedNewMetricNames, 0);
  settled = true;
  assertEquals(fleet.admit("b", ["h"]), null);
});
