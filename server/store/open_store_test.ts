import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { CheckpointStore } from "./checkpoint_store.ts";
import type { StoredShard } from "./checkpoint_store.ts";
import { KEYS } from "./keys.ts";
import { openStore } from "./open_store.ts";

/** A shard of `pages` pages of `bytes` bytes each, every byte from the shard, page and offset. */
function shard(s: number, pages: number, bytes: number): StoredShard {
  return {
    header: { shard: s },
    pages: Array.from(
      { length: pages },
      (_, p) => Uint8Array.from({ length: bytes }, (_, i) => (s * 31 + p * 7 + i) & 255),
    ),
    full: true,
  };
}

async function saved(dir: string, shards: StoredShard[]): Promise<string> {
  const data = `${dir}/store.kv`;
  const kv = await Deno.openKv(data);
  await new CheckpointStore(kv).save({
    cursor: "c1",
    source: "log",
    router: { sensors: ["a", "b"], metrics: ["t"], epoch: 0 },
    shards: structuredClone(shards),
    extras: { order: new Uint8Array([1, 2, 3]) },
  });
  kv.close();
  return data;
}

Deno.test("openStore gives the checkpoint with its shards' headers first, then each shard with every page as saved", async () => {
  const dir = await Deno.makeTempDir();
  // Pages over several 60 KB pieces, and a shard with none.
  const shards = [shard(0, 2, 150_000), shard(1, 1, 10), shard(2, 0, 0), shard(3, 3, 70_000)];
  const store = await openStore<StoredShard>(await saved(dir, shards), { source: "log" });
  try {
    const c = store.checkpoint!;
    assertEquals(c.cursor, "c1");
    assertEquals(c.router.sensors, ["a", "b"], "the router's ids");
    assertEquals(c.extras, { order: new Uint8Array([1, 2, 3]) }, "the extras");
    assertEquals(c.shards.map((s) => s.header), shards.map((s) => s.header), "the headers");
    assert(c.shards.every((s) => s.pages.length === 0), "no page with the headers");
    assertEquals(await Promise.all(store.shards!), shards, "each shard with every page");
    store.releaseCheckpoint();
    assertEquals(store.shards, null, "released with the checkpoint");
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openStore: a shard whose pieces are missing rejects alone, and nothing is left unhandled", async () => {
  const dir = await Deno.makeTempDir();
  const shards = [shard(0, 1, 100), shard(1, 1, 100), shard(2, 1, 100)];
  const data = await saved(dir, shards);
  const kv = await Deno.openKv(data);
  let cut = 0;
  for await (const entry of kv.list({ prefix: [KEYS.checkpointPieces] })) {
    // ["checkpoint_pieces", generation, "shard", shard, page, piece]
    if (entry.key[2] === "shard" && entry.key[3] === 1) {
      await kv.delete(entry.key);
      cut++;
    }
  }
  kv.close();
  assert(cut > 0, "shard 1's pieces were there");
  // Not awaited at all (a checkpoint that does not fit): the rejection does not fail the test.
  const ignored = await openStore<StoredShard>(data, { source: "log" });
  // Read after shard 1 was asked for: once this is in, shard 1 has failed, with no one listening.
  await ignored.checkpoints.loadShard(2, ignored.checkpoint!.seq!);
  await new Promise((resolve) => setTimeout(resolve, 0));
  ignored.close();
  const store = await openStore<StoredShard>(data, { source: "log" });
  try {
    const [first, second, third] = await Promise.allSettled(store.shards!);
    assertEquals(first, { status: "fulfilled", value: shards[0] });
    assertEquals(second.status, "rejected", "shard 1 cannot be read");
    assertEquals(third, { status: "fulfilled", value: shards[2] });
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openStore: another source's checkpoint, or none, gives no shards to read", async () => {
  const dir = await Deno.makeTempDir();
  const data = await saved(dir, [shard(0, 1, 100)]);
  for (
    const [what, path, source] of [["another source", data, "mongo"], [
      "none",
      `${dir}/empty.kv`,
      "log",
    ]] as const
  ) {
    const store = await openStore<StoredShard>(path, { source });
    assertEquals(store.checkpoint, null, what);
    assertEquals(store.shards, null, what);
    store.close();
  }
  await Deno.remove(dir, { recursive: true });
});
