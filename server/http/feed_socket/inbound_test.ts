import { assertEquals } from "../../../tests/testing/assert.ts";
import { readInbound } from "./inbound.ts";
import { TokenBucket } from "../token_bucket.ts";
import { encodePong, encodeSubscribe } from "../../../protocol/client_messages.ts";
import { encodePing } from "../../../protocol/server_frames.ts";

const open = { take: () => true };

Deno.test("an inbound message is a verified client message, or a refusal with its close code", () => {
  assertEquals(readInbound(encodePong(7), { binary: true, rate: open, now: 0 }), {
    message: { type: "pong", nonce: 7 },
  });
  const subscribe = readInbound(encodeSubscribe([{ id: 1, group: "plant-a" }]), {
    binary: true,
    rate: open,
    now: 0,
  });
  assertEquals(
    "message" in subscribe && subscribe.message.type === "subscribe" &&
      subscribe.message.subscriptions,
    [{ id: 1, all: false, group: "plant-a", sensors: [] }],
  );
  const code = (bytes: Uint8Array, binary = true) => {
    const inbound = readInbound(bytes, { binary, rate: open, now: 0 });
    return "refuse" in inbound ? inbound.refuse.code : 0;
  };
  assertEquals(code(encodePong(1), false), 1003, "text");
  assertEquals(code(new Uint8Array([1, 2, 3])), 4000, "not a frame");
  assertEquals(code(encodePing(1, 0)), 4000, "a frame only the server sends");
});

Deno.test("inbound messages over the connection's rate are refused with 4029", () => {
  const rate = new TokenBucket({ capacity: 3, perSecond: 1 }, 0);
  const codes = Array.from({ length: 5 }, () => {
    const inbound = readInbound(encodePong(1), { binary: true, rate, now: 0 });
    return "refuse" in inbound ? inbound.refuse.code : 0;
  });
  assertEquals(codes, [0, 0, 0, 4029, 4029]);
  // A second later, one more.
  const later = readInbound(encodePong(1), { binary: true, rate, now: 1_000 });
  assertEquals("message" in later, true);
});
