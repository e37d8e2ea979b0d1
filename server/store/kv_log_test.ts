import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { FenceLost, KvLog, RECORD_CHUNK_ROWS } from "./kv_log.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";
import { Chunker, KV_VALUE_LIMIT } from "./chunker.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { decodeIngestBatch, encodeReadingBlock } from "../../protocol/ingest_codec.ts";
import { KEYS } from "./keys.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";

function readings(from: number, count: number, idLength = 8) {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `s${from + i}`.padEnd(idLength, "x"),
    group: "plant-a/line-1",
    timeMs: from + i,
    values: { t: from + i, h: -(from + i) },
  }));
}

function ids(block: ReadingBlock): string[] {
  return Array.from(block.sensor, (s) => block.strings[s]);
}

Deno.test("chunks never exceed the Deno KV value limit, even with long strings", () => {
  const chunker = new Chunker();
  chunker.add(blockFromReadings(readings(0, 3000, 120)));
  chunker.add(blockFromReadings(readings(3000, 10)));
  const chunks = chunker.finishChunks();
  assert(chunks.length > 5);
  for (const chunk of chunks) {
    assert(chunk.bytes.byteLength <= KV_VALUE_LIMIT, `${chunk.bytes.byteLength}`);
  }
  assertEquals(
    chunks.flatMap((c) => ids(c.block)),
    [...readings(0, 3000, 120), ...readings(3000, 10)].map((r) => r.sensorId),
  );
});

Deno.test("appends are durable in a real Deno KV file, in order, across concurrent appends", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-log-" });
  const path = `${dir}/log.kv`;
  const kv = await Deno.openKv(path);
  try {
    const log = new KvLog(kv);
    const batches = Array.from({ length: 30 }, (_, b) => readings(b * 100, 1 + (b * 37) % 100));
    await Promise.all(batches.map((batch) => log.append(blockFromReadings(batch))));
    // A second handle on the same file sees everything once the appends resolved.
    const other = await Deno.openKv(path);
    const reader = new KvLog(other);
    const seen: string[] = [];
    let cursor: string | null = null;
    while (true) {
      const entries = await reader.read(cursor, 3);
      if (entries.length === 0) break;
      for (const entry of entries) seen.push(...ids(entry.block));
      cursor = entries[entries.length - 1].cursor;
    }
    other.close();
    // Nothing lost or duplicated, and each request's readings stay together and in order.
    assertEquals([...seen].sort(), batches.flat().map((r) => r.sensorId).sort());
    for (const batch of batches) {
      const at = seen.indexOf(batch[0].sensorId);
      assertEquals(seen.slice(at, at + batch.length), batch.map((r) => r.sensorId));
    }
    assertEquals(log.pendingReadings, 0);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("read(cursor) resumes strictly after the cursor", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const log = new KvLog(kv);
    for (let i = 0; i < 5; i++) await log.append(blockFromReadings(readings(i * 10, 2)));
    const all = await log.read(null, 10);
    assertEquals(all.length, 5);
    const after = await log.read(all[1].cursor, 10);
    assertEquals(after.map((e) => e.cursor), all.slice(2).map((e) => e.cursor));
  } finally {
    kv.close();
  }
});

Deno.test("a saturated writer refuses appends with Deno.errors.Busy", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const log = new KvLog(kv, { maxPendingReadings: 100 });
    const first = log.append(blockFromReadings(readings(0, 80)));
    const refused = await log.append(blockFromReadings(readings(100, 80))).then(
      () => "ok",
      (e) => e.name,
    );
    assertEquals(refused, "Busy");
    await first;
  } finally {
    kv.close();
  }
});

Deno.test("a fenced append commits its mutations with each of its chunks, in its own chunks, and fails alone when the fence moved", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const log = new KvLog(kv, { maxChunkBytes: 2_000 });
    const claim = ["claim"];
    const { versionstamp } = await kv.set(claim, "mine");
    const fence = {
      key: claim,
      versionstamp,
      // Each chunk records how many rows were durable with it.
      commitWith: (committed: number, last: boolean): Deno.KvMutation[] => [
        { type: "set", key: claim, value: last ? "done" : "pending" },
        { type: "set", key: ["progress", committed], value: last },
      ],
    };
    const plain = readings(1_000, 5);
    await Promise.all([
      log.append(blockFromReadings(readings(0, 120)), { fence }),
      log.append(blockFromReadings(plain)),
    ]);
    const entries = await log.read(null, 100);
    assert(entries.length > 2, "the fenced block spans several chunks");
    // Every progress mark was committed together with the chunk that made it true.
    let total = 0;
    const marks = new Map<string, number>();
    for await (const entry of kv.list<boolean>({ prefix: ["progress"] })) {
      marks.set(entry.versionstamp, entry.key[1] as number);
    }
    for (const entry of entries) {
      const got = ids(entry.block);
      if (got[0].startsWith("s1000")) {
        assertEquals(got, plain.map((r) => r.sensorId), "plain readings share no fenced chunk");
        continue;
      }
      total += entry.block.length;
      assertEquals(marks.get(entry.cursor), total);
    }
    assertEquals([total, (await kv.get(claim)).value], [120, "done"]);

    // Someone else rewrote the claim: the fenced append fails and writes nothing.
    await kv.set(claim, "theirs");
    const before = (await log.read(null, 100)).length;
    const [lost, other] = await Promise.allSettled([
      log.append(blockFromReadings(readings(2_000, 3)), { fence }),
      log.append(blockFromReadings(readings(3_000, 3))),
    ]);
    assert(lost.status === "rejected" && lost.reason instanceof FenceLost);
    assertEquals(other.status, "fulfilled");
    assertEquals((await log.read(null, 100)).length, before + 1);
    assertEquals((await kv.get(claim)).value, "theirs");
  } finally {
    kv.close();
  }
});

Deno.test("an append with records commits each chunk's records in the same atomic operation, at most RECORD_CHUNK_ROWS readings a chunk", async () => {
  await withTempKv(async (kv) => {
    const log = new KvLog(kv);
    // One record per reading, as MQTT's retry records are: far more than one
    // atomic operation may hold (1000 mutations) if the chunk were not cut.
    // Small readings (one metric, ten ids): 60 KB would hold over 1,500 of them.
    const count = 4_000;
    const small = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        sensorId: `m${(from + i) % 10}`,
        timeMs: from + i,
        values: { v: from + i },
      }));
    const seen: number[] = [];
    const records = {
      commitWith: (committed: number): Deno.KvMutation[] => {
        const mutations: Deno.KvMutation[] = [];
        for (let row = seen.length; row < committed; row++) {
          seen.push(row);
          mutations.push({ type: "set", key: ["rec", row], value: row });
        }
        return mutations;
      },
    };
    const plain = readings(10_000, 4);
    await Promise.all([
      log.append(blockFromReadings(small(0, count)), { records }),
      log.append(blockFromReadings(plain)),
    ]);
    const entries = await log.read(null, 100);
    const byCursor = new Map<string, number[]>();
    for await (const entry of kv.list<number>({ prefix: ["rec"] })) {
      byCursor.set(entry.versionstamp, [...(byCursor.get(entry.versionstamp) ?? []), entry.value]);
    }
    let next = 0;
    for (const entry of entries) {
      const got = ids(entry.block);
      if (got[0].startsWith("s1000")) {
        assertEquals(got, plain.map((r) => r.sensorId), "plain readings share no record chunk");
        assertEquals(byCursor.has(entry.cursor), false);
        continue;
      }
      assert(entry.block.length <= RECORD_CHUNK_ROWS, `${entry.block.length} readings`);
      // The records of exactly this chunk's readings carry this chunk's versionstamp.
      const expected = Array.from({ length: entry.block.length }, (_, i) => next + i);
      assertEquals(byCursor.get(entry.cursor), expected);
      assertEquals(
        Array.from(entry.block.timeMs),
        small(next, entry.block.length).map((r) => r.timeMs),
      );
      next += entry.block.length;
    }
    assertEquals(next, count);
  });
});

Deno.test("the chunker cuts a block by maxRows as well as by bytes", () => {
  const chunker = new Chunker({ maxRows: 7 });
  chunker.add(blockFromReadings(readings(0, 50)));
  const chunks = chunker.finishChunks();
  assert(chunks.every((c) => c.block.length <= 7), chunks.map((c) => c.block.length).join());
  assertEquals(chunks.flatMap((c) => ids(c.block)), readings(0, 50).map((r) => r.sensorId));
});

Deno.test("a commit that fails settles its appends with the store's failure (never a TypeError: not the request's fault) and is noted for /healthz", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-kv-" });
  try {
    const kv = await Deno.openKv(`${dir}/store.kv`);
    const log = new KvLog(kv);
    await log.append(blockFromReadings(readings(0, 5)));
    assertEquals(log.writeError, null);
    kv.close(); // every commit fails from here on, as Deno KV reports it
    for (const records of [undefined, { commitWith: () => [] }]) {
      const failure = await log.append(blockFromReadings(readings(10, 5)), { records }).then(
        () => null,
        (error) => error,
      );
      assert(failure instanceof Error, "the append is refused");
      assert(!(failure instanceof TypeError), `${failure.name}: ${failure.message}`);
      assert(failure.message.startsWith("The store's commit failed: "), failure.message);
      assert(log.writeError !== null && failure.message.endsWith(log.writeError));
    }
    assertEquals(log.pendingReadings, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every chunk records when it was written, read back and handed to listeners alike; chunks written before it was have none", async () => {
  await withTempKv(async (kv) => {
    // A chunk from before acceptance times were recorded.
    await kv.set(
      [KEYS.log, "00000000000000000001"],
      encodeReadingBlock(blockFromReadings(readings(0, 2))),
    );
    let clock = 1_800_000_000_000;
    const log = new KvLog(kv, { maxChunkBytes: 2_000, now: () => clock });
    const heard: (number | undefined)[] = [];
    log.onCommit((entry) => heard.push(entry.block.acceptedMs));
    // A verified body small enough to be stored as it came (stamped), and a block cut into chunks.
    const body = decodeIngestBatch(encodeReadingBlock(blockFromReadings(readings(100, 3)))).block;
    assert(body.encoded !== undefined);
    await log.append(body);
    clock += 1_000;
    await log.append(blockFromReadings(readings(200, 60)));
    clock += 1_000;
    await log.append(blockFromReadings(readings(300, 2)), {
      records: { commitWith: () => [] },
    });
    const entries = await log.read(null, 100);
    const times = entries.map((entry) => entry.block.acceptedMs);
    assert(entries.length > 4, "the large block spans several chunks");
    assertEquals(times[0], undefined);
    assertEquals(times[1], 1_800_000_000_000);
    assertEquals(new Set(times.slice(2, -1)), new Set([1_800_000_001_000]));
    assertEquals(times.at(-1), 1_800_000_002_000);
    assertEquals(heard, times.slice(1));
    assertEquals(
      entries.flatMap((entry) => ids(entry.block)),
      [
        ...readings(0, 2),
        ...readings(100, 3),
        ...readings(200, 60),
        ...readings(300, 2),
      ].map((r) => r.sensorId),
    );
  });
});
