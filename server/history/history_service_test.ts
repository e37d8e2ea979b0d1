import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { HistoryService } from "./history_service.ts";
import type { HeldWindowsReader } from "./held_windows.ts";
import { RollupStore } from "./rollup_store.ts";
import { RollupWriter } from "./rollup_writer.ts";
import { KvLog } from "../store/kv_log.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { EventWindowStore } from "../../actors/shards/event_window_store.ts";
import { allocateWindowStates, WINDOW_FINAL } from "../../protocol/columns.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";

const BASE = 1_800_000_000_000;
const HOUR = 3_600_000;

async function setup(maxRawChunks: number, chunksAfter?: () => Promise<number | null>) {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-history-" });
  const kv = await Deno.openKv(`${dir}/store.kv`);
  const log = new KvLog(kv);
  // Ten chunks of raw readings for sensor "s", one per second of event time.
  for (let c = 0; c < 10; c++) {
    await log.append(blockFromReadings(
      Array.from({ length: 10 }, (_, i) => ({
        sensorId: "s",
        timeMs: BASE + c * 1_000 + i * 100,
        values: { t: c * 10 + i },
      })),
    ));
  }
  const sizes = new Map([[1_000, 24 * HOUR]]);
  const store = new RollupStore(kv, sizes);
  const writer = new RollupWriter(store, { sizesMs: [1_000] });
  const w = allocateWindowStates(10);
  for (let c = 0; c < 10; c++) {
    w.flags[c] = WINDOW_FINAL;
    w.startMs[c] = BASE + c * 1_000;
    w.count[c] = 10;
    w.sum[c] = (c * 10 + 4.5) * 10;
    w.min[c] = c * 10;
    w.max[c] = c * 10 + 9;
  }
  writer.add(w, { sensorId: () => "s", metricName: () => "t" });
  await writer.flush();
  const service = new HistoryService(store, {
    log,
    rollupSizes: sizes,
    cursorAt: () => Promise.resolve(null),
    rawRetentionMs: 24 * HOUR,
    maxRawChunks,
    maxConcurrent: 1,
    chunksAfter,
  });
  return {
    service,
    close: async () => {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const request = { sensorId: "s", metric: "t", fromMs: BASE, toMs: BASE + 10_000, maxPoints: 1_000 };

Deno.test("a fine range comes from the raw log when it fits the scan bound, else from 1 s rollups with a note", async () => {
  const roomy = await setup(100);
  try {
    const raw = await roomy.service.query(request, BASE + 20_000);
    assertEquals(raw.resolution, "raw");
    assertEquals(raw.points.reduce((a, p) => a + p.count, 0), 100);
    // Buckets are epoch-aligned: the first one holds the first reading only.
    assert(raw.points[0].t <= BASE && raw.points[0].t + raw.bucketMs > BASE);
    assertEquals([raw.points[0].count, raw.points[0].min, raw.points[0].max], [1, 0, 0]);
    assertEquals(raw.bounded, false);
  } finally {
    await roomy.close();
  }
  const tight = await setup(3);
  try {
    const rolled = await tight.service.query(request, BASE + 20_000);
    assertEquals(rolled.resolution, "1s");
    assert(/too many raw readings/.test(rolled.note ?? ""), rolled.note);
    assertEquals(rolled.points.length, 10);
    assertEquals(
      rolled.points.map((p) => p.avg),
      Array.from({ length: 10 }, (_, c) => c * 10 + 4.5),
    );
  } finally {
    await tight.close();
  }
});

Deno.test("a raw scan that the log's chunk count says is too large is not started", async () => {
  // The ten chunks would fit the bound of 100; an estimate of 101 chunks after the mark skips them.
  for (const [estimate, resolution] of [[101, "1s"], [100, "raw"], [null, "raw"]] as const) {
    const { service, close } = await setup(100, () => Promise.resolve(estimate));
    try {
      const answer = await service.query(request, BASE + 20_000);
      assertEquals(answer.resolution, resolution, `estimate ${estimate}`);
    } finally {
      await close();
    }
  }
});

Deno.test("history queries beyond the concurrency limit are refused as busy", async () => {
  const { service, close } = await setup(100);
  try {
    const first = service.query(request, BASE + 20_000);
    let busy = false;
    await service.query(request, BASE + 20_000).catch((error) => {
      busy = error instanceof Deno.errors.Busy;
    });
    await first;
    assert(busy, "the second concurrent query was not refused");
  } finally {
    await close();
  }
});

Deno.test("a window that a flush stores and evicts while the store is being read is still served", async () => {
  await withTempKv(async (kv) => {
    const sizes = new Map([[1_000, 24 * HOUR]]);
    const window = { t: BASE, count: 10, sum: 45, min: 0, max: 9 };
    let evicted = false;
    // The flush completes during the read: the store had nothing yet, the buffer has nothing after.
    class RacingStore extends RollupStore {
      override async read(...args: Parameters<RollupStore["read"]>) {
        const answer = await super.read(...args);
        evicted = true;
        return answer;
      }
    }
    const service = new HistoryService(new RacingStore(kv, sizes), {
      rollupSizes: sizes,
      cursorAt: () => Promise.resolve(null),
      rawRetentionMs: 0,
      buffered: () => (evicted ? [] : [window]),
    });
    const answer = await service.query(
      { sensorId: "s", metric: "t", fromMs: BASE, toMs: BASE + 10_000, maxPoints: 100 },
      BASE + 10_000,
    );
    assertEquals(answer.points.map((p) => [p.t, p.count, p.min, p.max]), [[BASE, 10, 0, 9]]);
  });
});

/** Buckets of the windows overlapping [from, to) (window size `sizeMs`), straight from the readings. */
function recomputeBuckets(
  readings: readonly { t: number; value: number }[],
  request: { fromMs: number; toMs: number },
  sizeMs: number,
  bucketMs: number,
) {
  const buckets = new Map<number, { count: number; sum: number; min: number; max: number }>();
  for (const { t, value } of readings) {
    const start = t - (t % sizeMs);
    if (start + sizeMs <= request.fromMs || start >= request.toMs) continue;
    const at = t - (t % bucketMs);
    const b = buckets.get(at) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
    b.count++;
    b.sum += value;
    b.min = Math.min(b.min, value);
    b.max = Math.max(b.max, value);
    buckets.set(at, b);
  }
  return [...buckets].sort(([a], [b]) => a - b).map(([t, b]) => [t, b.count, b.min, b.max, b.sum]);
}

Deno.test("a query whose from is off the rollup grid answers the same before and after a flush, equal to a recomputation from the readings", async () => {
  await withTempKv(async (kv) => {
    const sizes = new Map([[1_000, 24 * HOUR], [60_000, 30 * 24 * HOUR]]);
    const spec = { sizesMs: [1_000, 10_000, 60_000], graceMs: 5_000 };
    const store = new RollupStore(kv, sizes);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            offset: fc.integer({ min: 0, max: 150_000 }),
            value: fc.integer({ min: -1_000, max: 1_000 }),
          }),
          { minLength: 1, maxLength: 80 },
        ),
        fc.integer({ min: 0, max: 150_000 }),
        fc.integer({ min: 1, max: 160_000 }),
        fc.integer({ min: 1, max: 200 }),
        async (rows, fromOffset, span, maxPoints) => {
          const sensorId = `run-${++run}`; // fresh keys per run, shrinking included
          const readings = rows.map((r) => ({ t: BASE + r.offset, value: r.value }))
            .sort((a, b) => a.t - b.t);
          // The real window store closes the windows; another sensor moves its watermark on.
          const events = new EventWindowStore(spec);
          const mine = events.windowsFor(0, 0);
          for (const r of readings) events.add(mine, r.value, r.t);
          events.add(events.windowsFor(1, 0), 0, BASE + 400_000);
          const writer = new RollupWriter(store, { sizesMs: spec.sizesMs });
          writer.add(events.take(), {
            sensorId: (i) => (i === 0 ? sensorId : "other"),
            metricName: () => "t",
          });
          const service = new HistoryService(store, {
            rollupSizes: sizes,
            cursorAt: () => Promise.resolve(null),
            rawRetentionMs: 0,
            buffered: (size, id, metric, from, to) =>
              writer.bufferedWindows(size, id, metric, from, to),
          });
          const request = {
            sensorId,
            metric: "t",
            fromMs: BASE + fromOffset,
            toMs: BASE + fromOffset + span,
            maxPoints,
          };
          const now = BASE + 400_000;
          const before = await service.query(request, now);
          await writer.flush();
          const after = await service.query(request, now);
          assertEquals(after, before, "the same query after a flush");
          const sizeMs = before.resolution === "1s" ? 1_000 : 60_000;
          assertEquals(before.bucketMs % sizeMs, 0);
          assertEquals(
            before.points.map((p) => [p.t, p.count, p.min, p.max, p.avg * p.count]).map((
              [t, count, min, max, sum],
            ) => [t, count, min, max, Math.round(sum)]),
            recomputeBuckets(readings, request, sizeMs, before.bucketMs),
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});

Deno.test("held windows extend rollup history: a stored or buffered window wins over a held one, the first open one is marked provisional, and unreadable ones are marked missing", async () => {
  await withTempKv(async (kv) => {
    const sizes = new Map([[1_000, 24 * HOUR]]);
    const store = new RollupStore(kv, sizes);
    const writer = new RollupWriter(store, { sizesMs: [1_000] });
    const finals = (starts: number[], value: number) => {
      const w = allocateWindowStates(starts.length);
      starts.forEach((start, i) => {
        w.flags[i] = WINDOW_FINAL;
        w.startMs[i] = BASE + start;
        w.count[i] = 1;
        w.sum[i] = w.min[i] = w.max[i] = value;
      });
      return w;
    };
    const names = { sensorId: () => "s", metricName: () => "t" };
    writer.add(finals([0, 1_000], 1), names);
    await writer.flush(); // stored
    writer.add(finals([2_000], 2), names); // buffered
    const window = (start: number, value: number, final: boolean) => ({
      startMs: BASE + start,
      count: 1,
      sum: value,
      min: value,
      max: value,
      final,
    });
    let held: Awaited<ReturnType<HeldWindowsReader>> = [
      window(1_000, 9, false), // older copies of windows the rollups have: they lose
      window(2_000, 9, false),
      window(3_000, 3, true), // the watermark passed it, not yet flushed
      window(4_000, 4, false),
      window(5_000, 5, false),
      window(-1_000, 8, false), // outside the range
    ];
    const service = new HistoryService(store, {
      rollupSizes: sizes,
      cursorAt: () => Promise.resolve(null),
      rawRetentionMs: 0,
      buffered: (size, id, metric, from, to) => writer.bufferedWindows(size, id, metric, from, to),
      held: () => Promise.resolve(held),
    });
    const request = {
      sensorId: "s",
      metric: "t",
      fromMs: BASE,
      toMs: BASE + 10_000,
      maxPoints: 100,
    };
    const full = await service.query(request, BASE + 20_000);
    assertEquals(full.points.map((p) => [p.t - BASE, p.avg]), [
      [0, 1],
      [1_000, 1],
      [2_000, 2],
      [3_000, 3],
      [4_000, 4],
      [5_000, 5],
    ]);
    assertEquals([full.provisionalFrom, full.missingFrom], [BASE + 4_000, undefined]);
    assert(
      full.note?.includes(
        `${new Date(BASE + 4_000).toISOString()} on are still open (provisional)`,
      ),
      full.note,
    );

    held = held.map((w) => ({ ...w, final: true }));
    const closed = await service.query(request, BASE + 20_000);
    assertEquals(closed.points, full.points);
    assertEquals([closed.provisionalFrom, closed.note], [undefined, undefined]);

    held = null; // the shard is restarting
    const partial = await service.query(request, BASE + 20_000);
    assertEquals(partial.points.map((p) => p.t - BASE), [0, 1_000, 2_000]);
    assertEquals([partial.provisionalFrom, partial.missingFrom], [undefined, BASE + 3_000]);
    assert(/may be missing/.test(partial.note ?? ""), partial.note);
    // Nothing can be missing from a range the rollups cover to its end.
    const covered = await service.query({ ...request, toMs: BASE + 3_000 }, BASE + 20_000);
    assertEquals([covered.missingFrom, covered.note], [undefined, undefined]);
  });
});
