import { viewRequest as request } from "../../../tests/testing/view_request.ts";
import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { TokenBucket } from "../token_bucket.ts";
import type { ViewOrder, ViewRequest } from "../../../protocol/client_messages.ts";
import { rowBudget, ViewPacer } from "./view_pacing.ts";

/** A pacer whose budgets hold 20 rows and refill 10 a second. */
function tightPacer(): ViewPacer {
  return new ViewPacer(new TokenBucket(rowBudget(10), 0), new TokenBucket(rowBudget(10), 0));
}

/** What the pacer sends from a call: the request, then its follow-up if any. */
function sentFrom(pacer: ViewPacer, request: ViewRequest | null): ViewRequest[] {
  if (request === null) return [];
  const followUp = pacer.followUp();
  return followUp === null ? [request] : [request, followUp];
}

Deno.test("a held resort is not lost to a hold said after it: the resort goes, then the hold", () => {
  const pacer = tightPacer();
  assertEquals(pacer.offer(request({ limit: 20 }), 0)?.limit, 20);
  assertEquals(pacer.offer(request({ limit: 5, order: "resort" }), 0), null, "held");
  assertEquals(pacer.offer(request({ limit: 5, offset: 40, order: "hold" }), 0), null);
  const sent = sentFrom(pacer, pacer.release(60_000));
  assertEquals(sent.map((r) => [r.order, r.offset]), [["resort", 40], ["hold", 40]]);
  assertEquals(pacer.followUp(), null, "a follow-up goes once");
});

Deno.test("a held resort is not lost to a release or a keep said after it", () => {
  const pacer = tightPacer();
  assertEquals(pacer.offer(request({ limit: 20 }), 0)?.limit, 20);
  pacer.offer(request({ limit: 5, order: "resort" }), 0);
  pacer.offer(request({ limit: 5, order: "release" }), 0);
  pacer.offer(request({ limit: 5, offset: 50 }), 0);
  const sent = sentFrom(pacer, pacer.release(60_000));
  assertEquals(sent.map((r) => [r.order, r.offset]), [["resort", 50]], "a resort releases too");
});

Deno.test("a held hold then a resort is one resort; a resort, hold, release is one resort", () => {
  const pacer = tightPacer();
  assertEquals(pacer.offer(request({ limit: 20 }), 0)?.limit, 20);
  pacer.offer(request({ limit: 5, order: "hold" }), 0);
  pacer.offer(request({ limit: 5, order: "resort" }), 0);
  assertEquals(sentFrom(pacer, pacer.release(60_000)).map((r) => r.order), ["resort"]);
  assertEquals(pacer.offer(request({ limit: 20 }), 120_000)?.limit, 20);
  pacer.offer(request({ limit: 5, order: "resort" }), 120_000);
  pacer.offer(request({ limit: 5, order: "hold" }), 120_000);
  pacer.offer(request({ limit: 5, order: "release" }), 120_000);
  assertEquals(sentFrom(pacer, pacer.release(180_000)).map((r) => r.order), ["resort"]);
});

/**
 * A window as the hub leaves it after a run of orders, applied one by one as
 * `ViewWindow` does: held or not, and the step of the last resort asked.
 */
function apply(state: { held: boolean; resortAt: number }, order: ViewOrder, step: number) {
  if (order === "hold") state.held = true;
  else if (order === "release") state.held = false;
  else if (order === "resort") {
    state.held = false;
    state.resortAt = step;
  }
}

Deno.test("paced orders leave the window as the orders said would, and every resort asked goes at or after it (property)", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 3_000 }),
          limit: fc.integer({ min: 1, max: 60 }),
          order: fc.constantFrom<ViewOrder>("keep", "hold", "release", "resort"),
        }),
        { minLength: 1, maxLength: 40 },
      ),
      (offers) => {
        const pacer = tightPacer();
        const said = { held: false, resortAt: -1 };
        const served = { held: false, resortAt: -1 };
        let now = 0, step = 0;
        const deliver = (requests: ViewRequest[]) => {
          for (const r of requests) apply(served, r.order, step);
        };
        for (const o of offers) {
          now += o.gap;
          deliver(sentFrom(pacer, pacer.release(now)));
          step++;
          apply(said, o.order, step);
          deliver(sentFrom(pacer, pacer.offer(request({ limit: o.limit, order: o.order }), now)));
        }
        for (let k = 0; k < 100 && pacer.holding; k++) {
          now += Math.max(1, pacer.waitMs(now));
          deliver(sentFrom(pacer, pacer.release(now)));
        }
        assert(!pacer.holding);
        assertEquals(served.held, said.held, "held as the orders said");
        assert(served.resortAt >= said.resortAt, "the last resort asked went at or after it");
      },
    ),
    { numRuns: 500 },
  );
});
