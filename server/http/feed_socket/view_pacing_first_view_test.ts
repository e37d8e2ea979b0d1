import { filteredView } from "../../../tests/testing/view_request.ts";
import { assertEquals } from "../../../tests/testing/assert.ts";
import { TokenBucket } from "../token_bucket.ts";
import type { ViewRequest } from "../../../protocol/client_messages.ts";
import {
  AddressRowBudgets,
  RECENT_VIEWS,
  rowBudget,
  VIEW_CHANGE_ROWS,
  ViewPacer,
} from "./view_pacing.ts";

const request = filteredView;

/** A new connection of `address`, wired as the feed wires it: its own budget never binds here. */
function connect(addresses: AddressRowBudgets, address: string, now: number): ViewPacer {
  return new ViewPacer(
    new TokenBucket(rowBudget(1e9), now),
    addresses.join(address, now),
    addresses.views(address),
  );
}

Deno.test("a connection's first request for a view its address has not opened costs VIEW_CHANGE_ROWS", () => {
  // 2,000 rows of burst for the address: four fresh views at 500 each, not forty at 50.
  const addresses = new AddressRowBudgets(rowBudget(1_000));
  let went = 0;
  for (let i = 0; i < 40; i++) {
    if (connect(addresses, "10.0.0.1", 0).offer(request(`fresh-${i}`), 0) !== null) went++;
  }
  assertEquals(went, 2_000 / VIEW_CHANGE_ROWS);
});

Deno.test("a connection reopening a view its address opened lately costs its rows", () => {
  const addresses = new AddressRowBudgets(rowBudget(1_000));
  assertEquals(connect(addresses, "10.0.0.1", 0).offer(request("a"), 0)?.limit, 1, "500 rows");
  // 1,500 left: thirty reconnecting dashboards on the same view at 50 rows each.
  let went = 0;
  for (let i = 0; i < 40; i++) {
    if (connect(addresses, "10.0.0.1", 0).offer(request("a"), 0) !== null) went++;
  }
  assertEquals(went, 1_500 / 50);
  // Another address's views are not this one's: "a" is fresh there.
  assertEquals(connect(addresses, "10.0.0.2", 0).offer(request("b"), 0)?.limit, 1);
  assertEquals(connect(addresses, "10.0.0.2", 0).offer(request("a"), 0)?.limit, 1);
  assertEquals(addresses.views("10.0.0.2").size, 2);
  assertEquals(addresses.views("10.0.0.1").size, 1);
});

/** What a first request for `view` costs on an address that remembers `remembered`: 50 or 500. */
function firstCost(remembered: Iterable<string>, view: ViewRequest): number {
  const addresses = new AddressRowBudgets(rowBudget(250)); // a burst of 500 rows
  const first = connect(addresses, "x", 0);
  for (const digest of remembered) addresses.views("x").add(digest);
  assertEquals(first.offer(view, 0)?.limit, 1);
  // The address's bucket: 450 rows left after 50, none after 500.
  return addresses.join("x", 0).has(0, 450) ? 50 : 500;
}

Deno.test("an address remembers its last RECENT_VIEWS views, the oldest going first", () => {
  const addresses = new AddressRowBudgets(rowBudget(1e9));
  for (let i = 0; i <= RECENT_VIEWS; i++) {
    assertEquals(connect(addresses, "10.0.0.1", 0).offer(request(`v${i}`), 0)?.limit, 1);
  }
  const views = [...addresses.views("10.0.0.1")];
  assertEquals(views.length, RECENT_VIEWS);
  assertEquals(firstCost(views, request("v0")), 500, "v0 was forgotten");
  assertEquals(firstCost(views, request("v1")), 50, "v1 is remembered");
  assertEquals(firstCost(views, request(`v${RECENT_VIEWS}`)), 50);
});
