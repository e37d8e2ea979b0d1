import { assertEquals } from "../../tests/testing/assert.ts";
import { Router } from "./router.ts";
import { shardFor } from "./shard_for.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";

const block = (rows: [sensor: string, metrics: string[]][]) =>
  blockFromReadings(rows.map(([sensorId, names], i) => ({
    sensorId,
    timeMs: i,
    values: Object.fromEntries(names.map((n) => [n, i])),
  })));

/** Per shard: the sensor id of each of its rows, in order. */
function rowsByShard(router: Router, b: ReadingBlock, only = -1): (string[] | null)[] {
  return router.split(b, only).map((part) =>
    part && Array.from(part.rows, (row) => b.strings[b.sensor[row]])
  );
}

Deno.test("the router sends each row to the shard shardFor names, in log order", () => {
  const router = new Router(3);
  const ids = ["a", "b", "c", "d", "e", "f", "a", "c"];
  const b = block(ids.map((id) => [id, ["t"]]));
  const expected = [0, 1, 2].map((shard) => {
    const mine = ids.filter((id) => shardFor(id, 3) === shard);
    return mine.length === 0 ? null : mine;
  });
  assertEquals(rowsByShard(router, b), expected);
  // A replay for one shard gets only its rows.
  const one = shardFor("a", 3);
  assertEquals(rowsByShard(router, b, one), expected.map((r, i) => (i === one ? r : null)));
});

Deno.test("sensors and metrics get dense indexes in order of first appearance, kept across a restore", () => {
  const router = new Router(2);
  const first = block([["x", ["t", "h"]], ["y", ["t"]], ["x", ["p"]]]);
  const part = router.split(first).find((p) => p !== null)!;
  const index = (name: string) => part.sensorIndex[first.strings.indexOf(name)];
  const metric = (name: string) => part.metricIndex[first.strings.indexOf(name)];
  assertEquals([index("x"), index("y")], [0, 1]);
  assertEquals([metric("t"), metric("h"), metric("p")], [0, 1, 2]);
  assertEquals(router.save(), { sensors: ["x", "y"], metrics: ["t", "h", "p"] });
  const restored = Router.restore(2, router.save());
  // A later block that names them in another order keeps their indexes, and a new one comes next.
  const later = block([["z", ["q"]], ["y", ["h"]]]);
  const again = restored.split(later).find((p) => p !== null)!;
  assertEquals(again.sensorIndex[later.strings.indexOf("y")], 1);
  assertEquals(again.sensorIndex[later.strings.indexOf("z")], 2);
  assertEquals(again.metricIndex[later.strings.indexOf("q")], 3);
  assertEquals(restored.lookup("z"), { index: 2, shard: shardFor("z", 2) });
  restored.clear();
  assertEquals([restored.sensorCount, restored.lookup("x")], [0, undefined]);
});

Deno.test("metric names past the cap are dropped and counted, not indexed", () => {
  const router = new Router(1, { maxMetrics: 2 });
  const b = block([["s", ["a", "b", "c"]], ["s", ["c", "d"]]]);
  const part = router.split(b)[0]!;
  const metric = (name: string) => part.metricIndex[b.strings.indexOf(name)];
  assertEquals([metric("a"), metric("b"), metric("c"), metric("d")], [0, 1, -1, -1]);
  assertEquals(router.droppedValues, 2, "once per distinct name in the block");
});
