import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { Router } from "./router.ts";
import { packRows, unpackRows } from "./routed_rows.ts";
import { shardFor } from "./shard_for.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";

const block = (rows: [sensor: string, metrics: string[]][]) =>
  blockFromReadings(rows.map(([sensorId, names], i) => ({
    sensorId,
    timeMs: i,
    values: Object.fromEntries(names.map((n) => [n, i])),
  })));

/** Per shard: the sensor id of each of its rows, in order (null for a shard with none). */
function rowsByShard(
  router: Router,
  b: ReadingBlock,
  options: { only?: Set<number>; hosts?: number } = {},
): (string[] | null)[] {
  const out: (string[] | null)[] = new Array(router.shardCount).fill(null);
  for (const part of router.split(b, options)) {
    if (!part) continue;
    for (let k = 0; k < part.shards.length; k++) {
      out[part.shards[k]] = Array.from(
        part.sensor.subarray(part.shardStart[k], part.shardStart[k + 1]),
        (index) => router.sensorId(index)!,
      );
    }
  }
  return out;
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
  assertEquals(
    rowsByShard(router, b, { only: new Set([one]) }),
    expected.map((r, i) => (i === one ? r : null)),
  );
  // Spread over two hosts (workers), each host gets exactly its shards' rows.
  const parts = router.split(b, { hosts: 2 });
  assertEquals(
    parts.map((p) => p && [...p.shards]),
    [
      [0, 2].filter((s) => expected[s] !== null),
      [1].filter((s) => expected[s] !== null),
    ].map((shards) => (shards.length ? shards : null)),
  );
  assertEquals(rowsByShard(router, b, { hosts: 2 }), expected);
});

Deno.test("each row carries its values, group and status, and its sensor's dense index within its shard", () => {
  const router = new Router(2);
  const b = blockFromReadings([
    { sensorId: "x", group: "g/1", timeMs: 5, status: "ok", values: { t: 1, h: 2 } },
    { sensorId: "y", timeMs: 6, values: { t: 3 } },
    { sensorId: "x", group: "g/2", timeMs: 7, values: { h: 4 } },
  ]);
  const rows = router.split(b).find((p) => p !== null)!;
  // Locals count per shard in order of first appearance.
  const locals = new Map<number, number>();
  for (const id of ["x", "y"]) {
    const shard = shardFor(id, 2);
    const at = router.lookup(id)!;
    assertEquals(at.local, locals.get(shard) ?? 0);
    locals.set(shard, (locals.get(shard) ?? 0) + 1);
  }
  const seen = [];
  for (let r = 0; r < rows.length; r++) {
    const values = [];
    for (let v = rows.valueStart[r]; v < rows.valueStart[r + 1]; v++) {
      values.push([router.metricName(rows.metric[v]), rows.value[v]]);
    }
    seen.push([
      router.sensorId(rows.sensor[r]),
      rows.local[r],
      rows.strings[rows.group[r]],
      rows.strings[rows.status[r]],
      rows.timeMs[r],
      values,
    ]);
  }
  const local = (id: string) => router.lookup(id)!.local;
  const expected = [
    ["x", local("x"), "g/1", "ok", 5, [["t", 1], ["h", 2]]],
    ["y", local("y"), "", "", 6, [["t", 3]]],
    ["x", local("x"), "g/2", "", 7, [["h", 4]]],
  ];
  // Rows are grouped by shard, in log order within each.
  const order = (id: unknown) => shardFor(id as string, 2);
  assertEquals(seen, [...expected].sort((a, b) => order(a[0]) - order(b[0])));
});

Deno.test("sensors and metrics get dense indexes in order of first appearance, kept across a restore", () => {
  const router = new Router(2);
  const first = block([["x", ["t", "h"]], ["y", ["t"]], ["x", ["p"]]]);
  router.split(first);
  const index = (r: Router, name: string) => r.lookup(name)!.index;
  const metric = (r: Router, name: string) => r.metricIndex(name);
  assertEquals([index(router, "x"), index(router, "y")], [0, 1]);
  assertEquals([metric(router, "t"), metric(router, "h"), metric(router, "p")], [0, 1, 2]);
  assertEquals(router.save(), { sensors: ["x", "y"], metrics: ["t", "h", "p"], epoch: 0 });
  const restored = Router.restore(2, router.save());
  // A later block that names them in another order keeps their indexes, and a new one comes next.
  const later = block([["z", ["q"]], ["y", ["h"]]]);
  restored.split(later);
  assertEquals(index(restored, "y"), 1);
  assertEquals(index(restored, "z"), 2);
  assertEquals(metric(restored, "q"), 3);
  assertEquals(restored.lookup("z")!.shard, shardFor("z", 2));
  // Locals are the same as the saved router's: they follow the order of the ids.
  assertEquals(restored.lookup("x")!.local, router.lookup("x")!.local);
  assertEquals(restored.lookup("y")!.local, router.lookup("y")!.local);
  restored.clear();
  assertEquals([restored.sensorCount, restored.lookup("x")], [0, undefined]);
  assertEquals(restored.epoch, 1, "a clear starts a new epoch: ids are not only appended any more");
});

Deno.test("a saved router with a repeated id or name, or ids that are not strings, is refused with a RangeError; isAt tells where a restored sensor is", () => {
  const bad: [string, unknown][] = [
    ["a repeated sensor id", { sensors: ["x", "y", "x"], metrics: ["t"] }],
    ["a repeated metric name", { sensors: ["x"], metrics: ["t", "t"] }],
    ["a sensor id that is a number", { sensors: ["x", 5], metrics: [] }],
    ["no sensor list", { metrics: [] }],
  ];
  for (const [what, saved] of bad) {
    let error: unknown = null;
    try {
      Router.restore(2, saved as { sensors: string[]; metrics: string[] });
    } catch (e) {
      error = e;
    }
    assertEquals(error instanceof RangeError, true, `${what}: refused, got ${error}`);
    assertEquals(/^Cannot restore a router/.test((error as Error).message), true, what);
  }
  const ids = ["x", "y", "z", "w"];
  const restored = Router.restore(2, { sensors: ids, metrics: ["t"] });
  const locals = [0, 0];
  ids.forEach((id, index) => {
    const shard = shardFor(id, 2);
    const local = locals[shard]++;
    assertEquals(restored.isAt(index, shard, local), true, id);
    assertEquals(restored.isAt(index, 1 - shard, local), false, id);
    assertEquals(restored.isAt(index, shard, local + 1), false, id);
  });
  assertEquals(restored.isAt(ids.length, 0, 0), false, "an index past the last");
});

Deno.test("metric names past the cap are dropped and counted, not indexed", () => {
  const router = new Router(1, { maxMetrics: 2 });
  const b = block([["s", ["a", "b", "c"]], ["s", ["c", "d"]]]);
  const part = router.split(b)[0]!;
  const metric = (name: string) => router.metricIndex(name) ?? -1;
  assertEquals([metric("a"), metric("b"), metric("c"), metric("d")], [0, 1, -1, -1]);
  assertEquals(
    [...part.metric].map((m) => router.metricName(m)),
    ["a", "b"],
    "dropped values are left out",
  );
  assertEquals(router.droppedValues, 2, "once per distinct name in the block");
});

/** Every routed row as plain data, per shard, in order. */
function routedRows(router: Router, blocks: ReadingBlock | ReadingBlock[], hosts: number) {
  const out: string[][] = Array.from({ length: router.shardCount }, () => []);
  for (const part of router.split(blocks, { hosts })) {
    if (!part) continue;
    for (let k = 0; k < part.shards.length; k++) {
      for (let r = part.shardStart[k]; r < part.shardStart[k + 1]; r++) {
        const values = [];
        for (let v = part.valueStart[r]; v < part.valueStart[r + 1]; v++) {
          values.push(`${router.metricName(part.metric[v])}=${part.value[v]}`);
        }
        out[part.shards[k]].push(
          [
            router.sensorId(part.sensor[r]),
            part.local[r],
            part.strings[part.group[r]],
            part.strings[part.status[r]],
            part.timeMs[r],
            values.join(","),
          ].join("|"),
        );
      }
    }
  }
  return out;
}

Deno.test("several blocks split as one message per host carry the same rows as the blocks split one by one", () => {
  const reading = fc.record({
    sensorId: fc.constantFrom("a", "b", "c", "d", "e", "f", "g"),
    group: fc.constantFrom("", "g1", "g2"),
    status: fc.constantFrom("", "ok", "hot"),
    timeMs: fc.integer({ min: 0, max: 1e6 }),
    values: fc.dictionary(fc.constantFrom("t", "h", "p"), fc.integer({ min: -99, max: 99 })),
  });
  fc.assert(
    fc.property(
      fc.array(fc.array(reading, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 1, max: 3 }),
      (groups, hosts) => {
        const together = new Router(4), apart = new Router(4);
        const blocks = groups.map((g) => blockFromReadings(g));
        const expected = routedRows(apart, blocks[0], hosts);
        for (const b of blocks.slice(1)) {
          routedRows(apart, b, hosts).forEach((rows, s) => expected[s].push(...rows));
        }
        assertEquals(routedRows(together, blocks, hosts), expected);
      },
    ),
  );
});

Deno.test("a sensor's group is what its shard last reported, whatever groups came and went (the table is compacted, answers are not changed)", () => {
  const ids = ["s0", "s1", "s2", "s3"];
  const op = fc.record({
    sensor: fc.integer({ min: 0, max: ids.length }), // ids.length: an index the router never gave
    group: fc.option(fc.integer({ min: 0, max: 4_000 }).map((g) => `g${g}`), { freq: 8 }),
  });
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 3_000 }), (ops) => {
      const router = new Router(4);
      router.split(block(ids.map((id) => [id, ["t"]])));
      const model = new Map<string, string>();
      for (const { sensor, group } of ops) {
        router.noteGroup(sensor, group);
        const id = ids[sensor];
        if (id === undefined) continue;
        if (group === null) model.delete(id);
        else model.set(id, group);
      }
      for (const id of ids) assertEquals(router.groupOf(id), model.get(id), id);
      assertEquals(router.groupOf("never-seen"), undefined);
    }),
    { numRuns: 40 },
  );
  // A router that forgot its indexes forgets the groups too.
  const router = new Router(2);
  router.split(block([["s0", ["t"]]]));
  router.noteGroup(0, "plant-a");
  router.clear();
  router.split(block([["s0", ["t"]]]));
  assertEquals(router.groupOf("s0"), undefined);
});

Deno.test("each routed row carries its block's acceptance time (Infinity for a block without one), through a packed copy too", () => {
  const router = new Router(3);
  const ids = ["a", "b", "c", "d", "e", "f"];
  const blocks = [
    { ...block(ids.map((id) => [id, ["t"]])), acceptedMs: 1_000 },
    block(ids.slice(0, 3).map((id) => [id, ["t"]])),
    { ...block(ids.slice(2).map((id) => [id, ["h"]])), acceptedMs: 3_000 },
  ];
  const expected = new Map<string, number[]>();
  blocks.forEach((b) => {
    for (let i = 0; i < b.length; i++) {
      const id = b.strings[b.sensor[i]];
      expected.set(id, [...(expected.get(id) ?? []), b.acceptedMs ?? Infinity]);
    }
  });
  for (const part of router.split(blocks, { hosts: 2 })) {
    if (!part) continue;
    const copy = unpackRows(structuredClone(packRows(part)));
    for (const rows of [part, copy]) {
      const got = new Map<string, number[]>();
      for (let r = 0; r < rows.length; r++) {
        const id = router.sensorId(rows.sensor[r])!;
        got.set(id, [...(got.get(id) ?? []), rows.acceptedMs[r]]);
      }
      for (const [id, times] of got) assertEquals(times, expected.get(id), id);
    }
  }
});
