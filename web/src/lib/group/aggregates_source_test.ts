import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { pollingAggregates } from "./aggregates_source.ts";
import type { AggregatesQuery, GroupAggregates } from "../api/mod.ts";

function harness(visible = () => true) {
  let clock = 0;
  const timers: { fn: () => void; at: number }[] = [];
  const queries: AggregatesQuery[] = [];
  let answer: () => Promise<GroupAggregates> = () =>
    Promise.resolve({ group: "g", window: "1s", windowMs: 1000, asOfMs: clock, metrics: [] });
  const source = pollingAggregates({
    aggregates: (query) => {
      queries.push(query);
      return answer();
    },
  }, {
    visible,
    now: () => clock,
    setTimeout: (fn, ms) => timers.push({ fn, at: clock + ms }),
    clearTimeout: () => timers.splice(0),
  });
  const advance = async (ms: number) => {
    clock += ms;
    for (const t of timers.splice(0)) {
      if (t.at <= clock) t.fn();
      else timers.push(t);
    }
    await new Promise((r) => setTimeout(r, 0));
  };
  return {
    source,
    queries,
    advance,
    timers,
    setAnswer: (f: typeof answer) => (answer = f),
  };
}

Deno.test("polling asks once a second and delivers each answer", async () => {
  const h = harness();
  const seen: number[] = [];
  const stop = h.source({ group: "g", window: "1s" }, {
    data: (a) => seen.push(a.asOfMs),
    error: () => {},
  });
  await h.advance(0);
  await h.advance(999);
  assertEquals(h.queries.length, 1);
  await h.advance(1);
  await h.advance(1000);
  assertEquals(seen, [0, 1000, 2000]);
  stop();
  await h.advance(5000);
  assertEquals(h.queries.length, 3, "nothing after stop");
});

Deno.test("polling skips while hidden and reports errors without stopping", async () => {
  let shown = false;
  const h = harness(() => shown);
  const errors: unknown[] = [];
  h.source({ group: "g", window: "10s" }, { data: () => {}, error: (e) => errors.push(e) });
  await h.advance(0);
  await h.advance(1000);
  assertEquals(h.queries.length, 0);
  shown = true;
  h.setAnswer(() => Promise.reject(new Error("down")));
  await h.advance(1000);
  await h.advance(1000);
  assertEquals(h.queries.length, 2);
  assertEquals(errors.length, 2);
});
