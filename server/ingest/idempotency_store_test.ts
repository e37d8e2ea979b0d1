// The idempotency store with the real log on a real Deno KV file.
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { IdempotencyStore } from "./idempotency_store.ts";
import type { Claim, ClaimResult } from "./idempotency_store.ts";
import { FenceLost, KvLog } from "../store/mod.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";

function readings(from: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `sensor-${from + i}`.padEnd(40, "x"),
    timeMs: from + i,
    values: { t: from + i },
  }));
}

/** Every sensor id in the log, in order, read through a second handle. */
async function logged(path: string): Promise<string[]> {
  const kv = await Deno.openKv(path);
  try {
    const log = new KvLog(kv);
    const ids: string[] = [];
    let cursor: string | null = null;
    while (true) {
      const entries = await log.read(cursor, 16);
      if (entries.length === 0) return ids;
      for (const { block } of entries) {
        for (let i = 0; i < block.length; i++) ids.push(block.strings[block.sensor[i]]);
      }
      cursor = entries[entries.length - 1].cursor;
    }
  } finally {
    kv.close();
  }
}

/** A batch to claim; the scope is the API key's id, which is also the sender. */
function batch(scope: string, id: string, fingerprint: string) {
  return { scope, id, fingerprint, keyId: scope || null };
}

function claimed(result: ClaimResult): Claim {
  assertEquals(result.kind, "claimed");
  return (result as { claim: Claim }).claim;
}

/** Appends all rows of `block` (batch index = row) fenced by `claim`, storing `body` as the answer. */
async function apply(
  log: KvLog,
  store: IdempotencyStore,
  claim: Claim,
  block: ReadingBlock,
  body: string,
): Promise<void> {
  const answer = await store.prepare(body, { status: 200, accepted: block.length, refused: 0 });
  await log.append(block, {
    fence: store.fence(claim, {
      answer,
      rows: { length: block.length, batchIndex: (row) => row, batchLength: block.length },
    }),
  });
}

Deno.test("a claimed key is in progress for a duplicate, a mismatch for another body, and replays once done", async () => {
  await withTempKv(async (kv, path) => {
    const store = new IdempotencyStore(kv);
    const log = new KvLog(kv, { maxChunkBytes: 4_000 });
    const claim = claimed(await store.claim(batch("key-a", "batch-1", "fp1")));
    assertEquals(claim.takenOver, false);
    assertEquals((await store.claim(batch("key-a", "batch-1", "fp1"))).kind, "in_progress");
    assertEquals((await store.claim(batch("key-a", "batch-1", "fp2"))).kind, "mismatch");
    // Another key's batches live apart: the same id is free there.
    assertEquals((await store.claim(batch("key-b", "batch-1", "fp2"))).kind, "claimed");

    const block = blockFromReadings(readings(0, 300));
    const body = JSON.stringify({ accepted: 300, refused: [] });
    await apply(log, store, claim, block, body);
    assertEquals((await logged(path)).length, 300);
    assertEquals(await store.claim(batch("key-a", "batch-1", "fp1")), {
      kind: "replay",
      status: 200,
      body,
    });
    assertEquals((await store.claim(batch("key-a", "batch-1", "fp2"))).kind, "mismatch");
    const record = (await store.status("key-a", "batch-1"))!;
    assertEquals(
      [record.state, record.accepted, record.appended, record.through, record.keyId],
      ["done", 300, 300, 300, "key-a"],
    );
    assertEquals(await store.status("key-c", "batch-1"), null);
  });
});

Deno.test("concurrent claims of one key: exactly one wins", async () => {
  await withTempKv(async (kv) => {
    const store = new IdempotencyStore(kv);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.claim(batch("", "race", "fp"))),
    );
    assertEquals(results.filter((r) => r.kind === "claimed").length, 1);
    assertEquals(results.filter((r) => r.kind === "in_progress").length, 19);
  });
});

Deno.test("a crash between chunks leaves the progress with the readings; a retry after the lease appends only the rest", async () => {
  await withTempKv(async (kv, path) => {
    let now = 1_000_000;
    const store = new IdempotencyStore(kv, { leaseMs: 30_000, now: () => now });
    const log = new KvLog(kv, { maxChunkBytes: 4_000 });
    const all = readings(0, 400);
    const first = claimed(await store.claim(batch("", "b", "fp")));
    const answer = await store.prepare("{}", { status: 200, accepted: 400, refused: 0 });
    const fence = store.fence(first, {
      answer,
      rows: { length: 400, batchIndex: (row) => row, batchLength: 400 },
    });
    // The process "dies" while the third chunk is being committed: it never is.
    let chunks = 0;
    const dying = {
      ...fence,
      commitWith: (committed: number, last: boolean) => {
        if (++chunks === 3) throw new Error("killed");
        return fence.commitWith(committed, last);
      },
    };
    await log.append(blockFromReadings(all), { fence: dying }).then(
      () => assert(false, "the append must fail"),
      (error) => assertEquals((error as Error).message, "killed"),
    );
    const inLog = await logged(path);
    const record = (await store.status("", "b"))!;
    assert(inLog.length > 0 && inLog.length < 400, `${inLog.length}`);
    assertEquals([record.state, record.appended, record.through], [
      "pending",
      inLog.length,
      inLog.length,
    ]);
    assertEquals((await store.claim(batch("", "b", "fp"))).kind, "in_progress");

    now += 30_001; // the lease lapsed
    const retry = claimed(await store.claim(batch("", "b", "fp")));
    assertEquals([retry.takenOver, retry.record.through], [true, inLog.length]);
    const rest = blockFromReadings(all.slice(retry.record.through));
    const answer2 = await store.prepare('{"accepted":400}', {
      status: 200,
      accepted: 400,
      refused: 0,
    });
    await log.append(rest, {
      fence: store.fence(retry, {
        answer: answer2,
        rows: {
          length: rest.length,
          batchIndex: (row) => retry.record.through + row,
          batchLength: 400,
        },
      }),
    });
    // Exactly once: every reading, in order, none twice.
    assertEquals(await logged(path), all.map((r) => r.sensorId));
    const done = (await store.status("", "b"))!;
    assertEquals([done.state, done.appended, done.through], ["done", 400, 400]);
    assertEquals((await store.claim(batch("", "b", "fp"))).kind, "replay");
  });
});

Deno.test("a claim taken over meanwhile fences the old append out; plain appends beside it commit", async () => {
  await withTempKv(async (kv, path) => {
    let now = 0;
    const store = new IdempotencyStore(kv, { leaseMs: 1_000, now: () => now });
    const log = new KvLog(kv);
    const stale = claimed(await store.claim(batch("", "b", "fp")));
    now = 5_000;
    claimed(await store.claim(batch("", "b", "fp")));
    const answer = await store.prepare("{}", { status: 200, accepted: 2, refused: 0 });
    const block = blockFromReadings(readings(0, 2));
    const [fenced, plain] = await Promise.allSettled([
      log.append(block, {
        fence: store.fence(stale, {
          answer,
          rows: { length: 2, batchIndex: (r) => r, batchLength: 2 },
        }),
      }),
      log.append(blockFromReadings(readings(100, 3))),
    ]);
    assert(fenced.status === "rejected" && fenced.reason instanceof FenceLost);
    assertEquals(plain.status, "fulfilled");
    assertEquals(await logged(path), readings(100, 3).map((r) => r.sensorId));
    assertEquals((await store.status("", "b"))!.state, "pending");
  });
});

Deno.test("a released claim is forgotten when nothing was appended, else taken over at once; an answer too large for one value is kept in pieces", async () => {
  await withTempKv(async (kv) => {
    const store = new IdempotencyStore(kv);
    const log = new KvLog(kv);
    // Released with nothing appended: the key is free again, even for another body.
    await store.release(claimed(await store.claim(batch("", "big", "other"))));
    assertEquals(await store.status("", "big"), null);
    const first = claimed(await store.claim(batch("", "big", "fp")));
    const fence = store.fence(first, {
      answer: await store.prepare("{}", { status: 200, accepted: 2, refused: 0 }),
      rows: { length: 1, batchIndex: (r) => r, batchLength: 2 },
    });
    // One of two readings appended, as a crash would leave it.
    await log.append(blockFromReadings(readings(0, 1)), {
      fence: { ...fence, commitWith: (committed) => fence.commitWith(committed, false) },
    });
    assertEquals((await store.status("", "big"))!.appended, 1);
    await store.release(first);
    const second = claimed(await store.claim(batch("", "big", "fp")));
    assertEquals(second.takenOver, true);
    // Random text does not compress: it needs several 60 KB pieces.
    const noise = Array.from({ length: 300_000 }, () => Math.floor(Math.random() * 10)).join("");
    const body = JSON.stringify({ accepted: 0, refused: [{ index: 0, reason: noise }] });
    const answer = await store.prepare(body, { status: 200, accepted: 0, refused: 1 });
    assert(answer.gzipped.byteLength > 60_000);
    await log.append(blockFromReadings([]), {
      fence: store.fence(second, {
        answer,
        rows: { length: 0, batchIndex: (r) => r, batchLength: 1 },
      }),
    });
    assertEquals((await store.status("", "big"))!.answerPieces > 1, true);
    assertEquals(await store.claim(batch("", "big", "fp")), { kind: "replay", status: 200, body });
  });
});

Deno.test("a claim marked unrecorded (rows maybe stored outside Deno KV) keeps its key when released", async () => {
  await withTempKv(async (kv) => {
    const store = new IdempotencyStore(kv);
    const claim = claimed(await store.claim(batch("", "mongo", "fp")));
    const fence = store.fence(claim, {
      answer: await store.prepare("{}", { status: 200, accepted: 1, refused: 0 }),
      rows: { length: 1, batchIndex: (r) => r, batchLength: 1 },
    });
    assertEquals([fence.scope, fence.id, fence.fingerprint], ["", "mongo", "fp"]);
    const marked = await kv.atomic().check({ key: fence.key, versionstamp: fence.versionstamp })
      .mutate(...fence.unrecorded()).commit();
    assert(marked.ok);
    await store.release(claim);
    const record = (await store.status("", "mongo"))!;
    assertEquals([record.state, record.appended, record.unrecorded, record.leaseUntil], [
      "pending",
      0,
      true,
      0,
    ]);
    // Another body is refused; the same one takes over at once.
    assertEquals((await store.claim(batch("", "mongo", "other"))).kind, "mismatch");
    assertEquals(claimed(await store.claim(batch("", "mongo", "fp"))).takenOver, true);
  });
});
