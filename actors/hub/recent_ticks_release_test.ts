import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { RecentTicks } from "./recent_ticks.ts";

function keys(pairs: [number, number][]) {
  return {
    length: pairs.length,
    sensor: Uint32Array.from(pairs, ([s]) => s),
    metric: Uint16Array.from(pairs, ([, m]) => m),
  };
}

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
            recent.record({
              tickNo,
              seqAfter: seq,
              sensors: [],
              metrics: [],
              removed: [],
              restarted: [],
              aggregates: [],
              late: [],
            }, keys(tick.keys));
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
              keys: Array.from(
                { length: p.updates.length },
                (_, i): [number, number] => [p.updates.sensor[i], p.updates.metric[i]],
              ),
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
    recent.record({
      tickNo,
      seqAfter: tickNo,
      sensors: [],
      metrics: [],
      removed: [],
      restarted: [],
      aggregates: [],
      late: [],
    }, keys([[tickNo, 0]]));
    recent.release(tickNo);
    assertEquals(recent.after(tickNo - 1).length, 0);
    assertEquals(recent.seqAt(tickNo), tickNo);
    assertEquals(recent.covers(tickNo), true);
  }
});
