import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { RecentTicks } from "./recent_ticks.ts";

/** A tick's parts with nothing but its number and seq: the tests look at its update keys. */
function emptyTick(tickNo: number, seqAfter: number) {
  return {
    tickNo,
    seqAfter,
    sensors: [],
    metrics: [],
    removed: [],
    restarted: [],
    aggregates: [],
    late: [],
  };
}

/** A kept tick's update keys as [sensor, metric] pairs. */
function keysOf(p: { updates: { length: number; sensor: Uint32Array; metric: Uint16Array } }) {
  return Array.from(
    { length: p.updates.length },
    (_, i): [number, number] => [p.updates.sensor[i], p.updates.metric[i]],
  );
}

/** A tick's keys as exact-length columns. */
function keys(pairs: [number, number][]) {
  return {
    length: pairs.length,
    sensor: Uint32Array.from(pairs, ([s]) => s),
    metric: Uint16Array.from(pairs, ([, m]) => m),
  };
}

/** A tick's keys as the stream hands them over: scratch columns, longer than the tick. */
function scratch(keys: [number, number][]) {
  const sensor = new Uint32Array(keys.length + 7).fill(0xdead);
  const metric = new Uint16Array(keys.length + 7).fill(0xbeef);
  keys.forEach(([s, m], i) => {
    sensor[i] = s;
    metric[i] = m;
  });
  return { length: keys.length, sensor, metric };
}

Deno.test("recent ticks keep each tick's update keys as recorded, though the caller's columns and dropped ticks' buffers are written again", () => {
  const tickArb = fc.record({
    news: fc.boolean(),
    keys: fc.array(fc.tuple(fc.nat(0xffff_ffff), fc.nat(0xffff)), { maxLength: 200 }),
    restart: fc.integer({ min: 0, max: 30 }),
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.array(tickArb, { maxLength: 60 }),
      (span, ticks) => {
        const recent = new RecentTicks(span);
        // The model: every tick recorded, as plain arrays, pruned by the same rule.
        let model: { tickNo: number; keys: [number, number][] }[] = [];
        recent.start(1, 0);
        let seq = 0;
        ticks.forEach((tick, t) => {
          const tickNo = t + 1;
          if (tick.restart === 0) {
            recent.stop();
            model = [];
            recent.start(tickNo, seq);
          }
          recent.prune(tickNo);
          model = model.filter((m) => m.tickNo >= tickNo - span + 1);
          if (!tick.news) return;
          const columns = scratch(tick.keys);
          recent.record(emptyTick(tickNo, ++seq), columns);
          // The caller reuses its columns for the next tick.
          columns.sensor.fill(1);
          columns.metric.fill(2);
          model.push({ tickNo, keys: tick.keys });
          for (let since = tickNo - span - 1; since <= tickNo; since++) {
            const got = recent.after(since).map((p) => ({
              tickNo: p.tickNo,
              keys: keysOf(p),
            }));
            assertEquals(got, model.filter((m) => m.tickNo > since));
          }
        });
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("recent ticks released through the oldest session's tick answer every later since as if none were released", () => {
  const tickArb = fc.record({
    news: fc.boolean(),
    keys: fc.array(fc.tuple(fc.nat(0xffff_ffff), fc.nat(0xffff)), { maxLength: 20 }),
    // How many ticks behind the newest the oldest session is after this tick's offers.
    behind: fc.nat(12),
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.array(tickArb, { maxLength: 50 }),
      (span, ticks) => {
        const recent = new RecentTicks(span);
        // The model: every tick with news and its seq after, never dropped.
        const history: { tickNo: number; seqAfter: number; keys: [number, number][] }[] = [];
        const from = 1;
        recent.start(from, 0);
        let seq = 0;
        // No session may go back: each `since` asked is at or after every release.
        let released = 0;
        ticks.forEach((tick, t) => {
          const tickNo = t + 1;
          recent.prune(tickNo);
          if (tick.news) {
            seq++;
            recent.record(emptyTick(tickNo, seq), keys(tick.keys));
            history.push({ tickNo, seqAfter: seq, keys: tick.keys });
          }
          released = Math.max(released, tickNo - tick.behind);
          recent.release(released);
          // Covered from the start, less what the span let go (`prune`'s rule).
          const coveredFrom = Math.max(from, tickNo - span + 1);
          for (let since = released; since <= tickNo; since++) {
            assertEquals(recent.covers(since), since + 1 >= coveredFrom);
            if (!recent.covers(since)) continue;
            const before = history.filter((h) => h.tickNo <= since);
            assertEquals(recent.seqAt(since), before.length > 0 ? before.at(-1)!.seqAfter : 0);
            const got = recent.after(since).map((p) => ({
              tickNo: p.tickNo,
              seqAfter: p.seqAfter,
              keys: keysOf(p),
            }));
            assertEquals(got, history.filter((h) => h.tickNo > since));
          }
        });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("recent ticks released through the newest tick keep none of its parts", () => {
  const recent = new RecentTicks(10);
  recent.start(1, 0);
  for (let tickNo = 1; tickNo <= 5; tickNo++) {
    recent.prune(tickNo);
    recent.record(emptyTick(tickNo, tickNo), keys([[tickNo, 0]]));
    recent.release(tickNo);
    assertEquals(recent.after(tickNo - 1).length, 0);
    assertEquals(recent.seqAt(tickNo), tickNo);
    assertEquals(recent.covers(tickNo), true);
  }
});
