import { deepStrictEqual as assertEquals } from "node:assert/strict";
import fc from "fast-check";
import { ancestorsOf, groupTree, shownNodes } from "./group_tree.ts";

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

// "c09" and "c9" collate equal by number: the tree must still keep each under its own parent.
const pathArb = fc.array(fc.constantFrom("a", "b", "c10", "c9", "c09"), {
  minLength: 1,
  maxLength: 4,
})
  .map((parts) => parts.join("/"));

Deno.test("a node's children are the groups one level below it", () => {
  fc.assert(fc.property(fc.uniqueArray(pathArb, { maxLength: 30 }), (paths) => {
    const tree = groupTree(paths.map((group) => ({ group, sensors: 1 })));
    for (const node of tree) {
      const below = tree.filter((n) =>
        n.depth === node.depth + 1 && n.path.startsWith(node.path + "/")
      );
      assertEquals(node.children, below.length, node.path);
    }
  }));
});

Deno.test("without a query the picker shows exactly the nodes whose every ancestor is expanded, in tree order, up to its limit", () => {
  fc.assert(fc.property(
    fc.uniqueArray(pathArb, { maxLength: 30 }),
    fc.uniqueArray(pathArb, { maxLength: 10 }),
    fc.integer({ min: 1, max: 40 }),
    (paths, open, limit) => {
      const tree = groupTree(paths.map((group) => ({ group, sensors: 1 })));
      const expanded = new Set(open);
      const expected = tree.filter((n) => ancestorsOf(n.path).every((a) => expanded.has(a)));
      const shown = shownNodes(tree, { expanded, limit });
      assertEquals(shown.nodes, expected.slice(0, limit));
      assertEquals(shown.more, Math.max(0, expected.length - limit));
    },
  ));
});

Deno.test("with a query the picker shows the nodes whose path holds it, whatever is collapsed", () => {
  const tree = groupTree([
    { group: "site-12/area-1", sensors: 1 },
    { group: "site-120/area-1", sensors: 1 },
    { group: "site-3/area-12", sensors: 1 },
  ]);
  const shown = shownNodes(tree, { expanded: new Set(), query: " SITE-12", limit: 10 });
  assertEquals(shown.nodes.map((n) => n.path), [
    "site-12",
    "site-12/area-1",
    "site-120",
    "site-120/area-1",
  ]);
  assertEquals(ancestorsOf("a/b/c"), ["a", "a/b"]);
});
