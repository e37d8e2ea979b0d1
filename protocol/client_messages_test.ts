import { assert, assertEquals } from "../tests/testing/assert.ts";
import { decodeClientMessage, MAX_CLIENT_MESSAGE_BYTES } from "./client_messages.ts";
import { encodeAuth, encodeSubscribe, encodeUnsubscribe } from "./mod.ts";
import { MAX_GROUP_LENGTH } from "./names.ts";

Deno.test("the inbound message cap holds the largest legitimate client messages", () => {
  // 64 subscriptions (the most one Subscribe may carry), each a group path of the longest length.
  const groups = Array.from({ length: 64 }, (_, i) => ({
    id: i + 1,
    group: `g${i}`.padEnd(MAX_GROUP_LENGTH, "x"),
  }));
  // A token as long as the 16 KiB the `bearer.<jwt>` subprotocol header can carry.
  const token = "t".repeat(16 * 1024);
  const ids = Array.from({ length: 1_400 }, (_, i) => `sensor-${String(i).padStart(25, "0")}`);
  const cases: [string, Uint8Array][] = [
    [
      "64 longest group subscriptions with a resume point",
      encodeSubscribe(groups, { epoch: 1, seq: 2 }),
    ],
    ["an Auth with a 16 KiB token", encodeAuth(token)],
    ["1,400 sensor ids of 32 characters", encodeSubscribe([{ id: 1, sensors: ids }])],
    ["an Unsubscribe of 64 ids", encodeUnsubscribe(groups.map((g) => g.id))],
  ];
  for (const [what, bytes] of cases) {
    assert(
      bytes.byteLength <= MAX_CLIENT_MESSAGE_BYTES,
      `${what}: ${bytes.byteLength} bytes > ${MAX_CLIENT_MESSAGE_BYTES}`,
    );
    decodeClientMessage(bytes); // and it is a valid message
  }
  const subscribed = decodeClientMessage(cases[0][1]);
  assertEquals(subscribed.type === "subscribe" && subscribed.subscriptions.length, 64);
});
