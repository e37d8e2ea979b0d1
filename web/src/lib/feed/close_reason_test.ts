import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { closeReason } from "./close_reason.ts";

Deno.test("close codes read as reasons an operator can act on", () => {
  assertEquals(
    closeReason(1006),
    "The server cannot be reached (it may be down, restarting, or the network is out).",
  );
  assertEquals(closeReason(1001), "The server is shutting down or restarting.");
  assertEquals(closeReason(4008), "This page fell too far behind the feed.");
  assertEquals(closeReason(4321, "odd"), "The server closed the connection: odd.");
  assertEquals(closeReason(4321), "The connection closed (code 4321).");
});
