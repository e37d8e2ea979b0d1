import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { ShardBehavior } from "./shard.ts";
import { Router } from "./router.ts";
import { FeedView } from "../hub/feed_view.ts";
import type { ShardChanges, ShardReadings } from "./shard_messages.ts";
import type { ShardImage } from "./shard_image.ts";
import { decodePage } from "./shard_image.ts";
import { ThresholdLevels } from "./threshold_levels.ts";
import type { HeldWindow } from "./event_window_store.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";

function flush(shard: ShardBehavior): ShardChanges {
  let changes: ShardChanges | null = null;
  shard.receive({ type: "flush", reply: (c) => (changes = c) });
  return changes!;
}

/** Routes readings to shard 0 of a one-shard router. */
function message(router: Router, readings: Parameters<typeof blockFromReadings>[0]): ShardReadings {
  const rows = router.split(blockFromReadings(readings))[0]!;
  return { type: "readings", rows, from: 0, to: rows.length };
}

/** The shard's whole state, for checkpoint `seq`. */
function save(shard: ShardBehavior, seq = 1): ShardImage {
  let image: ShardImage | null = null;
  shard.receive({ type: "checkpoint", seq, since: -1, reply: (s) => (image = s) });
  return image!;
}

Deno.test("shard flush emits one update per changed sensor-metric, the latest values winning", () => {
  const router = new Router(1);
  const shard = new ShardBehavior({ window: 3, names: router });
  shard.receive(message(router, [
    { sensorId: "a", group: "g/1", timeMs: 1, values: { t: 1, h: 10 } },
    { sensorId: "a", group: "g/1", timeMs: 2, values: { t: 2 } },
    { sensorId: "b", timeMs: 1, values: { t: 5 } },
    { sensorId: "a", group: "g/1", timeMs: 3, values: { t: 3 } },
  ]));
  const first = flush(shard);
  assertEquals(first.sensors, [{ index: 0, id: "a", group: "g/1" }, {
    index: 1,
    id: "b",
    group: "default",
  }]);
  assertEquals(first.metrics, [{ index: 0, name: "t" }, { index: 1, name: "h" }]);
  const rows = Array.from({ length: first.updates.length }, (_, i) => [
    first.updates.sensor[i],
    first.updates.metric[i],
    first.updates.last[i],
    first.updates.avg[i],
    first.updates.min[i],
    first.updates.max[i],
  ]).sort();
  assertEquals(rows, [[0, 0, 3, 2, 1, 3], [0, 1, 10, 10, 10, 10], [1, 0, 5, 5, 5, 5]]);

  // Nothing new: an empty flush.
  const second = flush(shard);
  assertEquals([second.sensors.length, second.metrics.length, second.updates.length], [0, 0, 0]);

  // One more reading: only that metric, and the group change of "a".
  shard.receive(message(router, [{ sensorId: "a", group: "g/2", timeMs: 4, values: { t: 9 } }]));
  const third = flush(shard);
  assertEquals(third.sensors, [{ index: 0, id: "a", group: "g/2" }]);
  assertEquals([third.updates.length, third.updates.last[0], third.updates.avg[0]], [
    1,
    9,
    (2 + 3 + 9) / 3,
  ]);
  // Min and max cover the same 3 readings as the average: the 1 has left them.
  assertEquals([third.updates.min[0], third.updates.max[0]], [2, 9]);
});

Deno.test("a restarted shard drops readings until its restore message", () => {
  const router = new Router(1);
  const shard = new ShardBehavior({ awaitingReplay: true });
  shard.receive(message(router, [{ sensorId: "a", timeMs: 1, values: { t: 1 } }]));
  assertEquals(flush(shard).updates.length, 0);
  shard.receive({ type: "restore", image: null });
  shard.receive(message(router, [{ sensorId: "a", timeMs: 2, values: { t: 2 } }]));
  assertEquals(flush(shard).updates.last[0], 2);
});

Deno.test("feed view merges shard changes into one tick and snapshots the latest state", () => {
  const router = new Router(2);
  const shards = [new ShardBehavior({ names: router }), new ShardBehavior({ names: router })];
  const view = new FeedView();
  const readings = Array.from(
    { length: 40 },
    (_, i) => ({ sensorId: `s${i % 10}`, timeMs: i, values: { v: i } }),
  );
  const rows = router.split(blockFromReadings(readings))[0]!;
  rows.shards.forEach((shard, k) =>
    shards[shard].receive({
      type: "readings",
      rows,
      from: rows.shardStart[k],
      to: rows.shardStart[k + 1],
    })
  );
  const tick = view.apply(shards.map(flush))!;
  assertEquals(tick.updates.length, 10, "one update per sensor in the tick");
  assertEquals(tick.metrics, [{ index: 0, name: "v" }]);
  assertEquals(view.apply(shards.map(flush)), null, "nothing changed");
  const snapshot = view.snapshot();
  const last = new Map<number, number>();
  for (let i = 0; i < snapshot.values.length; i++) {
    last.set(snapshot.values.sensor[i], snapshot.values.last[i]);
  }
  const ids = new Map(snapshot.sensors.map((s) => [s.index, s.id]));
  for (let s = 0; s < 10; s++) {
    const expected = 30 + s; // the newest reading of s<s> has value 30 + s
    const index = [...ids].find(([, id]) => id === `s${s}`)![0];
    assertEquals(last.get(index), expected);
  }
});

Deno.test("a shard restored from a checkpoint mid-stream publishes the same event-time windows and late counts as one that never stopped", () => {
  const base = 1_800_000_000_000;
  // Three sensors, mostly in order, some within grace, some too late.
  const offsets = [
    0,
    300,
    1_200,
    900,
    2_500,
    4_000,
    700,
    6_100,
    7_900,
    5_000,
    12_000,
    1_000,
    15_500,
  ];
  const readings = offsets.flatMap((dt, i) =>
    ["a", "b", "c"].map((sensorId, s) => ({
      sensorId,
      timeMs: base + dt + s * 37,
      values: { t: i * 10 + s, h: 100 - i },
    }))
  );
  const run = (cut: number | null) => {
    const router = new Router(1);
    let shard = new ShardBehavior({ names: router });
    const seen: string[] = [];
    const collect = () => {
      const { windows, late } = flush(shard);
      for (let i = 0; i < windows.length; i++) {
        if (windows.flags[i] & 1) {
          seen.push(
            [
              windows.sensor[i],
              windows.metric[i],
              windows.size[i],
              windows.startMs[i],
              windows.count[i],
              windows.sum[i],
              windows.std[i].toFixed(9),
            ].join(),
          );
        }
      }
      return late;
    };
    let late: [number, number][] = [];
    readings.forEach((reading, i) => {
      if (i === cut) {
        // No flush first: windows closed but not yet flushed must survive too.
        const saved = save(shard);
        shard = new ShardBehavior({ awaitingReplay: true, names: router });
        shard.receive({ type: "restore", image: structuredClone(saved) });
      }
      shard.receive(message(router, [reading]));
      if (i % 4 === 3) late = [...late, ...collect()];
    });
    late = [...late, ...collect()];
    return { finals: seen.sort(), late: Object.fromEntries(late) };
  };
  const straight = run(null);
  assertEquals(straight.finals.length > 20, true);
  assertEquals(Object.values(straight.late).reduce((a, b) => a + b, 0) > 0, true);
  for (const cut of [5, 17, 22, 31, 34]) {
    const restored = run(cut);
    assertEquals(restored.finals, straight.finals);
    assertEquals(restored.late, straight.late);
  }
});

Deno.test("a removed sensor is dropped with its windows, reported once, and can come back", () => {
  const router = new Router(1);
  const shard = new ShardBehavior({ window: 3, names: router });
  const base = 1_000_000;
  shard.receive(message(router, [
    { sensorId: "a", timeMs: base, status: "ok", values: { t: 1 } },
    { sensorId: "b", timeMs: base, values: { t: 2 } },
  ]));
  flush(shard);
  // A reading of "a" is still dirty when the removal arrives: it must not be sent.
  shard.receive(message(router, [{ sensorId: "a", timeMs: base + 1, values: { t: 5 } }]));
  shard.receive({ type: "remove", local: router.lookup("a")!.local });
  // Windows of "a" end here; only "b"'s may be published.
  shard.receive(message(router, [{ sensorId: "b", timeMs: base + 20_000, values: { t: 3 } }]));
  const changes = flush(shard);
  assertEquals(changes.removed, [0]);
  assertEquals([...changes.updates.sensor], [1]);
  assertEquals(changes.statuses, []);
  assert([...changes.windows.sensor].every((s) => s === 1), "no window of the removed sensor");
  // The saved page lists both sensor indexes, "a" no longer live (flag 0), "b" live.
  const page = decodePage(save(shard).pages[0]!);
  assertEquals([page.sensors, page.u32[0], page.u32[1], page.u32[5], page.u32[6]], [2, 0, 0, 1, 1]);

  // It comes back with a fresh state under the same index.
  shard.receive(message(router, [{ sensorId: "a", timeMs: base + 20_001, values: { t: 7 } }]));
  const back = flush(shard);
  assertEquals(back.removed, []);
  assertEquals(back.sensors.map((s) => s.id), ["a"]);
  assertEquals([back.updates.last[0], back.updates.min[0], back.updates.avg[0]], [7, 7, 7]);

  // The hub's mirror forgets it and the topic tells clients.
  const view = new FeedView();
  view.apply([changes]);
  assertEquals(view.sensors().map((s) => s.id), []);
});

Deno.test("feed view removal keeps the value columns dense and other sensors intact", () => {
  const router = new Router(1);
  const shard = new ShardBehavior({ window: 3, names: router });
  shard.receive(message(router, [
    { sensorId: "a", timeMs: 1, values: { t: 1, h: 2 } },
    { sensorId: "b", timeMs: 1, values: { t: 3, h: 4 } },
    { sensorId: "c", timeMs: 1, values: { t: 5 } },
  ]));
  const view = new FeedView();
  view.apply([flush(shard)]);
  shard.receive({ type: "remove", local: router.lookup("a")!.local });
  const tick = view.apply([flush(shard)])!;
  assertEquals(tick.removed, [0]);
  assertEquals(view.sensorCount, 2);
  assertEquals(view.valueCount, 3);
  const b = view.values.last(view.valueSlot(1, 1));
  const c = view.values.last(view.valueSlot(2, 0));
  assertEquals([b, c, view.valueSlot(0, 0)], [4, 5, -1]);
});

Deno.test("a shard answers a sensor metric's held windows by name, none for what it does not have, and null while it awaits its replay", () => {
  const held = (shard: ShardBehavior, local: number, name: string, size = 0) => {
    let answer: HeldWindow[] | null | undefined;
    const metric = router.metricIndex(name) ?? 999;
    shard.receive({ type: "heldWindows", local, metric, size, reply: (w) => (answer = w) });
    return answer;
  };
  const router = new Router(1);
  const shard = new ShardBehavior({
    windowSpec: { sizesMs: [1_000, 60_000], graceMs: 5_000 },
    names: router,
  });
  const base = 1_800_000_000_000;
  shard.receive(message(router, [
    { sensorId: "a", timeMs: base + 100, values: { t: 1, h: 7 } },
    { sensorId: "a", timeMs: base + 200, values: { t: 3 } },
    { sensorId: "a", timeMs: base + 1_100, values: { t: 5 } },
  ]));
  const a = router.lookup("a")!.local;
  const row = (w: HeldWindow) => [w.startMs, w.count, w.sum, w.min, w.max, w.final];
  assertEquals(held(shard, a, "t")?.map(row), [
    [base, 2, 4, 1, 3, false],
    [base + 1_000, 1, 5, 5, 5, false],
  ]);
  assertEquals(held(shard, a, "t", 1)?.map(row), [[base, 3, 9, 1, 5, false]]);
  assertEquals(held(shard, a, "h")?.map(row), [[base, 1, 7, 7, 7, false]]);
  assertEquals(held(shard, a, "nope"), []);
  assertEquals(held(shard, a + 1, "t"), []);
  assertEquals(held(shard, a, "t", 5), []);
  assertEquals(held(new ShardBehavior({ awaitingReplay: true }), a, "t"), null);
});

Deno.test("a shard's state lists everything it holds, ended windows included, and leaves the next flush as it was", () => {
  const router = new Router(1);
  const shard = new ShardBehavior({
    window: 2,
    windowSpec: { sizesMs: [1_000], graceMs: 5_000 },
    names: router,
  });
  const state = (): ShardChanges => {
    let answer: ShardChanges | null = null;
    shard.receive({ type: "state", reply: (s) => (answer = s) });
    return answer!;
  };
  shard.receive(message(router, [
    { sensorId: "a", timeMs: 100, status: "ok", values: { t: 1 } },
    { sensorId: "a", timeMs: 1_500, values: { t: 3, h: 7 } }, // ends a's first 1 s window
    { sensorId: "b", timeMs: 900, values: { t: 5 } },
  ]));
  const dirty = flush(shard);
  shard.receive(message(router, [{ sensorId: "a", timeMs: 1_600, values: { t: 4 } }]));
  const all = state();
  assertEquals(all.sensors.map((s) => s.id), ["a", "b"]);
  assertEquals(all.metrics, [{ index: 0, name: "t" }, { index: 1, name: "h" }]);
  const rows = Array.from({ length: all.updates.length }, (_, i) => [
    all.updates.sensor[i],
    all.updates.metric[i],
    all.updates.last[i],
    all.updates.avg[i],
  ]).sort();
  // a/t: last 4, avg of its last two readings (3, 4); a/h: 7; b/t: 5.
  assertEquals(rows, [[0, 0, 4, 3.5], [0, 1, 7, 7], [1, 0, 5, 5]]);
  assertEquals(all.statuses, [[0, "ok"]]);
  // The ended (not yet closed) windows: [0, 1000) of a/t and of b/t.
  const windows = Array.from({ length: all.windows.length }, (_, i) => [
    all.windows.sensor[i],
    all.windows.metric[i],
    all.windows.startMs[i],
    all.windows.sum[i],
  ]).sort();
  assertEquals(windows, [[0, 0, 0, 1], [1, 0, 0, 5]]);
  // What the state told is still handed over by the next flush: only a/t changed since.
  assert(dirty.updates.length === 3);
  const next = flush(shard);
  assertEquals([next.updates.length, next.updates.last[0]], [1, 4]);
});

/** A flush's levels as `[sensor, level]` pairs. */
function levelPairs(changes: ShardChanges): [number, number][] {
  const { sensor, level } = changes.levels!;
  return Array.from(sensor, (s, j) => [s, level[j]]);
}

Deno.test("threshold levels and the status level reach the flush, and survive a checkpoint", () => {
  const metrics = {
    t: {
      name: "T",
      unit: "",
      precision: 1,
      thresholds: { critical: { above: 10 }, holdMs: 1_000 },
    },
  };
  const router = new Router(1, { metrics });
  const shard = new ShardBehavior({ window: 2, metrics });
  shard.receive(message(router, [
    { sensorId: "a", timeMs: 0, values: { t: 20 } }, // over, not yet held
    { sensorId: "b", timeMs: 0, status: "warn", values: { t: 1 } },
    { sensorId: "c", timeMs: 0, values: { t: 20 } },
    { sensorId: "c", timeMs: 1_000, values: { t: 20 } }, // held 1 s: critical
  ]));
  assertEquals(levelPairs(flush(shard)), [[1, 1], [2, 2]]);
  // The image's pages as the store reads them back (copies of the bytes).
  const saved = save(shard);
  const restored: ShardImage = { ...saved, pages: saved.pages.map((p) => p!.slice()) };
  const again = new ShardBehavior({ window: 2, metrics, image: restored });
  assertEquals(levelPairs(flush(again)), [[1, 1], [2, 2]], "restored levels are told");
  // a's run over the threshold goes on across the restart: held at 1000.
  again.receive(message(router, [
    { sensorId: "a", timeMs: 1_000, values: { t: 20 } },
    { sensorId: "b", timeMs: 1_000, status: "ok", values: { t: 1 } },
    { sensorId: "c", timeMs: 1_500, values: { t: 5 } },
  ]));
  assertEquals(levelPairs(flush(again)), [[0, 2], [1, 0], [2, 0]]);
});

Deno.test("metrics without thresholds keep no threshold state, in memory or in the checkpoint; judged ones keep theirs", () => {
  const metrics = {
    t: { name: "T", unit: "", precision: 1, thresholds: { warn: { above: 10 }, holdMs: 0 } },
  };
  const router = new Router(1, { metrics });
  const plain = new ShardBehavior({ window: 2 });
  const judged = new ShardBehavior({ window: 2, metrics });
  const readings: Parameters<typeof blockFromReadings>[0] = [
    { sensorId: "a", timeMs: 0, values: { h: 1, p: 2 } },
    { sensorId: "b", timeMs: 0, values: { h: 3 } },
  ];
  for (const shard of [plain, judged]) shard.receive(message(router, readings));
  assertEquals([plain.counts().parts.levels, judged.counts().parts.levels], [0, 0]);
  // A judged value (over warn): its cell alone takes room and saves a record (4 numbers).
  const over = [{ sensorId: "c", timeMs: 0, values: { t: 20 } }];
  for (const shard of [plain, judged]) shard.receive(message(router, over));
  assert(judged.counts().parts.levels > 0);
  assertEquals(plain.counts().parts.levels, 0);
  const bytes = (shard: ShardBehavior) => save(shard).pages[0]!.byteLength;
  assertEquals(bytes(judged) - bytes(plain), ThresholdLevels.RECORD * 8);
  // Restored: the plain shard still keeps none, the judged one its level.
  const again = new ShardBehavior({ window: 2, image: save(plain) });
  assertEquals(again.counts().parts.levels, 0);
  const judgedAgain = new ShardBehavior({ window: 2, metrics, image: save(judged) });
  assertEquals(levelPairs(flush(judgedAgain)), [[2, 1]]);
});

Deno.test("with reused columns a flush's updates stay intact through the next flush; without, every flush is a fresh buffer", () => {
  for (const reuseColumns of [true, false]) {
    const router = new Router(1);
    const shard = new ShardBehavior({ window: 3, names: router, reuseColumns });
    // Reused columns are handed out whole: the first `length` entries count.
    const values = (c: ShardChanges) => Array.from(c.updates.last).slice(0, c.updates.length);
    shard.receive(message(router, [{ sensorId: "a", timeMs: 1, values: { t: 1 } }]));
    const first = flush(shard);
    shard.receive(message(router, [{ sensorId: "a", timeMs: 2, values: { t: 2 } }]));
    const second = flush(shard);
    assertEquals([values(first), values(second)], [[1], [2]], `reuse ${reuseColumns}`);
    shard.receive(message(router, [{ sensorId: "a", timeMs: 3, values: { t: 3 } }]));
    const third = flush(shard);
    assertEquals(values(third), [3]);
    // The third flush wrote the first's buffer (reused) or a new one.
    assertEquals(third.updates.last.buffer === first.updates.last.buffer, reuseColumns);
    assert(third.updates.last.buffer !== second.updates.last.buffer);
  }
});
