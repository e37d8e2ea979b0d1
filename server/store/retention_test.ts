import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { KvLog } from "./kv_log.ts";
import { LogRetention } from "./retention.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";

const HOUR = 3_600_000;

/** Appends one chunk per call and returns its cursor. */
async function appendChunk(log: KvLog, kv: Deno.Kv, n: number): Promise<string> {
  await log.append(blockFromReadings([{ sensorId: `s${n}`, timeMs: n, values: { t: n } }]));
  const entries = [];
  for await (const e of kv.list({ prefix: ["log"] })) entries.push(e.key[1] as string);
  return entries[entries.length - 1];
}

Deno.test("compaction deletes exactly the chunks committed before the retention, never past the checkpoint", async () => {
  await withTempKv(async (kv) => {
    const log = new KvLog(kv);
    const retention = new LogRetention(kv, { retentionMs: 24 * HOUR });
    const t0 = 1_800_000_000_000;
    // Ten chunks an hour apart (by the marks), the clock then moved on.
    const cursors: string[] = [];
    for (let h = 0; h < 10; h++) {
      cursors.push(await appendChunk(log, kv, h));
      await retention.mark(t0 + h * HOUR, cursors[h]);
    }
    assertEquals(await retention.cursorAt(t0 + 3 * HOUR + 5), cursors[3]);
    assertEquals(await retention.cursorAt(t0 - 1), null);

    // Now = t0 + 30 h: marks up to t0 + 6 h are older than 24 h, but the checkpoint is at chunk 4.
    const deleted = await retention.compact(t0 + 30 * HOUR, cursors[4]);
    assertEquals(deleted, 5);
    const left = (await log.read(null, 100)).map((e) => e.cursor);
    assertEquals(left, cursors.slice(5));

    // With the checkpoint further on, the next pass catches up to the retention (chunks 5 and 6).
    assertEquals(await retention.compact(t0 + 30 * HOUR, cursors[9]), 2);
    assertEquals((await log.read(null, 100)).map((e) => e.cursor), cursors.slice(7));
    // Two hours later, chunks 7 and 8 are past it too; the last one stays.
    await retention.mark(t0 + 31 * HOUR, cursors[9]);
    assertEquals(await retention.compact(t0 + 32 * HOUR, cursors[9]), 2);
    assertEquals((await log.read(null, 100)).map((e) => e.cursor), cursors.slice(9));
    assertEquals(retention.deleted, 9);
  });
});

Deno.test("marks keep the log's committed chunk count, and older marks without it still give their cursor", async () => {
  await withTempKv(async (kv) => {
    const log = new KvLog(kv);
    const retention = new LogRetention(kv, { retentionMs: HOUR });
    const first = await appendChunk(log, kv, 1);
    await retention.mark(1_000, first, await log.committedChunks());
    for (let n = 2; n <= 4; n++) await appendChunk(log, kv, n);
    const mark = await retention.markAt(1_500);
    assertEquals(mark, { cursor: first, committedChunks: 1 });
    assertEquals((await log.committedChunks()) - mark!.committedChunks!, 3);
    await kv.set(["log_mark", 2_000], first);
    assertEquals(await retention.markAt(2_000), { cursor: first, committedChunks: null });
    assertEquals(await retention.markAt(999), null);
  });
});

Deno.test("compaction never deletes without a checkpoint, and a retention of 0 is refused", async () => {
  await withTempKv(async (kv) => {
    const log = new KvLog(kv);
    const retention = new LogRetention(kv, { retentionMs: HOUR });
    const cursor = await appendChunk(log, kv, 1);
    await retention.mark(0, cursor);
    assertEquals(await retention.compact(10 * HOUR, null), 0);
    assertEquals((await log.read(null)).length, 1);
  });
  let threw = false;
  try {
    new LogRetention({} as Deno.Kv, { retentionMs: 0 });
  } catch (error) {
    threw = error instanceof RangeError;
  }
  assert(threw);
});
