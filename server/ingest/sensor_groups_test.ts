import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { SensorGroups } from "./sensor_groups.ts";
import { refusalKind } from "./readings/mod.ts";
import type { ParsedReadings } from "./readings/mod.ts";

const batch = (rows: [sensorId: string, group: string][]): ParsedReadings => ({
  block: blockFromReadings(rows.map(([sensorId, group], i) => ({
    sensorId,
    group,
    timeMs: i,
    values: { t: i },
  }))),
  refused: [],
});
const writer = (...groups: string[]) => ({ id: "k", name: "k", groups });

Deno.test("a scoped key keeps to the sensors of its groups: the router's groups, then claims until the router agrees or they expire", () => {
  const router = new Map<string, string>([["b1", "plant-b/l1"]]);
  let now = 0;
  const groups = new SensorGroups({ groupOf: (id) => router.get(id) }, {
    pendingMs: 1_000,
    now: () => now,
  });
  const a = writer("plant-a"), b = writer("plant-b");
  const refusals = (p: ParsedReadings) => p.refused.map((r) => [r.index, r.reason]);
  // Known to the router: b's; new ones are anyone's.
  assertEquals(
    refusals(groups.keepOwn(batch([["b1", "plant-a"], ["new", "plant-a"], ["b1", "plant-a"]]), a)),
    [
      [0, 'sensor "b1" is in group "plant-b/l1", which this key may not write'],
      [2, 'sensor "b1" is in group "plant-b/l1", which this key may not write'],
    ],
  );
  // Counted as the key's not being allowed, whatever the id and group hold.
  assertEquals(
    refusalKind('sensor "sensorId timestamp" is in group "a", which this key may not write'),
    "not_allowed",
  );
  assertEquals(refusals(groups.keepOwn(batch([["b1", "plant-b/l2"]]), b)), []);
  // "*" and no key (open ingest) are not limited.
  assertEquals(refusals(groups.keepOwn(batch([["b1", "x"]]), writer("*"))), []);
  assertEquals(refusals(groups.keepOwn(batch([["b1", "x"]]), null)), []);
  // a takes "new": its claim stands before the router knows it, and ends when the router agrees.
  groups.claim(batch([["new", "plant-a/l1"]]));
  assertEquals(groups.pending, 1);
  assertEquals(refusals(groups.keepOwn(batch([["new", "plant-b"]]), b)).length, 1);
  router.set("new", "plant-a/l1");
  assertEquals(groups.groupOf("new"), "plant-a/l1");
  assertEquals(groups.pending, 0);
  // A claim the router never confirms (its append failed) expires after pendingMs.
  groups.claim(batch([["lost", "plant-a"]]));
  now = 999;
  assertEquals(groups.groupOf("lost"), "plant-a");
  now = 1_001;
  assertEquals(groups.groupOf("lost"), undefined);
  assertEquals(refusals(groups.keepOwn(batch([["lost", "plant-b"]]), b)), []);
  // A reading in the group the router shows claims nothing; "" is the default group.
  groups.claim(batch([["b1", "plant-b/l1"], ["d", ""]]));
  assertEquals([groups.pending, groups.groupOf("d")], [1, "default"]);
});

Deno.test("claims are bounded: past twice the last settled count (and 1,024), confirmed and expired ones go", () => {
  const router = new Map<string, string>();
  let now = 0;
  const groups = new SensorGroups({ groupOf: (id) => router.get(id) }, {
    pendingMs: 1_000,
    now: () => now,
  });
  for (let i = 0; i < 5_000; i++) {
    if (i % 1_000 === 0) now += 2_000; // earlier claims expire
    groups.claim(batch([[`s${i}`, "g"]]));
  }
  // At most the claims of the last 1,000 (younger than pendingMs) and those since the last settle.
  assertEquals(groups.pending <= 2 * 1_000 + 1_024 + 1, true, String(groups.pending));
});

Deno.test("a scoped key waits (Busy, 503) while the groups may be behind the log; rows before a take-over's first are not judged again; a claim written to again stands from its newest reading", () => {
  const router = new Map<string, string>([["b1", "plant-b"]]);
  let settled = false, now = 0;
  const groups = new SensorGroups({ groupOf: (id) => router.get(id), settled: () => settled }, {
    pendingMs: 1_000,
    now: () => now,
  });
  const a = writer("plant-a");
  assertEquals([groups.mayJudge(a), groups.mayJudge(writer("*")), groups.mayJudge(null)], [
    false,
    true,
    true,
  ]);
  let busy: unknown = null;
  try {
    groups.keepOwn(batch([["b1", "plant-a"]]), a);
  } catch (error) {
    busy = error;
  }
  assertEquals(busy instanceof Deno.errors.Busy, true);
  settled = true;
  const rows = batch([["b1", "plant-a"], ["b1", "plant-a"], ["new", "plant-a"]]);
  assertEquals(groups.keepOwn(rows, a, 1).refused.map((r) => r.index), [1]);
  // a's claim on "c", written to again at 900, stands until 1,900.
  groups.claim(batch([["c", "plant-a"]]));
  now = 900;
  groups.claim(batch([["c", "plant-a"]]));
  now = 1_500;
  assertEquals(groups.groupOf("c"), "plant-a");
  now = 1_901;
  assertEquals(groups.groupOf("c"), undefined);
});

Deno.test("a claim gives way once the router has reported its group, to any group it reports after (another MongoDB writer's move)", () => {
  const router = new Map<string, string>();
  const groups = new SensorGroups({ groupOf: (id) => router.get(id) }, { now: () => 0 });
  const a = writer("plant-a"), b = writer("plant-b");
  groups.claim(batch([["victim", "plant-b/l1"]]));
  // Its shard reports it in plant-b; nobody looks it up meanwhile.
  router.set("victim", "plant-b/l1");
  groups.reported();
  // Then another writer's document moves it to plant-a, straight into the collection.
  router.set("victim", "plant-a/l1");
  groups.reported();
  assertEquals(groups.refusal("victim", a), null);
  assertEquals(
    groups.refusal("victim", b),
    'sensor "victim" is in group "plant-a/l1", which this key may not write',
  );
});

Deno.test("a claim stands, whatever the router reports, until the router has shown the claimed group (log mode: older readings still being routed)", () => {
  // Every step: a claim (a reading taken) or a router report of a group. Model: a
  // claim goes once its group was reported after it; else it stands (no expiry here).
  const step = fc.oneof(
    fc.record({ claim: fc.constantFrom("g1", "g2", "g3") }),
    fc.record({ report: fc.constantFrom("g1", "g2", "g3") }),
  );
  fc.assert(fc.property(fc.array(step, { maxLength: 20 }), (steps) => {
    const router = new Map<string, string>();
    const groups = new SensorGroups({ groupOf: (id) => router.get(id) }, { now: () => 0 });
    let claimed: string | null = null;
    for (const s of steps) {
      if ("claim" in s) {
        groups.claimSensor("x", s.claim);
        claimed = router.get("x") === s.claim ? null : s.claim;
      } else {
        router.set("x", s.report);
        groups.reported();
        if (claimed === s.report) claimed = null;
      }
      assertEquals(groups.groupOf("x"), claimed ?? router.get("x"));
    }
  }));
});
