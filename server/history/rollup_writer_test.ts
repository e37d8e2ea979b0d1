import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { RollupStore } from "./rollup_store.ts";
import { RollupWriter } from "./rollup_writer.ts";
import { allocateWindowStates, WINDOW_FINAL } from "../../protocol/columns.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";

const SIZES = [1_000, 10_000, 60_000];
const names = {
  sensorId: (i: number) => `s${i}`,
  metricName: (i: number) => ["t", "h"][i],
};

/** Final windows as the hub hands them over. */
function finals(
  rows: { sensor: number; metric: number; size: number; start: number; v: number }[],
) {
  const w = allocateWindowStates(rows.length);
  rows.forEach((r, i) => {
    w.sensor[i] = r.sensor;
    w.metric[i] = r.metric;
    w.size[i] = r.size;
    w.flags[i] = WINDOW_FINAL;
    w.startMs[i] = r.start;
    w.count[i] = 1 + (r.v % 5);
    w.sum[i] = r.v;
    w.min[i] = r.v - 1;
    w.max[i] = r.v + 1;
  });
  return w;
}

Deno.test("rollups written as fragments read back as every final window of the kept sizes, across writer restarts", async () => {
  await withTempKv(async (kv) => {
    const retention = new Map([[1_000, 86_400_000], [60_000, 30 * 86_400_000]]);
    const store = new RollupStore(kv, retention);
    const base = 1_800_000_000_000;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(
          fc.record({
            sensor: fc.integer({ min: 0, max: 2 }),
            metric: fc.integer({ min: 0, max: 1 }),
            size: fc.constantFrom(0, 1, 2),
            n: fc.integer({ min: 0, max: 60 }),
          }),
          { selector: (r) => `${r.sensor}/${r.metric}/${r.size}/${r.n}`, maxLength: 60 },
        ),
        fc.integer({ min: 0, max: 60 }),
        async (rows, cut) => {
          const offset = base + ++runs * 1_800_000_000; // fresh, aligned keys per run, shrinking included
          // Shards close a sensor's windows in start order.
          const windows = rows.map((r) => ({
            ...r,
            start: offset + r.n * SIZES[r.size],
            v: r.n * 10 + r.sensor,
          })).sort((a, b) => a.start - b.start);
          // Two writers, as across a restart, each with part of the windows; the first
          // writes as it goes, the second once at the end.
          const first = new RollupWriter(store, { sizesMs: SIZES });
          for (let i = 0; i < cut; i += 7) {
            first.add(finals(windows.slice(i, Math.min(i + 7, cut))), names);
            await first.flush();
          }
          const second = new RollupWriter(store, { sizesMs: SIZES });
          second.add(finals(windows.slice(cut)), names);
          await second.flush();
          for (const size of [1_000, 60_000]) {
            for (const sensor of [0, 1, 2]) {
              for (const metric of [0, 1]) {
                const expected = windows.filter((w) =>
                  SIZES[w.size] === size && w.sensor === sensor && w.metric === metric
                ).sort((a, b) => a.start - b.start).map((w) => [w.start, 1 + (w.v % 5), w.v]);
                const { points, bounded } = await store.read(
                  size,
                  `s${sensor}`,
                  names.metricName(metric),
                  offset,
                  offset + 201 * size,
                  1_000,
                );
                assert(!bounded);
                assertEquals(points.map((p) => [p.t, p.count, p.sum]), expected);
              }
            }
          }
          // 10 s windows are not kept.
          assertEquals(
            (await store.read(10_000, "s0", "t", offset, offset + 3_000_000, 1_000)).points,
            [],
          );
        },
      ),
      { numRuns: 50 },
    );
  });
});

Deno.test("a failed rollup write is retried at the next flush", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const writer = new RollupWriter(store, { sizesMs: SIZES });
    writer.add(finals([{ sensor: 0, metric: 0, size: 0, start: 1_800_000_000_000, v: 3 }]), names);
    const write = store.write.bind(store);
    store.write = () => Promise.reject(new Error("disk full"));
    let failed = false;
    await writer.flush().catch(() => (failed = true));
    assert(failed);
    store.write = write;
    await writer.flush();
    const { points } = await store.read(1_000, "s0", "t", 1_800_000_000_000, 1_800_000_001_000, 10);
    assertEquals(points.map((p) => p.sum), [3]);
  });
});

Deno.test("closed windows not yet written are readable from the writer's buffer", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const writer = new RollupWriter(store, { sizesMs: SIZES });
    const base = 1_800_000_000_000;
    writer.add(
      finals(
        [0, 1, 2, 40].map((n) => ({
          sensor: 0,
          metric: 0,
          size: 0,
          start: base + n * 1_000,
          v: n,
        })),
      ),
      names,
    );
    const read = (from: number, to: number) =>
      writer.bufferedWindows(1_000, "s0", "t", from, to).map((p) => [p.t, p.sum]);
    assertEquals(read(base, base + 60_000), [[base, 0], [base + 1_000, 1], [base + 2_000, 2], [
      base + 40_000,
      40,
    ]]);
    assertEquals(read(base + 1_000, base + 2_000), [[base + 1_000, 1]]);
    assertEquals(writer.bufferedWindows(1_000, "s0", "h", base, base + 60_000), []);
    assertEquals(writer.bufferedWindows(1_000, "s9", "t", base, base + 60_000), []);
    // Nothing was written yet.
    assertEquals((await store.read(1_000, "s0", "t", base, base + 60_000, 10)).points, []);
  });
});

Deno.test("windows not written when a checkpoint is taken go with it, and a writer restored from it writes them", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000], [60_000, 86_400_000]]));
    const base = 1_800_000_000_000;
    const rows = (from: number, n: number) =>
      Array.from({ length: n }, (_, k) => ({
        sensor: k % 3,
        metric: k % 2,
        size: k % 4 === 0 ? 2 : 0,
        start: base + (from + k) * (k % 4 === 0 ? 60_000 : 1_000),
        v: from + k,
      }));
    const first = new RollupWriter(store, { sizesMs: SIZES });
    first.add(finals(rows(0, 20)), names);
    await first.flush(); // written
    first.add(finals(rows(100, 30)), names); // not written: in the checkpoint
    const snapshot = first.snapshot();
    // The process dies; a new one starts from the checkpoint.
    const second = new RollupWriter(store, { sizesMs: SIZES });
    second.restore(snapshot);
    assertEquals(second.buffered, 30);
    await second.flush();
    assertEquals(second.buffered, 0);
    for (const { sensor, metric, size, start, v } of [...rows(0, 20), ...rows(100, 30)]) {
      const { points } = await store.read(
        SIZES[size],
        `s${sensor}`,
        names.metricName(metric),
        start,
        start + 1,
        10,
      );
      assertEquals(points.map((p) => p.sum), [v], `s${sensor} ${start}`);
    }
  });
});

Deno.test("a flush asked for while one is writing writes the windows added meanwhile, once", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const writer = new RollupWriter(store, { sizesMs: SIZES });
    const base = 1_800_000_000_000;
    const one = (n: number) =>
      finals([{ sensor: 0, metric: 0, size: 0, start: base + n * 1_000, v: n }]);
    let release = () => {};
    const write = store.write.bind(store);
    let writes = 0;
    store.write = async (rows, options) => {
      writes++;
      if (writes === 1) await new Promise<void>((r) => (release = r));
      return await write(rows, options);
    };
    writer.add(one(1), names);
    const first = writer.flush();
    writer.add(one(2), names);
    const second = writer.flush();
    writer.add(one(3), names);
    const third = writer.flush(); // joins the second
    assertEquals(writer.buffered, 3, "held until written, and readable meanwhile");
    assertEquals(writer.bufferedWindows(1_000, "s0", "t", base, base + 10_000).map((p) => p.sum), [
      1,
      2,
      3,
    ]);
    release();
    await Promise.all([first, second, third]);
    assertEquals(writes, 2);
    const { points } = await store.read(1_000, "s0", "t", base, base + 10_000, 10);
    assertEquals(points.map((p) => p.sum), [1, 2, 3]);
  });
});

Deno.test("buffered windows include those older than the first one handed over", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const writer = new RollupWriter(store, { sizesMs: SIZES });
    const base = 1_800_000_000_000;
    // One flush can hand over a window its shard closed early (slot reused) before older ones.
    writer.add(
      finals(
        [32, 0, 1].map((n) => ({ sensor: 0, metric: 0, size: 0, start: base + n * 1_000, v: n })),
      ),
      names,
    );
    assertEquals(
      writer.bufferedWindows(1_000, "s0", "t", base, base + 60_000).map((p) => [p.t, p.sum]),
      [[base, 0], [base + 1_000, 1], [base + 32_000, 32]],
    );
    // Served from memory: nothing was written yet.
    assertEquals((await store.read(1_000, "s0", "t", base, base + 60_000, 10)).points, []);
  });
});

Deno.test("two writers flushing in the same millisecond (a restart within the process) both keep their windows", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const base = 1_800_000_000_000;
    const now = Date.now;
    Date.now = () => 1_900_000_000_000;
    try {
      const first = new RollupWriter(store, { sizesMs: SIZES });
      first.add(finals([{ sensor: 0, metric: 0, size: 0, start: base, v: 3 }]), names);
      await first.flush();
      const second = new RollupWriter(store, { sizesMs: SIZES });
      second.add(finals([{ sensor: 0, metric: 0, size: 0, start: base + 1_000, v: 4 }]), names);
      await second.flush();
    } finally {
      Date.now = now;
    }
    const { points } = await store.read(1_000, "s0", "t", base, base + 2_000, 10);
    assertEquals(points.map((p) => [p.t, p.sum]), [[base, 3], [base + 1_000, 4]]);
  });
});

Deno.test("stop ends a rollup write in progress at its next commit and keeps its windows for the checkpoint", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const writer = new RollupWriter(store, { sizesMs: SIZES });
    writer.add(finals([{ sensor: 0, metric: 0, size: 0, start: 1_800_000_000_000, v: 3 }]), names);
    // A write that would take forever, unless told to stop.
    store.write = (_rows, options) =>
      new Promise((_, reject) => {
        const signal = options.signal;
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    const flushing = writer.flush().catch(() => {});
    const stopped = await Promise.race([
      writer.stop().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 2_000)),
    ]);
    assert(stopped, "stop returned while the write was running");
    await flushing;
    // The windows are still held: the final checkpoint takes them.
    assertEquals(writer.buffered, 1);
    assertEquals(
      writer.bufferedWindows(1_000, "s0", "t", 1_800_000_000_000, 1_800_000_001_000).map((p) =>
        p.sum
      ),
      [3],
    );
  });
});

Deno.test("windows added through the hub's indexes land under the names the indexes had when added, even as the hub reuses indexes for other sensors and metrics", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000], [60_000, 86_400_000]]));
    const base = 1_800_000_000_000;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        // Rounds: a naming of indexes (as a hub restart may change it), then windows.
        fc.array(
          fc.record({
            sensorNames: fc.array(fc.constantFrom("a", "b", "c", "d"), {
              minLength: 3,
              maxLength: 3,
            }),
            metricNames: fc.array(fc.constantFrom("t", "h", "p"), { minLength: 2, maxLength: 2 }),
            windows: fc.array(
              fc.record({
                sensor: fc.integer({ min: 0, max: 2 }),
                metric: fc.integer({ min: 0, max: 1 }),
                size: fc.constantFrom(0, 1, 2),
                n: fc.integer({ min: 0, max: 40 }),
              }),
              { maxLength: 12 },
            ),
            flush: fc.boolean(),
          }),
          { maxLength: 6 },
        ),
        async (rounds) => {
          const offset = base + ++runs * 1_800_000_000;
          const writer = new RollupWriter(store, { sizesMs: SIZES });
          // The expected windows, by name: the last one added for a key wins.
          const want = new Map<string, number>();
          for (const round of rounds) {
            const naming = {
              sensorId: (i: number) => round.sensorNames[i],
              metricName: (i: number) => round.metricNames[i],
            };
            // A window's numbers follow from its names and start (as the same window added twice
            // has the same numbers), and differ between any two windows.
            const rows = round.windows.map((w) => ({
              ...w,
              start: offset + w.n * SIZES[w.size],
              v: w.n * 100 + "abcd".indexOf(round.sensorNames[w.sensor]) * 10 +
                "thp".indexOf(round.metricNames[w.metric]),
            }));
            writer.add(finals(rows), naming);
            for (const r of rows) {
              if (SIZES[r.size] === 10_000) continue; // not kept
              const key = `${SIZES[r.size]}|${round.sensorNames[r.sensor]}|${
                round.metricNames[r.metric]
              }|${r.start}`;
              want.set(key, r.v);
            }
            if (round.flush) await writer.flush();
          }
          // Half the time everything is written; else some is read from the buffer.
          if (runs % 2 === 0) await writer.flush();
          for (const size of [1_000, 60_000]) {
            for (const id of ["a", "b", "c", "d"]) {
              for (const metric of ["t", "h", "p"]) {
                const expected = [...want].filter(([k]) => k.startsWith(`${size}|${id}|${metric}|`))
                  .map(([k, v]) => [Number(k.split("|")[3]), 1 + (v % 5), v, v - 1, v + 1])
                  .sort((a, b) => a[0] - b[0]);
                const stored = (await store.read(size, id, metric, offset, offset + 50 * size, 100))
                  .points;
                const buffered = writer.bufferedWindows(
                  size,
                  id,
                  metric,
                  offset,
                  offset + 50 * size,
                );
                // A window added twice is the same window wherever it is found.
                const byStart = new Map(
                  [...stored, ...buffered].map((p) => [p.t, [p.t, p.count, p.sum, p.min, p.max]]),
                );
                const got = [...byStart.values()].sort((a, b) => a[0] - b[0]);
                assertEquals(got, expected, `${size} ${id} ${metric}`);
              }
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

Deno.test("written resolves once the windows buffered when asked (and those being written) are stored; it rejects when a write fails, and with Interrupted once stopped", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const writer = new RollupWriter(store, { sizesMs: SIZES });
    const start = 1_800_000_000_000;
    writer.add(finals([{ sensor: 0, metric: 0, size: 0, start, v: 3 }]), names);
    const running = writer.flush(); // being written when the next is asked for
    writer.add(finals([{ sensor: 0, metric: 0, size: 0, start: start + 1_000, v: 4 }]), names);
    await writer.written();
    await running;
    assertEquals(writer.buffered, 0);
    const { points } = await store.read(1_000, "s0", "t", start, start + 2_000, 10);
    assertEquals(points.map((p) => p.sum), [3, 4]);

    writer.add(finals([{ sensor: 0, metric: 0, size: 0, start: start + 2_000, v: 5 }]), names);
    const write = store.write.bind(store);
    store.write = () => Promise.reject(new Error("disk full"));
    let failed = false;
    await writer.written().catch(() => (failed = true));
    assert(failed, "a failed write is not durable");
    store.write = write;

    await writer.stop();
    let interrupted = false;
    await writer.written().catch((e) => (interrupted = e instanceof Deno.errors.Interrupted));
    assert(interrupted, "stopped: not written, the final checkpoint takes them");
    assertEquals(writer.buffered, 1);
  });
});
