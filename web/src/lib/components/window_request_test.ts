import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { hiddenForRequest, viewKey, windowKey, windowSort, windowSpec } from "./window_request.ts";
import { DEFAULT_SORT } from "./sensor_order.ts";
import type { RowFilter } from "./sensor_order.ts";

const noFilter: RowFilter = { text: "", group: null, states: null };

Deno.test("the table's sorts map to the server's: attention first by default; age ascending is seen descending", () => {
  // Attention codes rise with urgency (critical 5 … ok 1), so descending puts the worst first.
  assertEquals(windowSort(DEFAULT_SORT), { key: "status", direction: "desc" });
  assertEquals(windowSort({ column: { kind: "id" }, direction: "asc" }), {
    key: "id",
    direction: "asc",
  });
  assertEquals(windowSort({ column: { kind: "age" }, direction: "asc" }), {
    key: "seen",
    direction: "desc",
  });
  assertEquals(
    windowSort({ column: { kind: "metric", metric: "t", field: "avg" }, direction: "desc" }),
    { key: "metric", metric: "t", field: "avg", direction: "desc" },
  );
});

Deno.test("the window covers the visible rows and a margin; scrolling within a block asks nothing new", () => {
  const at = (first: number, last: number) =>
    windowSpec({ sort: DEFAULT_SORT, filter: noFilter, group: null, first, last });
  assertEquals([at(0, 30).offset, at(0, 30).limit], [0, 41]);
  assertEquals([at(500, 530).offset, at(500, 530).limit], [490, 51]);
  // 512..542 needs rows 502..552: the blocks 500..600, as 510..540 did.
  assertEquals(windowKey(at(512, 542)), windowKey(at(510, 540)));
  assert(windowKey(at(560, 590)) !== windowKey(at(510, 540)), "another block");
  assertEquals(viewKey(at(560, 590)), viewKey(at(0, 30)), "the same view");
  const group = windowSpec({
    sort: DEFAULT_SORT,
    filter: { text: " s1 ", group: "plant-a", states: null },
    group: "plant-a/line-1",
    first: 0,
    last: 10,
  });
  assertEquals(group.subscriptions, [{ id: 1, group: "plant-a/line-1" }]);
  assertEquals(group.filter, { idSubstring: "s1", groupPrefix: "plant-a", status: null });
});

Deno.test("a state filter asks for the states' codes (critical 5, warn 4, offline 3, stale 2), as another view", () => {
  const at = (states: RowFilter["states"]) =>
    windowSpec({
      sort: DEFAULT_SORT,
      filter: { ...noFilter, states },
      group: null,
      first: 0,
      last: 30,
    });
  assertEquals(at(["critical"]).filter?.status, [5]);
  assertEquals(at(["critical", "warn", "offline", "stale"]).filter?.status, [2, 3, 4, 5]);
  assertEquals(at(null).filter?.status, null);
  assert(viewKey(at(["critical"])) !== viewKey(at(null)), "another view: back to the top");
});

Deno.test("hiding a metric asks for the window again without it, in the same view (no scroll back)", () => {
  const at = (hidden: string[]) =>
    windowSpec({ sort: DEFAULT_SORT, filter: noFilter, group: null, first: 0, last: 30, hidden });
  assertEquals(at(["humidity"]).hiddenMetrics, ["humidity"]);
  assertEquals(at([]).hiddenMetrics, []);
  assert(windowKey(at(["humidity"])) !== windowKey(at([])), "a new request");
  assertEquals(viewKey(at(["humidity"])), viewKey(at([])), "the same view");
});

function assert(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

Deno.test("a request hides every hidden metric from the first, known or not; past 1,024, the known ones first", () => {
  assertEquals(hiddenForRequest(new Set(["b", "a"]), []), ["a", "b"]);
  const many = new Set(Array.from({ length: 1500 }, (_, i) => `m${String(i).padStart(4, "0")}`));
  const known = ["m1499", "m1400", "x"];
  const sent = hiddenForRequest(many, known);
  assertEquals(sent.length, 1024);
  assert(sent.includes("m1499") && sent.includes("m1400"), "the known hidden ones are sent");
  assertEquals(sent, [...sent].sort());
});
