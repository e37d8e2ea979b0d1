import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { RollupStore } from "./rollup_store.ts";
import { RollupRows } from "./rollup_rows.ts";
import { setChunkWindow, WINDOWS_PER_CHUNK } from "./rollup_chunks.ts";
import type { RollupChunk } from "./rollup_chunks.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";
import { BlockBuilder, readBlock, ROLLUP_BUCKETS, rollupBucket } from "./rollup_block.ts";

const BASE = 1_800_000_000_000 - (1_800_000_000_000 % (60_000 * WINDOWS_PER_CHUNK));

Deno.test("a flush of thousands of sensors, some with many long-named metrics, is stored whole in values under 64 KiB", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const rows = new RollupRows();
    const key = { sizeMs: 1_000, sensorId: "", metric: "" };
    const stats = { start: 0, count: 0, sum: 0, min: 0, max: 0 };
    const expected = new Map<string, number>();
    for (let s = 0; s < 2_500; s++) {
      key.sensorId = `sensor-${s}`.padEnd(120, "x");
      // Every 100th sensor has 60 metrics with long names over 40 windows (two chunk spans).
      const metrics = s % 100 === 0 ? 60 : 3;
      const windows = s % 100 === 0 ? 40 : 5;
      for (let m = 0; m < metrics; m++) {
        key.metric = `metric-${m}`.padEnd(64, "m");
        for (let w = 0; w < windows; w++) {
          stats.start = BASE + w * 1_000;
          stats.count = 1 + w;
          stats.sum = s + m + w;
          stats.min = w;
          stats.max = s;
          rows.push(key, stats);
        }
        expected.set(`${key.sensorId}/${key.metric}`, windows);
      }
    }
    await store.write(rows, { part: 1 });
    for (const [k, windows] of expected) {
      const [sensorId, metric] = k.split("/");
      const s = Number(sensorId.split("-")[1].replace(/x+$/, ""));
      const m = Number(metric.split("-")[1].replace(/m+$/, ""));
      if (s % 10 !== 0) continue; // a sample: reading all 2,500 × 3 takes long
      const { points, bounded } = await store.read(
        1_000,
        sensorId,
        metric,
        BASE,
        BASE + 60_000,
        10,
      );
      assert(!bounded);
      assertEquals(
        points.map((p) => [p.t, p.count, p.sum]),
        Array.from({ length: windows }, (_, w) => [
          BASE + w * 1_000,
          1 + w,
          s + m + w,
        ]),
      );
    }
    const values = await storedValues(kv);
    assert(values.every((bytes) => bytes < 60_000), "every value stays under the value limit");
    assertEquals(store.written, values.length);
    // Blocks by bucket and span, not values by sensor: at most one per bucket (2,500 sensors
    // fill most of the 1,024) and span, plus the wide sensors' second span and splits.
    assert(values.length <= ROLLUP_BUCKETS + 25 * 3, `${values.length} values`);
  });
});

/** Byte sizes of every stored rollup value (any layout). */
async function storedValues(kv: Deno.Kv): Promise<number[]> {
  const sizes: number[] = [];
  for (const prefix of ["rollup", "rollup_block", "rollup_span"]) {
    for await (const entry of kv.list<Uint8Array | { w: Float64Array }>({ prefix: [prefix] })) {
      const v = entry.value;
      sizes.push(v instanceof Uint8Array ? v.byteLength : v.w.byteLength);
    }
  }
  return sizes;
}

Deno.test("a flush's rollups are written as about one value per bucket of sensors, not one per sensor, and read back exactly", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000], [60_000, 86_400_000]]));
    const rows = new RollupRows();
    const key = { sizeMs: 1_000, sensorId: "", metric: "" };
    const stats = { start: 0, count: 0, sum: 0, min: 0, max: 0 };
    const SENSORS = 20_000;
    // Per sensor, 3 metrics × 4 one-second windows (a 10 s flush of a sensor reporting
    // every 2.5 s), and one one-minute window for every sixth sensor.
    for (let s = 0; s < SENSORS; s++) {
      key.sensorId = `sensor_${s}`;
      for (const metric of ["temperature", "humidity", "pressure"]) {
        key.metric = metric;
        key.sizeMs = 1_000;
        for (let w = 0; w < 4; w++) {
          stats.start = BASE + (s % 7) * 1_000 + w * 2_000;
          stats.count = 1;
          stats.sum = stats.min = stats.max = s + w / 8;
          rows.push(key, stats);
        }
        if (s % 6 === 0) {
          key.sizeMs = 60_000;
          stats.start = BASE;
          stats.count = 24;
          stats.sum = s * 24;
          stats.min = s - 1;
          stats.max = s + 1;
          rows.push(key, stats);
        }
      }
    }
    await store.write(rows, { part: 7 });
    const values = await storedValues(kv);
    assertEquals(store.written, values.length);
    const bytes = values.reduce((a, b) => a + b, 0);
    // 20,000 sensors' windows in at most one block per bucket and size, plus full blocks.
    assert(
      values.length <= 2 * ROLLUP_BUCKETS + Math.ceil(bytes / 40_000),
      `${values.length} values for ${SENSORS} sensors (${bytes} bytes)`,
    );
    assert(values.length < SENSORS / 5, `${values.length} values: not one per sensor`);
    // Read back exactly, for a sample of sensors, against what was pushed.
    for (let s = 0; s < SENSORS; s += 997) {
      for (const metric of ["temperature", "pressure"]) {
        const { points } = await store.read(1_000, `sensor_${s}`, metric, BASE, BASE + 60_000, 10);
        assertEquals(
          points.map((p) => [p.t, p.count, p.sum, p.min, p.max]),
          [0, 1, 2, 3].map((w) => {
            const v = s + w / 8;
            return [BASE + (s % 7) * 1_000 + w * 2_000, 1, v, v, v];
          }),
          `sensor_${s} ${metric}`,
        );
        const minute = await store.read(60_000, `sensor_${s}`, metric, BASE, BASE + 60_000, 10);
        assertEquals(
          minute.points.map((p) => [p.t, p.count, p.sum, p.min, p.max]),
          s % 6 === 0 ? [[BASE, 24, s * 24, s - 1, s + 1]] : [],
        );
      }
    }
  });
});

Deno.test("a window written twice (a replay after a crash) is read once; chunks of the older layout are read too", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[60_000, 86_400_000]]));
    const rows = new RollupRows();
    const key = { sizeMs: 60_000, sensorId: "a", metric: "t" };
    for (const n of [3, 4]) {
      rows.push(key, { start: BASE + n * 60_000, count: n, sum: n, min: n, max: n });
    }
    await store.write(rows, { part: 1 });
    await store.write(rows, { part: 2 });
    // An older server's chunk of the same span: windows 0-2 and 3.
    const chunk: RollupChunk = {
      sizeMs: 60_000,
      sensorId: "a",
      startMs: BASE,
      metrics: [],
      values: new Float64Array(),
    };
    for (const n of [0, 1, 2, 3]) setChunkWindow(chunk, "t", n, n + 10, n + 10, n, n);
    await kv.set(["rollup", 60_000, "a", BASE], { m: chunk.metrics, v: chunk.values });
    const { points } = await store.read(60_000, "a", "t", BASE, BASE + 30 * 60_000, 10);
    assertEquals(points.map((p) => [p.t, p.count]), [
      [BASE, 10],
      [BASE + 60_000, 11],
      [BASE + 120_000, 12],
      [BASE + 180_000, 3],
      [BASE + 240_000, 4],
    ]);
  });
});

Deno.test("a flush's blocks are keyed time first: every block of a span before any of the next, each under its sensors' bucket", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const rows = new RollupRows();
    const key = { sizeMs: 1_000, sensorId: "", metric: "t" };
    // 300 sensors with a window in each of three spans, pushed newest span first.
    const spanMs = 1_000 * WINDOWS_PER_CHUNK;
    for (const span of [2, 1, 0]) {
      for (let s = 0; s < 300; s++) {
        key.sensorId = `s${s}`;
        const start = BASE + span * spanMs + (s % WINDOWS_PER_CHUNK) * 1_000;
        rows.push(key, { start, count: 1, sum: s, min: s, max: s });
      }
    }
    await store.write(rows, { part: 1 });
    // Each block's sensors, as the store's own reader finds them in it.
    const listed: { span: number; bucket: number; ids: string[] }[] = [];
    for await (const entry of kv.list<Uint8Array>({ prefix: ["rollup_span", 1_000] })) {
      const ids = Array.from({ length: 300 }, (_, s) => `s${s}`).filter((sensorId) => {
        let found = false;
        readBlock(entry.value, { sensorId, metric: "t", fromMs: 0, toMs: Infinity }, () => {
          found = true;
        });
        return found;
      });
      listed.push({ span: entry.key[2] as number, bucket: entry.key[3] as number, ids });
    }
    assertEquals([...new Set(listed.map((b) => b.span))], [0, 1, 2].map((n) => BASE + n * spanMs));
    for (let i = 1; i < listed.length; i++) {
      assert(listed[i - 1].span <= listed[i].span, "spans ascend in key order");
    }
    for (const block of listed) {
      for (const id of block.ids) assertEquals(rollupBucket(id), block.bucket, `${id}'s bucket`);
    }
    // Every sensor's window of every span is in exactly one block.
    assertEquals(listed.reduce((n, b) => n + b.ids.length, 0), 900);
    assertEquals((await Array.fromAsync(kv.list({ prefix: ["rollup_block"] }))).length, 0);
  });
});

Deno.test("blocks a server stored bucket first (before time-first keys) are read with the new ones", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    // The older server's block: windows 0-2 of sensor "a", under its bucket first.
    const builder = new BlockBuilder();
    const f = new Float64Array(5);
    for (const n of [0, 1, 2]) {
      f.set([BASE + n * 1_000, 2, 10 + n, n, 20 + n]);
      builder.add("a", "t", f, 0);
    }
    await kv.set(["rollup_block", 1_000, rollupBucket("a"), BASE, 7], builder.encode());
    // This server's flush: windows 2 (written again after a replay) and 3.
    const rows = new RollupRows();
    for (const n of [2, 3]) {
      rows.push({ sizeMs: 1_000, sensorId: "a", metric: "t" }, {
        start: BASE + n * 1_000,
        count: 2,
        sum: 10 + n,
        min: n,
        max: 20 + n,
      });
    }
    await store.write(rows, { part: 1 });
    const { points, bounded } = await store.read(1_000, "a", "t", BASE, BASE + 10_000, 10);
    assert(!bounded);
    assertEquals(
      points.map((p) => [p.t, p.count, p.sum, p.min, p.max]),
      [0, 1, 2, 3].map((n) => [BASE + n * 1_000, 2, 10 + n, n, 20 + n]),
    );
  });
});

Deno.test("a read from the epoch to far ahead looks only between the first and last spans stored, so a span budget still finds the windows", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const rows = new RollupRows();
    const spanMs = 1_000 * WINDOWS_PER_CHUNK;
    // Windows in spans 0 and 250 (another sensor's, in another bucket) and the sensor's in 100.
    for (const [sensorId, span] of [["b", 0], ["a", 100], ["b", 250]] as const) {
      rows.push({ sizeMs: 1_000, sensorId, metric: "t" }, {
        start: BASE + span * spanMs,
        count: 1,
        sum: span,
        min: span,
        max: span,
      });
    }
    await store.write(rows, { part: 1 });
    // 60 million spans of 30 s from the epoch; 251 from the first stored to the last.
    const read = await store.read(1_000, "a", "t", 0, BASE * 2, 300);
    assertEquals(read.points.map((p) => [p.t, p.sum]), [[BASE + 100 * spanMs, 100]]);
    assert(!read.bounded, "only the 251 spans between the stored ones were looked in");
    const short = await store.read(1_000, "a", "t", 0, BASE * 2, 200);
    assert(short.bounded, "a budget of 200 spans ends before the last stored span");
    assertEquals(short.points.map((p) => p.t), [BASE + 100 * spanMs]);
    const none = await store.read(1_000, "a", "t", BASE + 300 * spanMs, BASE * 2, 10);
    assertEquals(none, { points: [], bounded: false });
  });
});
