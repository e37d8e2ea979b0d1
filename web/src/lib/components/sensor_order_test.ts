import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { nextSort } from "./sensor_order.ts";
import type { SortSpec } from "./sensor_order.ts";

Deno.test("a header click flips the same column; a new metric starts highest first", () => {
  const start: SortSpec = { column: { kind: "id" }, direction: "asc" };
  assertEquals(nextSort(start, { kind: "id" }).direction, "desc");
  assertEquals(nextSort(start, { kind: "metric", metric: "t", field: "last" }).direction, "desc");
  assertEquals(nextSort(start, { kind: "age" }).direction, "desc");
  assertEquals(nextSort(start, { kind: "group" }).direction, "asc");
});
