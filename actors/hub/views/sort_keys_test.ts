import fc from "fast-check";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { shardChanges } from "../../../tests/shard_changes.ts";
import { FeedView } from "../feed_view.ts";
import { SortKeys, URGENT_STATUS } from "./sort_keys.ts";

Deno.test("statuses set between ticks take effect at the next apply: the last set of each sensor, each change listed once", () => {
  // Steps: set a status (sensor, code), or tick (sensors 0..4 live; 5..9 come at the first tick).
  const step = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.nat(11), fc.integer({ min: 0, max: 6 })) },
    { weight: 1, arbitrary: fc.constant("tick" as const) },
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
      const feed = new FeedView();
      const sensor = (index: number) => ({ index, id: `s${index}`, group: "g" });
      feed.apply([shardChanges({ sensors: [0, 1, 2, 3, 4].map(sensor) })]);
      const keys = new SortKeys(feed);
      const live = new Set([0, 1, 2, 3, 4]);
      const status = new Map<number, number>(); // model: live sensors' codes (0: none)
      let pending = new Map<number, number>();
      let first = true;
      for (const s of [...steps, "tick" as const]) {
        if (s !== "tick") {
          keys.setStatus(s[0], s[1]);
          pending.set(s[0], s[1]);
          continue;
        }
        const changes = first
          ? feed.apply([shardChanges({ sensors: [5, 6, 7, 8, 9].map(sensor) })])
          : null;
        if (first) [5, 6, 7, 8, 9].forEach((s) => live.add(s));
        first = false;
        keys.apply(changes);
        const changed: number[] = [];
        let raised = false;
        for (const [s, code] of pending) {
          if (!live.has(s)) continue;
          const before = status.get(s) ?? 0;
          if (before === code) continue;
          if (code >= URGENT_STATUS && code > before) raised = true;
          status.set(s, code);
          changed.push(s);
        }
        pending = new Map();
        assertEquals(keys.statusChanged, changed);
        assertEquals(keys.statusRaised, raised);
        for (let s = 0; s < 12; s++) {
          assertEquals(keys.statusOf(s), live.has(s) ? status.get(s) ?? 0 : 0);
        }
      }
    }),
    { numRuns: 300 },
  );
});
