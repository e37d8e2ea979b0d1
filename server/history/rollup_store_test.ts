import { assertEquals } from "../../tests/testing/assert.ts";
import { RollupStore } from "./rollup_store.ts";
import { setChunkWindow, WINDOWS_PER_CHUNK } from "./rollup_chunks.ts";
import type { RollupChunk } from "./rollup_chunks.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";

Deno.test("a flush of thousands of chunks, some wide, is stored whole across many commits", async () => {
  await withTempKv(async (kv) => {
    const store = new RollupStore(kv, new Map([[1_000, 86_400_000]]));
    const start = 1_800_000_000_000 - (1_800_000_000_000 % (1_000 * WINDOWS_PER_CHUNK));
    const chunks: RollupChunk[] = [];
    for (let s = 0; s < 2_500; s++) {
      const chunk: RollupChunk = {
        sizeMs: 1_000,
        sensorId: `sensor-${s}`.padEnd(120, "x"),
        startMs: start,
        metrics: [],
        values: new Float64Array(),
      };
      // Every 100th sensor has 60 metrics with long names (a 57 KB value).
      const metrics = s % 100 === 0 ? 60 : 3;
      for (let m = 0; m < metrics; m++) {
        for (let slot = 0; slot < WINDOWS_PER_CHUNK; slot++) {
          setChunkWindow(chunk, `metric-${m}`.padEnd(64, "m"), slot, 1 + slot, s + m, slot, s);
        }
      }
      chunks.push(chunk);
    }
    await store.write(chunks);
    assertEquals(store.written, chunks.length);
    let stored = 0;
    for await (const entry of kv.list<{ m: string[]; v: Float64Array }>({ prefix: ["rollup"] })) {
      const s = Number((entry.key[2] as string).split("-")[1].replace(/x+$/, ""));
      assertEquals(entry.value.m.length, s % 100 === 0 ? 60 : 3);
      assertEquals(Array.from(entry.value.v), Array.from(chunks[s].values));
      stored++;
    }
    assertEquals(stored, chunks.length);
  });
});
