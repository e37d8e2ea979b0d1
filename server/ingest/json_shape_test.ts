import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { batchShapeLimits, jsonShapeRefusal } from "./json_shape.ts";

/** The parsed value's nesting depth, its values (elements, members, itself), containers and member names. */
function shapeOf(
  value: unknown,
  names = new Set<string>(),
): { depth: number; values: number; containers: number; names: Set<string> } {
  if (value === null || typeof value !== "object") {
    return { depth: 0, values: 1, containers: 0, names };
  }
  if (!Array.isArray(value)) { for (const name of Object.keys(value)) names.add(name); }
  const children = Array.isArray(value) ? value : Object.values(value);
  let depth = 0, values = 1, containers = 1;
  for (const child of children) {
    const s = shapeOf(child, names);
    depth = Math.max(depth, s.depth);
    values += s.values;
    containers += s.containers;
  }
  return { depth: depth + 1, values, containers, names };
}

Deno.test("the byte scan tells a JSON text's depth exactly, its values within one per container, and its member names at most, whatever its strings hold", () => {
  const text = fc.oneof(
    fc.jsonValue({ maxDepth: 6 }),
    // Strings full of the characters the scan must not count.
    fc.array(fc.stringMatching(/^[[\]{},"\\:a\u00e9\u{1F600}]*$/u), { maxLength: 5 }),
    fc.dictionary(fc.stringMatching(/^[[\]{},"\\:a]*$/), fc.constant(1), { maxKeys: 5 }),
  );
  fc.assert(
    fc.property(text, (value) => {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      const { depth, values, containers, names } = shapeOf(JSON.parse(JSON.stringify(value)));
      const exact = { maxDepth: depth, maxValues: values + containers, maxNames: names.size };
      assertEquals(jsonShapeRefusal(bytes, exact), null);
      if (depth > 0) {
        const deeper = jsonShapeRefusal(bytes, { ...exact, maxDepth: depth - 1 });
        assert(deeper?.includes("deeper than"), String(deeper));
      }
      const more = jsonShapeRefusal(bytes, { ...exact, maxValues: values - 1 });
      assert(more?.includes("JSON values"), String(more));
    }),
    { numRuns: 500 },
  );
});

Deno.test("a batch's bounds let the largest valid batch through and stop bodies that are only structure", () => {
  const limits = batchShapeLimits(10_000);
  const reading = (i: number) => ({
    sensorId: `sensor-${i}`,
    timestamp: 1_700_000_000_000,
    group: "plant-a/line-1",
    status: "ok",
    reading: Object.fromEntries(Array.from({ length: 32 }, (_, m) => [`m${m}`, m])),
  });
  const largest = JSON.stringify({
    readings: Array.from({ length: 10_000 }, (_, i) => reading(i)),
  });
  assertEquals(jsonShapeRefusal(new TextEncoder().encode(largest), limits), null);
  const empties = new TextEncoder().encode(`[${"{},".repeat(700_000)}{}]`);
  assert(jsonShapeRefusal(empties, limits)?.includes("JSON values"));
  const deep = new TextEncoder().encode("[".repeat(100_000) + "]".repeat(100_000));
  assertEquals(
    jsonShapeRefusal(deep, limits),
    "body nests arrays and objects deeper than 32 levels",
  );
  // Objects of few members each, but 5,000 distinct names in all (V8 makes a shape for each).
  const named = Array.from(
    { length: 100 },
    (_, i) => Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`k${i}_${k}`, 1])),
  );
  assertEquals(
    jsonShapeRefusal(new TextEncoder().encode(JSON.stringify(named)), limits),
    "body uses more than 4096 distinct member names, more than readings may",
  );
  // The same names again and again are one name each; an escape is part of its name.
  const repeated = JSON.stringify(Array.from({ length: 10_000 }, () => ({ 'a"b': 1, a: 2 })));
  const bytes = new TextEncoder().encode(repeated);
  assertEquals(jsonShapeRefusal(bytes, { ...limits, maxNames: 2 }), null);
  assert(jsonShapeRefusal(bytes, { ...limits, maxNames: 1 })?.includes("more than 1 distinct"));
});
