import { assertEquals } from "../../../tests/testing/assert.ts";
import { ChangeStreamInvalidated, classifyMongoError } from "./errors.ts";
import { Backoff } from "./backoff.ts";

Deno.test("driver errors are classified: history lost, standalone, everything else an outage", () => {
  const labelled = Object.assign(new Error("x"), {
    hasErrorLabel: (l: string) => l === "NonResumableChangeStreamError",
  });
  assertEquals(classifyMongoError({ code: 286, message: "history lost" }), "history-lost");
  assertEquals(classifyMongoError({ codeName: "ChangeStreamHistoryLost" }), "history-lost");
  assertEquals(classifyMongoError(labelled), "history-lost");
  assertEquals(classifyMongoError(new ChangeStreamInvalidated("drop")), "history-lost");
  assertEquals(classifyMongoError({ code: 40573, message: "" }), "standalone");
  assertEquals(
    classifyMongoError(new Error("The $changeStream stage is only supported on replica sets")),
    "standalone",
  );
  assertEquals(classifyMongoError(new Error("connect ECONNREFUSED")), "outage");
  assertEquals(classifyMongoError("weird"), "outage");
});

Deno.test("backoff doubles up to its cap, with jitter in the upper half, and resets", () => {
  const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 1 });
  assertEquals([1, 2, 3, 4, 5, 6].map(() => backoff.next()), [100, 200, 400, 800, 1000, 1000]);
  backoff.reset();
  const low = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0 });
  assertEquals(low.next(), 50);
  assertEquals(backoff.attempts, 0);
});
