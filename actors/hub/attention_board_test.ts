import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { AttentionBoard, judge } from "./attention_board.ts";
import { ATTENTION } from "../../protocol/attention.ts";
import { allocateStates } from "../../protocol/columns.ts";

const O = { staleIntervals: 5, offlineAfterMs: 60_000, staleFloorMs: 2_000 };

function updates(rows: [sensor: number, timeMs: number][]) {
  const u = allocateStates(rows.length);
  rows.forEach(([s, t], i) => {
    u.sensor[i] = s;
    u.timeMs[i] = t;
  });
  return u;
}

Deno.test("a sensor is stale after N of its usual intervals and offline after the fixed time", () => {
  const board = new AttentionBoard(O);
  board.enter([{ index: 0, id: "a", group: "g" }], 0);
  // Readings every 1 s of event time, arriving as they are made.
  for (let t = 0; t <= 10_000; t += 1_000) board.arrive(updates([[0, t]]), t);
  assertEquals(board.intervalMs(0), 1_000);
  const codeAt = (now: number) => {
    const changed: [number, number][] = [];
    board.evaluate(now, changed);
    return board.code(0);
  };
  assertEquals(codeAt(10_000), ATTENTION.ok);
  assertEquals(codeAt(14_900), ATTENTION.ok);
  assertEquals(codeAt(15_100), ATTENTION.stale, "5 × 1 s after the last reading");
  assertEquals(codeAt(70_100), ATTENTION.offline, "60 s after it");
  board.arrive(updates([[0, 70_000]]), 70_200);
  assertEquals(codeAt(70_200), ATTENTION.ok, "a reading brings it back");
  board.setLevel(0, 2);
  assertEquals(codeAt(70_300), ATTENTION.critical);
  assertEquals([...board.counts], [0, 0, 0, 0, 0, 1]);
});

Deno.test("a sensor learned of at a restart counts from the restart, not from its old readings", () => {
  const board = new AttentionBoard(O);
  const restartAt = 1_000_000;
  board.enter([{ index: 3, id: "x", group: "g" }], restartAt);
  // The restored state: its newest reading is from long before the restart.
  board.arrive(updates([[3, 10_000]]), restartAt);
  const changed: [number, number][] = [];
  board.evaluate(restartAt + 1_000, changed);
  assertEquals(changed, [[3, ATTENTION.ok]]);
  board.evaluate(restartAt + 61_000, changed);
  assertEquals(board.code(3), ATTENTION.offline);
});

Deno.test("judge agrees with its definition over random silences, levels and intervals", () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 200_000 }),
    fc.integer({ min: 0, max: 2 }),
    fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: NaN }),
    (silence, level, interval) => {
      const staleAfter = Number.isNaN(interval) ? 2_000 : Math.max(2_000, 5 * interval);
      const expected = silence > Math.max(60_000, 2 * staleAfter)
        ? "offline"
        : silence > staleAfter
        ? "stale"
        : ["ok", "warn", "critical"][level];
      const code = judge(silence, level, interval, O);
      assertEquals(code, ATTENTION[expected as keyof typeof ATTENTION]);
    },
  ));
});

Deno.test("removed sensors leave the counts", () => {
  const board = new AttentionBoard(O);
  board.enter([{ index: 0, id: "a", group: "g" }, { index: 1, id: "b", group: "g" }], 0);
  board.evaluate(0, []);
  assertEquals(board.counts[ATTENTION.ok], 2);
  board.remove(1);
  assertEquals(board.counts[ATTENTION.ok], 1);
  assertEquals(board.code(1), ATTENTION.unknown);
});

Deno.test("judging only the sensors whose code may have changed gives every sensor its judged code", () => {
  // Any sequence of arrivals, level changes, enters, removes and evaluations
  // (the clock mostly forward, sometimes set back; only the dirty sensors and
  // the blocks that may hold a due one are looked at): after each evaluation
  // every known sensor's code is `judge` of its silence, level and interval,
  // and `changed` lists exactly the sensors whose code moved.
  // A few sensors, and some spread over several of the blocks an evaluation looks at (DueBlocks).
  const sensor = fc.oneof(fc.nat(7), fc.nat(800));
  const op = fc.oneof(
    fc.record({ kind: fc.constant("arrive" as const), sensor, gapMs: fc.nat(20_000) }),
    fc.record({ kind: fc.constant("level" as const), sensor, level: fc.nat(2) }),
    fc.record({ kind: fc.constant("enter" as const), sensor }),
    fc.record({ kind: fc.constant("remove" as const), sensor }),
    fc.record({
      kind: fc.constant("evaluate" as const),
      // Ticks too, and times between milliseconds.
      stepMs: fc.oneof(
        fc.nat(30_000),
        fc.integer({ min: -5_000, max: 0 }),
        fc.double({ min: 0, max: 300, noNaN: true }),
      ),
    }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const board = new AttentionBoard(O);
      const known = new Map<number, { arrivedAt: number; eventMs: number }>();
      // The shards' level is kept whether or not the sensor is known yet; removing a known one forgets it.
      const levels = new Map<number, number>();
      const codes = new Map<number, number>();
      let now = 1_000_000;
      for (const o of ops) {
        if (o.kind === "enter") {
          board.enter([{ index: o.sensor, id: `s${o.sensor}`, group: "g" }], now);
          if (!known.has(o.sensor)) known.set(o.sensor, { arrivedAt: now, eventMs: 0 });
        } else if (o.kind === "remove") {
          board.remove(o.sensor);
          if (known.delete(o.sensor)) levels.delete(o.sensor); // an unknown sensor keeps it
          codes.delete(o.sensor);
        } else if (o.kind === "level") {
          board.setLevel(o.sensor, o.level);
          levels.set(o.sensor, o.level);
        } else if (o.kind === "arrive") {
          const k = known.get(o.sensor);
          const eventMs = (k?.eventMs ?? 0) + o.gapMs;
          board.arrive(updates([[o.sensor, eventMs]]), now);
          if (k) {
            k.arrivedAt = now;
            k.eventMs = Math.max(k.eventMs, eventMs);
          }
        } else {
          now += o.stepMs;
          const changed: [number, number][] = [];
          board.evaluate(now, changed);
          const moved: [number, number][] = [];
          for (const [s, k] of [...known].sort(([a], [b]) => a - b)) {
            const code = judge(now - k.arrivedAt, levels.get(s) ?? 0, board.intervalMs(s), O);
            assertEquals(board.code(s), code, `sensor ${s} at ${now}`);
            if ((codes.get(s) ?? ATTENTION.unknown) !== code) moved.push([s, code]);
            codes.set(s, code);
          }
          assertEquals(changed, moved);
        }
      }
    }),
    { numRuns: 1000 },
  );
});
