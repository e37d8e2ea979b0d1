import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { RecentTicks } from "./recent_ticks.ts";

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
          recent.record({
            tickNo,
            seqAfter: ++seq,
            sensors: [],
            metrics: [],
            removed: [],
            restarted: [],
            aggregates: [],
            late: [],
          }, columns);
          // The caller reuses its columns for the next tick.
          columns.sensor.fill(1);
          columns.metric.fill(2);
          model.push({ tickNo, keys: tick.keys });
          for (let since = tickNo - span - 1; since <= tickNo; since++) {
            const got = recent.after(since).map((p) => ({
              tickNo: p.tickNo,
              keys: Array.from(
                { length: p.updates.length },
                (_, i): [number, number] => [p.updates.sensor[i], p.updates.metric[i]],
              ),
            }));
            assertEquals(got, model.filter((m) => m.tickNo > since));
          }
        });
      },
    ),
    { numRuns: 150 },
  );
});
