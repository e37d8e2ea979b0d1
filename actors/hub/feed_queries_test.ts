import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { FeedView } from "./feed_view.ts";
import { aggregatesByName, SensorListing, sensorSummary } from "./feed_queries.ts";
import type { FleetStamp, SensorQuery } from "./feed_queries.ts";
import { covers } from "./topic.ts";
import type { ShardChanges } from "../shards/shard_messages.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";

const GROUPS = ["a", "a/x", "a/x/y", "b", "ab"];

/** A flush of sensors that came (each with one reading of metric 0) and went. */
function flush(
  sensors: { index: number; id: string; group: string }[],
  removed: number[] = [],
): ShardChanges {
  const updates = allocateStates(sensors.length);
  sensors.forEach(({ index }, i) => {
    updates.sensor[i] = index;
    updates.metric[i] = 0;
    updates.last[i] =
      updates.avg[i] =
      updates.min[i] =
      updates.max[i] =
        index;
    updates.timeMs[i] = 1_000 + index;
  });
  return {
    sensors,
    metrics: [{ index: 0, name: "t" }],
    updates,
    windows: allocateWindowStates(0),
    late: [],
    statuses: [],
    removed,
  };
}

/**
 * The page as `GET /api/sensors` made it before `SensorListing`: every
 * sensor filtered, sorted by id, sliced (the scope `*` being every group).
 */
function recomputed(view: FeedView, query: SensorQuery) {
  const q = query.q?.toLowerCase() ?? null;
  const scope = query.scope?.includes("*") ? null : query.scope;
  const matching = view.sensors().filter((s) =>
    (query.group === null || covers(query.group, s.group)) &&
    (scope === null || scope.some((p) => covers(p, s.group))) &&
    (q === null || s.id.toLowerCase().includes(q)) &&
    (query.id === undefined || s.id === query.id) &&
    (query.after === null || s.id > query.after)
  ).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const page = matching.slice(0, query.limit);
  return {
    sensors: page.map((s) => sensorSummary(view, s.index)!),
    more: matching.length > page.length,
  };
}

// Ids from a few code units that sort differently by code unit, case and
// number: upper and lower case, digits, an accent, a character above the
// surrogates (U+FF5E) and one beyond the BMP (a surrogate pair, below it).
const id = fc.array(fc.constantFrom("a", "A", "b", "1", "2", "10", "_", "é", "～", "😀"), {
  minLength: 1,
  maxLength: 4,
}).map((parts) => parts.join(""));

const step = fc.oneof(
  fc.record({
    kind: fc.constant("add" as const),
    index: fc.nat(40),
    id,
    group: fc.constantFrom(...GROUPS),
  }),
  fc.record({ kind: fc.constant("remove" as const), index: fc.nat(40) }),
  fc.record({
    kind: fc.constant("move" as const),
    index: fc.nat(40),
    group: fc.constantFrom(...GROUPS),
  }),
);

const query = fc.record({
  group: fc.constantFrom(null, ...GROUPS),
  q: fc.constantFrom(null, "a", "A", "1", "é", "😀", "zz"),
  limit: fc.integer({ min: 1, max: 6 }),
  after: fc.option(id, { nil: null }),
  scope: fc.constantFrom(null, ["*"], [], ["a"], ["a/x", "b"], ["ab", "*"]),
  id: fc.option(id, { nil: undefined }),
});

Deno.test("pages of the kept listing equal a plain filter, sort and slice through adds, removals, moves and id changes, cursor by cursor", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(step, { maxLength: 12 }), { minLength: 1, maxLength: 8 }),
      fc.array(query, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      (ticks, queries, stamped) => {
        const view = new FeedView();
        const listing = new SensorListing();
        const source = {};
        let serial = 0;
        const held = new Map<number, { id: string; group: string }>();
        for (const tick of ticks) {
          // The tick's flush says how the held sensors differ after its steps (a
          // sensor removed and added again in one flush is still there).
          const before = new Map(held);
          for (const s of tick) {
            if (s.kind === "remove") held.delete(s.index);
            else if (s.kind === "move") {
              const sensor = held.get(s.index);
              if (sensor) held.set(s.index, { id: sensor.id, group: s.group });
            } else if (![...held.values()].some((h) => h.id === s.id)) {
              // An index may come back under another id; an id is held by one index.
              held.set(s.index, { id: s.id, group: s.group });
            }
          }
          const went = [...before.keys()].filter((index) => !held.has(index));
          const came = [...held].filter(([index, s]) =>
            before.get(index)?.id !== s.id || before.get(index)?.group !== s.group
          ).map(([index, s]) => ({ index, ...s }));
          view.apply([flush(came, went)]);
          if (came.length > 0 || went.length > 0) serial++;
          const stamp: FleetStamp | null = stamped ? { source, serial } : null;
          for (const asked of queries) {
            const expected = recomputed(view, asked);
            assertEquals(
              JSON.stringify(listing.page(view, asked, stamp)),
              JSON.stringify(expected),
              JSON.stringify(asked),
            );
            // Page by page from the start, each page's last id the next cursor.
            const walk = { ...asked, id: undefined, after: null as string | null };
            for (let pages = 0; pages < 50; pages++) {
              const page = listing.page(view, walk, stamp);
              assertEquals(JSON.stringify(page), JSON.stringify(recomputed(view, walk)));
              if (!page.more) break;
              walk.after = page.sensors[page.sensors.length - 1].id;
            }
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a page reads its limit and one more, starting at its cursor; nothing is sorted again while no sensor comes, and an id is found without a scan", () => {
  const view = new FeedView();
  const sensors = Array.from(
    { length: 20_000 },
    (_, i) => ({ index: i, id: `s${i}`, group: i % 100 === 0 ? "rare" : "common" }),
  );
  view.apply([flush(sensors)]);
  const listing = new SensorListing();
  const stamp = { source: {}, serial: 1 };
  const ask = (query: Partial<SensorQuery>) => {
    const before = listing.visited;
    const page = listing.page(view, {
      group: null,
      q: null,
      limit: 10,
      after: null,
      scope: null,
      ...query,
    }, stamp);
    return { page, visited: listing.visited - before };
  };
  const first = ask({ limit: 1 });
  assertEquals(listing.sorted, 20_000);
  assertEquals([first.page.sensors[0].id, first.page.more, first.visited], ["s0", true, 2]);
  // Code-unit order: s1, s10, s100, ...
  const next = ask({ limit: 3, after: "s1" });
  assertEquals(next.page.sensors.map((s) => s.id), ["s10", "s100", "s1000"]);
  assertEquals(next.visited, 4);
  assertEquals(ask({ id: "s12345", scope: ["*"] }).page.sensors.map((s) => s.id), ["s12345"]);
  assertEquals(ask({ id: "s12345" }).visited, 1);
  assertEquals(ask({ id: "nope" }).visited, 0);
  // A filter reads what it skips: a group of 1 in 100 reads about 100 per match.
  const rare = ask({ group: "rare", limit: 5 });
  assertEquals(rare.page.sensors.length, 5);
  assert(rare.visited < 1_000, `${rare.visited} read for 5 of a group of 200`);
  assertEquals(listing.sorted, 20_000, "nothing sorted again");
  // A sensor that moves is not sorted again; one that comes is sorted alone.
  view.apply([flush([{ index: 5, id: "s5", group: "rare" }])]);
  view.apply([flush([{ index: 20_000, id: "s09", group: "common" }])]);
  stamp.serial = 3;
  assertEquals(ask({ after: "s0", limit: 2 }).page.sensors.map((s) => s.id), ["s09", "s1"]);
  assertEquals(listing.sorted, 20_001);
  assertEquals(ask({ id: "s5" }).page.sensors[0].group, "rare");
});

Deno.test("a listing whose stamp missed a change is made again when a page meets it", () => {
  const view = new FeedView();
  view.apply([flush([{ index: 0, id: "a", group: "g" }, { index: 1, id: "b", group: "g" }])]);
  const listing = new SensorListing();
  const stamp = { source: {}, serial: 1 };
  const all = { group: null, q: null, limit: 10, after: null, scope: null };
  assertEquals(listing.page(view, all, stamp).sensors.map((s) => s.id), ["a", "b"]);
  // Index 1 given to another id, the stamp left as it was.
  view.apply([flush([{ index: 1, id: "c", group: "g" }], [1])]);
  assertEquals(listing.page(view, all, stamp).sensors.map((s) => s.id), ["a", "c"]);
});

Deno.test("aggregates of a metric the fleet does not have are null, not an empty list", () => {
  const view = new FeedView();
  view.apply([flush([{ index: 0, id: "a", group: "g" }])]);
  assertEquals(aggregatesByName(view, "", 0, "nope", null), null);
  assertEquals(aggregatesByName(view, "", 0, "t", null), []);
});
