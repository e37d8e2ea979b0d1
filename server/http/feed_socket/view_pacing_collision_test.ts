import { filteredView } from "../../../tests/testing/view_request.ts";
import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { TokenBucket } from "../token_bucket.ts";
import type { ViewRequest } from "../../../protocol/client_messages.ts";
import { rowBudget, VIEW_CHANGE_ROWS, ViewPacer } from "./view_pacing.ts";

const request = filteredView;

/** 32-bit FNV-1a over UTF-16 code units, recomputed here to show the pair collides under it. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** A pacer whose connection budget holds 500 rows, under an address budget that never binds. */
function pacer(): ViewPacer {
  return new ViewPacer(new TokenBucket(rowBudget(250), 0), new TokenBucket(rowBudget(1e9), 0));
}

Deno.test("two views whose keys collide under a 32-bit hash are still two views: the second costs VIEW_CHANGE_ROWS", () => {
  const [a, b] = [request("6yzx"), request("d6ad")];
  const key = (r: ViewRequest) => JSON.stringify([r.subscriptions, r.sort, r.filter]);
  // Found by a client in ~615,000 tries (the 614,678th candidate): with the old hash this flip cost 50 rows, not 500.
  assertEquals(fnv1a(key(a)), fnv1a(key(b)));
  const p = pacer();
  assertEquals(p.offer(a, 0)?.filter.idSubstring, "6yzx", "the first window costs its 50 rows");
  // 450 rows left: another filter is another view, 500 rows, so it waits.
  assertEquals(p.offer(b, 0), null);
  assert(p.waitMs(0) > 0);
});

Deno.test("any other filter than the last costs at least VIEW_CHANGE_ROWS (property)", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (x, y) => {
      fc.pre(x !== y);
      const p = pacer();
      assert(p.offer(request(x), 0) !== null, "the first window costs its rows");
      // 450 left: the same view again (50) fits, another (≥ 500) does not.
      const other = p.offer(request(y), 0);
      assertEquals(other, null);
      assertEquals(VIEW_CHANGE_ROWS, 500);
    }),
  );
});
