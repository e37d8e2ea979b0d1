import { assert, assertEquals } from "../../tests/testing/assert.ts";
import {
  batchKey,
  bodyFingerprint,
  checkIdempotencyKey,
  MAX_IDEMPOTENCY_KEY_LENGTH,
} from "./idempotency.ts";

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert(error instanceof TypeError, String(error));
    return error.message;
  }
  throw new Error("expected a TypeError");
}

Deno.test("idempotency keys are 1 to 128 visible ASCII characters; others are refused with a reason", () => {
  assertEquals(checkIdempotencyKey("a", "k"), "a");
  const longest = "x".repeat(MAX_IDEMPOTENCY_KEY_LENGTH);
  assertEquals(checkIdempotencyKey(longest, "k"), longest);
  assertEquals(
    checkIdempotencyKey("gw-7:2026-01-02T03:04:05Z/42~!", "k"),
    "gw-7:2026-01-02T03:04:05Z/42~!",
  );
  assert(/longer than 128/.test(refusal(() => checkIdempotencyKey(longest + "x", "k"))));
  assert(/is empty/.test(refusal(() => checkIdempotencyKey("", "k"))));
  for (const bad of ["a b", "tab\there", "é", "nul\0", "del\x7f", "😀"]) {
    assert(/printable ASCII/.test(refusal(() => checkIdempotencyKey(bad, "k"))), bad);
  }
  // A URL path drops "." and ".." segments, even as %2E: their status could never be read.
  for (const dots of [".", ".."]) {
    assertEquals(
      refusal(() => checkIdempotencyKey(dots, "k")),
      'Cannot ingest: k may not be "." or ".."',
    );
    const path = new URL(`http://h/api/ingest/${dots.replaceAll(".", "%2E")}`).pathname;
    assert(path === "/api/ingest/" || path === "/api/", path);
  }
  for (const fine of ["...", ".a", "a.", "a..b"]) {
    assertEquals(checkIdempotencyKey(fine, "k"), fine);
  }
  assertEquals(
    refusal(() =>
      checkIdempotencyKey("", "the batch id in the path", "Cannot read a batch's status")
    ),
    "Cannot read a batch's status: the batch id in the path is empty",
  );
});

Deno.test("the batch key comes from the header or the batch_id; both must agree", () => {
  assertEquals(batchKey(null, null), null);
  assertEquals(batchKey(null, ""), null, "an empty batch_id is no key");
  assertEquals(batchKey("k1", null), "k1");
  assertEquals(batchKey(null, "b1"), "b1");
  assertEquals(batchKey("same", "same"), "same");
  assert(/differ/.test(refusal(() => batchKey("k1", "b1"))));
  assert(/batch_id/.test(refusal(() => batchKey(null, "with space"))));
  assert(/Idempotency-Key/.test(refusal(() => batchKey("", null))));
});

Deno.test("the fingerprint is SHA-256 of media type and body: any change of either changes it", async () => {
  const body = new TextEncoder().encode('[{"sensorId":"s1"}]');
  const expected = Array.from(
    new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        new TextEncoder().encode('application/json\n[{"sensorId":"s1"}]'),
      ),
    ),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assertEquals(await bodyFingerprint("application/json", body), expected);
  assert(await bodyFingerprint("application/x-flatbuffers", body) !== expected);
  const flipped = body.slice();
  flipped[3] ^= 1;
  assert(await bodyFingerprint("application/json", flipped) !== expected);
});
