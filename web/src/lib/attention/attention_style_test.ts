import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { attentionLook, countsText } from "./attention_style.ts";

Deno.test("every state has a word and an icon, and counts read most urgent first", () => {
  assertEquals([0, 1, 2, 3, 4, 5].map((c) => attentionLook(c).label), [
    "no data",
    "ok",
    "stale",
    "offline",
    "warning",
    "critical",
  ]);
  assertEquals(countsText({ stale: 1, critical: 3, warn: 2 }), "3 critical, 2 warning, 1 stale");
  assertEquals(countsText({}), "");
});
