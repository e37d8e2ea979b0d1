import { deepStrictEqual as assertEquals } from "node:assert/strict";
import fc from "fast-check";
import { readHidden, withMetric, writeHidden } from "./hidden_metrics.ts";

Deno.test("hidden metrics read back as written, whatever their names", () => {
  fc.assert(fc.property(fc.uniqueArray(fc.string({ maxLength: 64 })), (names) => {
    assertEquals(readHidden(writeHidden(new Set(names))), new Set(names));
  }));
});

Deno.test("a missing or unreadable stored value hides nothing", () => {
  for (const stored of [null, "", "{", '{"a":1}', "42", '"humidity"']) {
    assertEquals(readHidden(stored), new Set(), String(stored));
  }
  assertEquals(readHidden('["a", 3, null, "b"]'), new Set(["a", "b"]));
});

Deno.test("showing or hiding a metric changes only it", () => {
  const hidden = new Set(["a", "b"]);
  assertEquals(withMetric(hidden, "a", true), new Set(["b"]));
  assertEquals(withMetric(hidden, "c", false), new Set(["a", "b", "c"]));
  assertEquals(hidden, new Set(["a", "b"]));
});
