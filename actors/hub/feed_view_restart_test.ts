import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { shardChanges } from "../../tests/shard_changes.ts";
import type { StateRow } from "../../tests/shard_changes.ts";
import { FeedView } from "./feed_view.ts";
import type { TickChanges } from "./feed_view.ts";

type Op =
  | { kind: "read"; sensor: number; metric: number; value: number }
  | { kind: "remove"; sensor: number };

const SENSORS = 4, METRICS = 3;
const entry = (s: number) => ({ index: s, id: `s${s}`, group: "g" });

/**
 * One shard's flush of `ops`, as the shard reports it: every removal in
 * order, the sensors new since the last flush (or since their removal in
 * it), and the latest value of each live sensor's metrics read after its
 * last removal. `live`: the shard's sensors, carried from flush to flush.
 */
function flushOf(ops: readonly Op[], live: Set<number>) {
  const removed: number[] = [];
  const entered = new Set<number>();
  const latest = new Map<number, StateRow>();
  let time = 0;
  for (const op of ops) {
    if (op.kind === "remove") {
      if (!live.has(op.sensor)) continue;
      live.delete(op.sensor);
      entered.delete(op.sensor);
      removed.push(op.sensor);
      for (let m = 0; m < METRICS; m++) latest.delete(op.sensor * METRICS + m);
      continue;
    }
    if (!live.has(op.sensor)) {
      live.add(op.sensor);
      entered.add(op.sensor);
    }
    latest.set(op.sensor * METRICS + op.metric, {
      sensor: op.sensor,
      metric: op.metric,
      last: op.value,
      timeMs: ++time,
    });
  }
  return shardChanges({
    sensors: [...entered].map(entry),
    metrics: Array.from({ length: METRICS }, (_, m) => `m${m}`),
    updates: [...latest.values()],
    removed,
  });
}

/** The recomputation: each sensor's metrics as the readings since its last removal left them. */
function recompute(flushes: readonly (readonly Op[])[]): Map<number, Map<number, number>> {
  const state = new Map<number, Map<number, number>>();
  for (const ops of flushes) {
    for (const op of ops) {
      if (op.kind === "remove") state.delete(op.sensor);
      else {
        if (!state.has(op.sensor)) state.set(op.sensor, new Map());
        state.get(op.sensor)!.set(op.metric, op.value);
      }
    }
  }
  return state;
}

/** What the view holds, in the recomputation's shape. */
function viewState(view: FeedView): Map<number, Map<number, number>> {
  const state = new Map<number, Map<number, number>>();
  for (const s of view.sensors()) state.set(s.index, new Map());
  const { values } = view.snapshot();
  for (let i = 0; i < values.length; i++) {
    state.get(values.sensor[i])!.set(values.metric[i], values.last[i]);
  }
  return state;
}

/** A consumer of the ticks' changes (as clients are): drops removed and restarted sensors, then takes the updates. */
function follow(held: Map<number, Map<number, number>>, tick: TickChanges): void {
  for (const s of [...tick.removed, ...tick.restarted]) held.delete(s);
  for (const s of tick.sensors) if (!held.has(s.index)) held.set(s.index, new Map());
  const u = tick.updates;
  for (let i = 0; i < u.length; i++) held.get(u.sensor[i])!.set(u.metric[i], u.last[i]);
}

const sorted = (state: Map<number, Map<number, number>>) =>
  [...state].sort(([a], [b]) => a - b).map(([s, m]) => [s, [...m].sort(([a], [b]) => a - b)]);

Deno.test("a sensor removed and re-added in one flush leaves the view and its ticks' followers as a fresh sensor with only the new readings", () => {
  const view = new FeedView();
  const follower = new Map<number, Map<number, number>>();
  const live = new Set<number>();
  const first: Op[] = [
    { kind: "read", sensor: 0, metric: 0, value: 90 },
    { kind: "read", sensor: 0, metric: 1, value: 40 },
    { kind: "read", sensor: 1, metric: 0, value: 5 },
  ];
  const second: Op[] = [
    { kind: "remove", sensor: 0 },
    { kind: "read", sensor: 0, metric: 0, value: 3 },
  ];
  follow(follower, view.apply([flushOf(first, live)])!);
  const tick = view.apply([flushOf(second, live)])!;
  follow(follower, tick);
  assertEquals(tick.restarted, [0]);
  assertEquals(tick.removed, []);
  assertEquals(tick.previous.has[0], 0, "the new reading replaced nothing");
  const expected = [[0, [[0, 3]]], [1, [[0, 5]]]];
  assertEquals(sorted(viewState(view)), expected);
  assertEquals(sorted(follower), expected);
});

Deno.test("random adds, removals and readings within flushes: the view, and a follower of its ticks, equal a recomputation from the readings", () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("read" as const),
        sensor: fc.nat(SENSORS - 1),
        metric: fc.nat(METRICS - 1),
        value: fc.integer({ min: -1000, max: 1000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("remove" as const), sensor: fc.nat(SENSORS - 1) }),
    },
  );
  fc.assert(
    fc.property(
      fc.array(fc.array(op, { maxLength: 12 }), { minLength: 1, maxLength: 8 }),
      (flushes) => {
        const view = new FeedView();
        const follower = new Map<number, Map<number, number>>();
        const live = new Set<number>();
        for (let f = 0; f < flushes.length; f++) {
          const before = new Set(view.sensors().map((s) => s.index));
          const tick = view.apply([flushOf(flushes[f], live)]);
          if (!tick) continue;
          follow(follower, tick);
          // Restarted: known before the flush, removed in it, live after it; removed: not live after.
          // A sensor known before the flush is live at its start: its first removal there removes it.
          const wasRemoved = [
            ...new Set(
              flushes[f].flatMap((o) =>
                o.kind === "remove" && before.has(o.sensor) ? [o.sensor] : []
              ),
            ),
          ];
          assertEquals(
            [...tick.restarted].sort(),
            wasRemoved.filter((s) => live.has(s)).sort(),
            `flush ${f}: restarted`,
          );
          assertEquals(
            [...tick.removed].sort(),
            wasRemoved.filter((s) => !live.has(s)).sort(),
            `flush ${f}: removed`,
          );
          const restarted = new Set(tick.restarted);
          for (let i = 0; i < tick.updates.length; i++) {
            if (restarted.has(tick.updates.sensor[i])) assertEquals(tick.previous.has[i], 0);
          }
        }
        const expected = sorted(recompute(flushes));
        assertEquals(sorted(viewState(view)), expected);
        assertEquals(sorted(follower), expected);
      },
    ),
    { numRuns: 500 },
  );
});
