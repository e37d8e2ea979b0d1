import { ok as assert } from "node:assert/strict";
import { reconnectDelay } from "./backoff.ts";

Deno.test("reconnect delay grows exponentially with full jitter and stays under the cap", () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const ceiling = Math.min(15_000, 250 * 2 ** attempt);
    const low = reconnectDelay(attempt, () => 0);
    const high = reconnectDelay(attempt, () => 0.999999);
    assert(low === Math.round(ceiling / 2), `attempt ${attempt}: low ${low}`);
    assert(high <= ceiling && high >= ceiling * 0.99, `attempt ${attempt}: high ${high}`);
  }
});
