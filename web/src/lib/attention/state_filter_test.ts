import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { ATTENTION_NAMES } from "@pulseboard/protocol";
import { STATE_CHOICES, stateCodes, statesOf, stateValue } from "./state_filter.ts";

Deno.test("each state choice reads back from its value, and names its states' codes", () => {
  for (const choice of STATE_CHOICES) {
    assertEquals(statesOf(choice.value), choice.states);
    assertEquals(stateValue(choice.states), choice.value);
  }
  assertEquals(stateCodes(statesOf("attention")), [2, 3, 4, 5]);
  assertEquals(stateCodes(statesOf("unknown")), [0]);
  assertEquals(stateCodes(statesOf("")), null);
  // Each single state is a choice, and its code is the feed's.
  for (const [code, name] of ATTENTION_NAMES.entries()) assertEquals(stateCodes([name]), [code]);
});

Deno.test("a URL value that names no choice shows every state", () => {
  for (
    const value of [null, "", "CRITICAL", "warning", "critical,warn", "__proto__", "constructor"]
  ) {
    assertEquals(statesOf(value), null, String(value));
  }
});
