import { assert, assertEquals } from "../tests/testing/assert.ts";
import { burstWalls, stealPercent } from "./machine_steal.ts";

Deno.test("steal is its share of all CPU time between two readings", () => {
  assertEquals(
    stealPercent({ busy: 100, idle: 500, steal: 10 }, { busy: 160, idle: 520, steal: 30 }),
    20, // 20 of 60 + 20 + 20
  );
  assertEquals(stealPercent(null, { busy: 1, idle: 1, steal: 1 }), null);
  assertEquals(stealPercent({ busy: 1, idle: 1, steal: 1 }, { busy: 1, idle: 1, steal: 1 }), null);
});

Deno.test({
  name: "a CPU-bound burst takes at least its CPU time of wall time",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const walls = (await burstWalls({ bursts: 3, cpuMs: 5, gapMs: 1 }))!;
  assertEquals(walls.length, 3);
  assert(walls.every((w) => w >= 4.9), walls.join(", "));
  assert(walls[0] <= walls[1] && walls[1] <= walls[2], "sorted");
});
