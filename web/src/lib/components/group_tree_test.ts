import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { groupTree } from "./group_tree.ts";

Deno.test("group tree lists every prefix depth-first with the sensors under it", () => {
  const tree = groupTree([
    { group: "plant-b/line-1", sensors: 3 },
    { group: "plant-a/line-10", sensors: 1 },
    { group: "plant-a/line-2", sensors: 2 },
    { group: "default", sensors: 4 },
  ]);
  assertEquals(tree.map((n) => [n.path, n.depth, n.sensors]), [
    ["default", 0, 4],
    ["plant-a", 0, 3],
    ["plant-a/line-2", 1, 2],
    ["plant-a/line-10", 1, 1],
    ["plant-b", 0, 3],
    ["plant-b/line-1", 1, 3],
  ]);
});

Deno.test("each node counts the sensors needing attention in every group under it", () => {
  const tree = groupTree([
    { group: "plant-a/line-1", sensors: 3, attention: { critical: 1 } },
    { group: "plant-a/line-2", sensors: 2, attention: { critical: 2, stale: 1 } },
    { group: "plant-b", sensors: 1 },
  ]);
  assertEquals(tree.map((n) => [n.path, n.attention]), [
    ["plant-a", { critical: 3, stale: 1 }],
    ["plant-a/line-1", { critical: 1 }],
    ["plant-a/line-2", { critical: 2, stale: 1 }],
    ["plant-b", {}],
  ]);
});
