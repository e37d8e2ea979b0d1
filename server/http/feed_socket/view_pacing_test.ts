import { viewRequest } from "../../../tests/testing/view_request.ts";
import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { TokenBucket } from "../token_bucket.ts";
import type { ViewOrder, ViewRequest } from "../../../protocol/client_messages.ts";
import { AddressRowBudgets, rowBudget, VIEW_CHANGE_ROWS, ViewPacer } from "./view_pacing.ts";

const request = viewRequest;

const ORDERS: ViewOrder[] = ["keep", "hold", "release", "resort"];

/** A window's rows recounted: its ends rounded out to blocks of 50, as the hub serves it. */
function blockRows({ offset, limit }: { offset: number; limit: number }): number {
  if (limit === 0) return 0;
  if (limit > 1_000) return limit; // refused by the hub; costs what it asked
  return Math.ceil((offset + limit) / 50) * 50 - Math.floor(offset / 50) * 50;
}

Deno.test("a ViewSubscribe over the row budget waits and goes when the budget refills", () => {
  const pacer = new ViewPacer(
    new TokenBucket(rowBudget(1_000), 0),
    new TokenBucket(rowBudget(100_000), 0),
  );
  assertEquals(pacer.offer(request({ limit: 1_000 }), 0)?.limit, 1_000);
  assertEquals(pacer.offer(request({ limit: 1_000 }), 0)?.limit, 1_000, "the burst: 2 s worth");
  assertEquals(pacer.offer(request({ limit: 500, offset: 700 }), 0), null, "over it: held");
  assert(pacer.holding);
  assertEquals(pacer.waitMs(0), 500, "500 rows at 1,000 a second");
  assertEquals(pacer.release(499), null);
  assertEquals(pacer.release(500)?.offset, 700);
  assert(!pacer.holding);
});

Deno.test("a close goes at once and drops a held window; a newer request replaces a held one", () => {
  const pacer = new ViewPacer(
    new TokenBucket(rowBudget(100), 0),
    new TokenBucket(rowBudget(100), 0),
  );
  assertEquals(pacer.offer(request({ limit: 200 }), 0)?.limit, 200);
  assertEquals(pacer.offer(request({ limit: 50, offset: 1 }), 0), null);
  assertEquals(pacer.offer(request({ limit: 50, offset: 2 }), 0), null);
  assertEquals(pacer.release(10_000)?.offset, 2, "only the newest window goes");
  assertEquals(pacer.offer(request({ limit: 200 }), 20_000)?.limit, 200);
  assertEquals(pacer.offer(request({ limit: 60 }), 20_000), null);
  assertEquals(pacer.offer(request({ limit: 0 }), 20_000)?.limit, 0, "a close is never held");
  assert(!pacer.holding);
  assertEquals(pacer.release(30_000), null, "the held window went with the close");
});

Deno.test("a held request's hold, release or resort and its resume point survive a newer one", () => {
  const pacer = new ViewPacer(new TokenBucket(rowBudget(10), 0), new TokenBucket(rowBudget(10), 0));
  assertEquals(pacer.offer(request({ limit: 20 }), 0)?.limit, 20);
  pacer.offer(request({ limit: 5, order: "hold", resume: { epoch: 3, seq: 9 } }), 0);
  pacer.offer(request({ limit: 5, offset: 40 }), 0);
  const sent = pacer.release(2_000)!;
  assertEquals([sent.offset, sent.order, sent.resume], [40, "hold", { epoch: 3, seq: 9 }]);
  pacer.offer(request({ limit: 20 }), 4_000);
  pacer.offer(request({ limit: 20, order: "hold" }), 4_000);
  pacer.offer(request({ limit: 20, order: "release" }), 4_000);
  assertEquals(pacer.release(10_000)?.order, "release", "a newer order wins over a held one");
});

Deno.test("one address's connections share its budget; it outlives the last of them until refilled", () => {
  const addresses = new AddressRowBudgets(rowBudget(1_000));
  const pacers = [0, 1, 2].map(() =>
    new ViewPacer(new TokenBucket(rowBudget(10_000), 0), addresses.join("10.0.0.1", 0))
  );
  const other = new ViewPacer(new TokenBucket(rowBudget(10_000), 0), addresses.join("10.0.0.2", 0));
  assertEquals(addresses.size, 2);
  assertEquals(pacers[0].offer(request({ limit: 1_000 }), 0)?.limit, 1_000);
  assertEquals(pacers[1].offer(request({ limit: 1_000 }), 0)?.limit, 1_000);
  assertEquals(pacers[2].offer(request({ limit: 1_000 }), 0), null, "the address's burst is spent");
  assertEquals(other.offer(request({ limit: 1_000 }), 0)?.limit, 1_000, "another address is not");
  // Every connection closes and one comes back at once: no fresh burst.
  for (let i = 0; i < 3; i++) addresses.leave("10.0.0.1", 10);
  const again = new ViewPacer(
    new TokenBucket(rowBudget(10_000), 20),
    addresses.join("10.0.0.1", 20),
  );
  assertEquals(again.offer(request({ limit: 1_000 }), 20), null, "a reconnect does not refill it");
  addresses.leave("10.0.0.1", 30);
  addresses.leave("10.0.0.2", 30);
  assertEquals(addresses.size, 2, "kept while refilling");
  // 2,000 rows at 1,000 a second: refilled 2 s on; a sweep (at most once a second) lets go.
  addresses.leave("10.0.0.9", 1_500);
  assertEquals(addresses.size, 1, "10.0.0.2 refilled (it spent 1,000 at 0), 10.0.0.1 not yet");
  addresses.leave("10.0.0.9", 2_600);
  assertEquals(addresses.size, 0);
});

Deno.test("paced requests never pass the budgets, and the newest window always goes (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5_000 }),
      fc.integer({ min: 1, max: 20_000 }),
      fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 400 }),
          limit: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 12_000 })),
          order: fc.constantFrom(...ORDERS),
          shift: fc.integer({ min: 1, max: 97 }),
        }),
        { minLength: 1, maxLength: 60 },
      ),
      (ownRate, addressRate, offers) => {
        const pacer = new ViewPacer(
          new TokenBucket(rowBudget(ownRate), 0),
          new TokenBucket(rowBudget(addressRate), 0),
        );
        const sent: { at: number; request: ViewRequest }[] = [];
        let now = 0, id = 0, dueAt = Infinity;
        const send = (request: ViewRequest | null, at: number) => {
          if (request !== null) sent.push({ at, request });
        };
        // What the server should end with: the newest window, with the last order said since the last sent.
        let expectOrder: ViewOrder = "keep";
        for (const o of offers) {
          // The timer fires first if it is due before this offer.
          while (dueAt <= now + o.gap) {
            const at = dueAt;
            const released = pacer.release(at);
            send(released, at);
            if (released) expectOrder = "keep";
            dueAt = pacer.holding ? at + Math.max(1, pacer.waitMs(at)) : Infinity;
          }
          now += o.gap;
          const offered = request({ limit: o.limit, offset: ++id * o.shift, order: o.order });
          // A resort said stays (a hold after it follows it: view_pacing_resort_test.ts).
          if (o.order !== "keep" && expectOrder !== "resort") expectOrder = o.order;
          const now_ = pacer.offer(offered, now);
          send(now_, now);
          if (now_) {
            assertEquals(now_.offset, id * o.shift, "a request that goes at once is the newest");
            expectOrder = "keep";
          }
          if (o.limit === 0) assert(now_ !== null, "a close goes at once");
          dueAt = pacer.holding ? now + Math.max(1, pacer.waitMs(now)) : Infinity;
        }
        const last = offers.length * offers[offers.length - 1].shift;
        // Liveness: the timer alone gets the newest window out.
        for (let k = 0; k < 100 && pacer.holding; k++) {
          const released = pacer.release(dueAt);
          send(released, dueAt);
          if (released) {
            assertEquals(released.order, expectOrder, "the orders said while held are kept");
          }
          dueAt = pacer.holding ? dueAt + Math.max(1, pacer.waitMs(dueAt)) : Infinity;
        }
        assert(!pacer.holding, "the held window went");
        assertEquals(
          sent[sent.length - 1].request.offset,
          last,
          "the last window sent is the newest",
        );
        // Safety, recounted: in every span, the rows sent fit the burst plus the refill.
        for (const [rate, cap] of [[ownRate, 2 * ownRate], [addressRate, 2 * addressRate]]) {
          for (let i = 0; i < sent.length; i++) {
            let rows = 0;
            for (let j = i; j < sent.length; j++) {
              // Every request here has one view: only a resort sorts.
              const r = sent[j].request;
              const cost = r.limit > 0 && r.order === "resort"
                ? Math.max(blockRows(r), 500)
                : blockRows(r);
              rows += Math.min(cost, cap);
              const span = sent[j].at - sent[i].at;
              assert(rows <= cap + rate * span / 1000 + 1e-6, `${rows} rows in ${span} ms`);
            }
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a request costs the rows its window is served, rounded out to blocks of 50", () => {
  const pacer = new ViewPacer(
    new TokenBucket(rowBudget(100), 0),
    new TokenBucket(rowBudget(1e6), 0),
  );
  // Offset 49, limit 2: rows 0–99 are served, 100 rows, not 2.
  assertEquals(pacer.offer(request({ offset: 49, limit: 2 }), 0)?.limit, 2);
  assertEquals(pacer.offer(request({ offset: 149, limit: 2 }), 0)?.limit, 2);
  assertEquals(pacer.offer(request({ offset: 249, limit: 2 }), 0), null, "200 rows spent");
  assertEquals(pacer.waitMs(0), 1_000);
});

Deno.test("a request that sorts (a resort, or another view than the last) costs at least VIEW_CHANGE_ROWS", () => {
  assertEquals(VIEW_CHANGE_ROWS, 500);
  const pacer = new ViewPacer(
    new TokenBucket(rowBudget(1_000), 0),
    new TokenBucket(rowBudget(1e6), 0),
  );
  const byT = {
    key: "metric" as const,
    metric: "t",
    field: "last" as const,
    direction: "asc" as const,
  };
  // The first window is its rows (50); scrolling the same view, its rows again.
  assertEquals(pacer.offer(request({ limit: 50 }), 0)?.limit, 50);
  assertEquals(pacer.offer(request({ limit: 50, offset: 500 }), 0)?.offset, 500);
  // 1,900 left: another sort, another filter, a resort: 500 each.
  assertEquals(pacer.offer(request({ limit: 50, sort: byT }), 0)?.sort, byT);
  const filter = { idSubstring: "a", groupPrefix: null, status: null };
  assertEquals(pacer.offer(request({ limit: 50, sort: byT, filter }), 0)?.limit, 50);
  assertEquals(
    pacer.offer(request({ limit: 50, sort: byT, filter, order: "resort" }), 0)?.limit,
    50,
  );
  assertEquals(pacer.offer(request({ limit: 50 }), 0), null, "400 left: a fourth view waits");
  assertEquals(pacer.waitMs(0), 100);
});
