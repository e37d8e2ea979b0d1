import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { statusFor } from "../http/errors.ts";
import { storeFailure } from "./store_failure.ts";

Deno.test("a full or failing disk is the server's condition (503, retry later), never the request's (400)", () => {
  // As Deno KV reports SQLite's conditions: TypeErrors, which the edge maps to 400 by themselves.
  for (
    const message of [
      "database or disk is full",
      "disk I/O error",
      "attempt to write a readonly database",
      "database is locked",
    ]
  ) {
    const raw = new TypeError(message);
    assertEquals(statusFor(raw), 400);
    const failure = storeFailure(raw);
    assertEquals(statusFor(failure), 503, message);
    assert(failure.message.includes(message), failure.message);
    assert(failure.message.includes("not acknowledged"), failure.message);
    assertEquals(failure.cause, raw);
  }
  // Anything else a commit throws is the server's fault too: 500, not 400.
  assertEquals(statusFor(storeFailure(new TypeError("Value too large (max 65536 bytes)"))), 500);
  assertEquals(statusFor(storeFailure("boom")), 500);
});
