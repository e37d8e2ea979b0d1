import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { TopicTable } from "./topic_table.ts";
import type { Owners } from "./topic_table.ts";

/** A table whose topics are their own keys, with the everything-topic pinned. */
function table(maxTopics: number, share: number) {
  const t = new TopicTable<string, number>({ maxTopics, share });
  t.pin("*", "*", 1);
  return t;
}

const acquire = (t: TopicTable<string, number>, key: string, member: number, owners: Owners) =>
  t.acquire(key, member, { owners, bytes: key.length, now: 0, make: () => key });

Deno.test("an owner at its share makes room with its own idle topic; with none it is refused", () => {
  const t = table(100, 2);
  const me = ["address:a"];
  assert("value" in acquire(t, "k1", 1, me));
  assert("value" in acquire(t, "k2", 2, me));
  const refused = acquire(t, "k3", 3, me);
  assert("refused" in refused && /this address already holds 2/.test(refused.refused));
  t.leave("k1", 1, 5);
  const made = acquire(t, "k3", 3, me);
  assert("value" in made);
  assertEquals(made.evicted, ["k1"]);
  // Joining a topic that exists never counts as making one.
  assert("value" in acquire(t, "k2", 4, me));
  assertEquals([t.size, t.held("address:a"), t.idleEvictions], [3, 2, 1]);
});

Deno.test("a full table gives way: idle topics first, then the biggest holder's, never between near-equals", () => {
  const t = table(5, 4);
  const x = ["address:x"], y = ["address:y"], z = ["address:z"];
  for (const [key, member] of [["x1", 1], ["x2", 2], ["x3", 3]] as const) {
    assert("value" in acquire(t, key, member, x));
  }
  assert("value" in acquire(t, "y1", 10, y));
  t.leave("y1", 10, 1); // idle: it goes first even though x holds more
  const first = acquire(t, "z1", 20, z);
  assert("value" in first);
  assertEquals([first.evicted, t.idleEvictions, t.activeEvictions], [["y1"], 1, 0]);
  // Full, nothing idle: x holds 3 > 1 + 1, so one of x's gives way.
  const second = acquire(t, "y2", 11, y);
  assert("value" in second);
  assertEquals([second.evicted.length, t.activeEvictions], [1, 1]);
  assert(second.evicted[0].startsWith("x"));
  // x (2) against y (1): x may not take y's back (2 is not more than 1 + 1).
  const back = acquire(t, "x9", 4, x);
  assert(
    "refused" in back && /distinct subscription sets/.test(back.refused),
    JSON.stringify(back),
  );
  assertEquals(t.size, 5);
});

Deno.test("idle topics expire in the order they became idle; pinned ones never do", () => {
  const t = table(10, 10);
  const me = ["address:a"];
  for (const [key, member] of [["a", 1], ["b", 2], ["c", 3]] as const) acquire(t, key, member, me);
  t.leave("b", 2, 100);
  t.leave("a", 1, 200);
  assertEquals(t.expire(250, 100), ["b"]);
  assertEquals(t.expire(1_000, 100), ["a"]);
  assertEquals([...t.values()], ["*", "c"]);
  assertEquals([t.idleCount, t.keyBytes], [0, 2]);
});

// A naive model of who is on what, recomputed from scratch, to judge every
// answer of the table against the rules.
interface ModelTopic {
  members: { member: number; owners: Owners }[];
  charge: Owners;
}

const ownersOf = (member: number): Owners => [
  `address:${member % 3}`,
  ...(member % 4 === 0 ? [] : [`token:${member % 2}`]),
];

type Command =
  | { type: "acquire"; member: number; key: number }
  | { type: "leave"; member: number }
  | { type: "expire"; ms: number }
  | { type: "newcomer"; key: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant("acquire" as const),
      member: fc.nat(11),
      key: fc.nat(9),
    }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant("leave" as const), member: fc.nat(11) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("expire" as const), ms: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("newcomer" as const), key: fc.nat(999) }) },
);

Deno.test("every answer of the topic table follows the rules: never over --max-topics, refusals only when no one hoards, idle topics go first", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 7 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(command, { maxLength: 80 }),
      (maxTopics, share, commands) => {
        const t = table(maxTopics, share);
        const model = new Map<string, ModelTopic>();
        const on = new Map<number, string>();
        const idleSince = new Map<string, number>();
        let now = 0;
        let newcomers = 100;
        const held = (owner: string) =>
          [...model.values()].filter((m) => m.charge.includes(owner)).length;
        const idle = () => [...model.keys()].filter((k) => model.get(k)!.members.length === 0);
        const allOwners = () => new Set([...model.values()].flatMap((m) => m.charge));

        const leave = (member: number) => {
          const key = on.get(member);
          if (key === undefined) return;
          on.delete(member);
          t.leave(key, member, now);
          const topic = model.get(key)!;
          topic.members = topic.members.filter((m) => m.member !== member);
          if (topic.members.length > 0) topic.charge = topic.members[0].owners;
          else idleSince.set(key, now);
        };

        /** Asks the table and checks its answer against the model; true when served. */
        const ask = (key: string, member: number, owners: Owners): boolean => {
          const existed = model.has(key) || key === "*";
          const idleBefore = idle();
          const mine = Math.max(0, ...owners.map(held));
          const heldBefore = new Map([...allOwners()].map((o) => [o, held(o)]));
          const answer = acquire(t, key, member, owners);
          if ("refused" in answer) {
            assert(!existed, "a topic that exists is always joined");
            if (/share/.test(answer.refused)) {
              const ownIdle = (o: string) =>
                idleBefore.filter((k) => model.get(k)!.charge.includes(o)).length;
              assert(
                owners.some((o) => held(o) - ownIdle(o) >= share),
                `share refusal without cause: ${answer.refused}`,
              );
            } else {
              assertEquals(idleBefore, [], "refused while a topic was idle");
              assert(model.size + 1 >= maxTopics, "refused with room left");
              for (const [owner, count] of heldBefore) {
                if (!owners.includes(owner)) assert(count <= mine + 1, `${owner} hoards ${count}`);
              }
            }
            return false;
          }
          if (!existed) {
            // What each owner holds once the idle victims are gone.
            const idleVictims = answer.evicted.filter((k) => model.get(k)!.members.length === 0);
            const after = (o: string) =>
              held(o) - idleVictims.filter((k) => model.get(k)!.charge.includes(o)).length;
            const mineAfter = Math.max(0, ...owners.map(after));
            const heldAfter = new Map([...heldBefore.keys()].map((o) => [o, after(o)]));
            const full = model.size + 1 >= maxTopics;
            for (const victim of answer.evicted) {
              const topic = model.get(victim)!;
              if (topic.members.length > 0) {
                // Active: only when nothing idle was left, from someone holding 2+ more.
                assert(idleBefore.every((k) => answer.evicted.includes(k)), "idle first");
                assert(
                  topic.charge.some((o) =>
                    !owners.includes(o) && heldAfter.get(o)! >= mineAfter + 2
                  ),
                  `evicted ${victim} from a near-equal`,
                );
                for (const m of topic.members) on.delete(m.member);
              } else {
                assert(
                  topic.charge.some((o) => owners.includes(o)) || full,
                  "another's idle topic is taken only for room",
                );
              }
              model.delete(victim);
            }
            model.set(key, { members: [], charge: owners });
          } else assertEquals(answer.evicted, []);
          const topic = key === "*" ? null : model.get(key)!;
          if (topic) {
            if (topic.members.length === 0) topic.charge = owners;
            topic.members.push({ member, owners });
          }
          on.set(member, key);
          assertEquals(answer.value, key);
          assert(t.size <= maxTopics, `${t.size} topics`);
          if (!existed) { for (const o of owners) assert(held(o) <= share, `${o} over its share`); }
          return true;
        };

        for (const c of commands) {
          if (c.type === "acquire") {
            // As the hub does: leave the current topic, ask, go back if refused.
            const previous = on.get(c.member);
            leave(c.member);
            const served = ask(`k${c.key}`, c.member, ownersOf(c.member));
            if (!served && previous !== undefined) {
              assert(ask(previous, c.member, ownersOf(c.member)), "back to the previous topic");
            }
          } else if (c.type === "leave") leave(c.member);
          else if (c.type === "expire") {
            now += c.ms;
            const expected = [...idleSince].filter(([k, at]) =>
              model.has(k) && model.get(k)!.members.length === 0 && now - at > 30
            ).map(([k]) => k).sort();
            assertEquals(t.expire(now, 30).sort(), expected);
            for (const k of expected) model.delete(k);
          } else {
            // A client never seen before (its own address, no token) asks for a new set.
            const member = newcomers++;
            const owners = [`address:new-${member}`];
            const full = model.size + 1 >= maxTopics && idle().length === 0 &&
              [...allOwners()].every((o) => held(o) <= 1);
            assertEquals(ask(`n${c.key}-${member}`, member, owners), !full, "newcomer");
          }
          assertEquals(t.size, model.size + 1);
          assertEquals(t.idleCount, idle().length);
          for (const owner of allOwners()) assertEquals(t.held(owner), held(owner), owner);
        }
      },
    ),
    { numRuns: 500 },
  );
});
