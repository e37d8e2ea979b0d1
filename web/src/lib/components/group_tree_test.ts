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
