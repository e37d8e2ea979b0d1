import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { checkSubscription, covers, matches, topicFor } from "./topic.ts";
import { decodeClientMessage } from "../../protocol/client_messages.ts";
import { encodeSubscribe, encodeUnsubscribe } from "../../protocol/mod.ts";

const sub = (id: number, fields: { all?: boolean; group?: string; sensors?: string[] }) => ({
  id,
  all: fields.all ?? false,
  group: fields.group ?? null,
  sensors: fields.sensors ?? [],
});

Deno.test("group prefixes cover whole path segments only", () => {
  assert(covers("plant-a", "plant-a"));
  assert(covers("plant-a", "plant-a/line-3"));
  assert(!covers("plant-a", "plant-ab/line-1"));
  assert(!covers("plant-a/line-3", "plant-a"));
});

Deno.test("equivalent subscription sets share one canonical topic", () => {
  const a = topicFor([
    sub(1, { group: "plant-a" }),
    sub(2, { group: "plant-a/line-1" }),
    sub(3, { sensors: ["y", "x"] }),
  ]);
  const b = topicFor([sub(7, { sensors: ["x", "y", "x"] }), sub(8, { group: "plant-a" })]);
  assertEquals(a.key, b.key);
  assertEquals(topicFor([sub(1, { group: "g" }), sub(2, { all: true })]).key, "*");
  assert(matches(a.spec, "x", "elsewhere"));
  assert(matches(a.spec, "z", "plant-a/line-9"));
  assert(!matches(a.spec, "z", "plant-b"));
});

Deno.test("malformed subscriptions are refused with a reason", () => {
  assertEquals(checkSubscription(sub(1, { group: "plant-a" })), null);
  for (
    const [bad, pattern] of [
      [sub(1, {}), /names nothing/],
      [sub(2, { all: true, sensors: ["x"] }), /mixes/],
      [sub(3, { group: "a b" }), /group/],
      [sub(4, { sensors: ["ok", ""] }), /missing sensorId/],
    ] as const
  ) {
    const reason = checkSubscription(bad);
    assert(reason !== null && pattern.test(reason), `${JSON.stringify(bad)}: ${reason}`);
  }
});

Deno.test("Subscribe and Unsubscribe decode to what was encoded", () => {
  const message = decodeClientMessage(encodeSubscribe(
    [{ id: 1, group: "plant-a" }, { id: 2, sensors: ["s1", "s2"] }, { id: 3, all: true }],
    { epoch: 77, seq: 12345 },
    false,
    true,
  ));
  assertEquals(message, {
    type: "subscribe",
    subscriptions: [
      sub(1, { group: "plant-a" }),
      sub(2, { sensors: ["s1", "s2"] }),
      sub(3, { all: true }),
    ],
    resume: { epoch: 77, seq: 12345 },
    replace: false,
    windows: true,
  });
  assertEquals(decodeClientMessage(encodeSubscribe([{ id: 1, all: true }])).type, "subscribe");
  assertEquals(decodeClientMessage(encodeUnsubscribe([4, 5])), {
    type: "unsubscribe",
    ids: [4, 5],
  });
});
