import { assertEquals } from "../../tests/testing/assert.ts";
import { withTempKv } from "../../tests/testing/temp_kv.ts";
import { CheckpointStore } from "./checkpoint_store.ts";
import { pageRelease } from "./page_release.ts";

/** A shard page of `length` bytes whose content is a function of (shard, page, offset). */
function page(shard: number, p: number, length: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (shard * 31 + p * 7 + i) % 253);
}

Deno.test("a save hands each shard page's buffer to releasePages once (not detaching it), and loads back byte-equal", async () => {
  await withTempKv(async (kv) => {
    // Pages of one piece, of several (60 KB each) and across commits (12 pieces a commit).
    const lengths = [[1_000, 130_000], [700_000, 5], [61_000]];
    const shards = lengths.map((ls, s) => ({
      header: { s },
      pages: ls.map((length, p) => page(s, p, length)) as (Uint8Array | null)[],
    }));
    const expected = lengths.map((ls, s) => ls.map((length, p) => page(s, p, length)));
    const buffers = shards.flatMap((shard) => shard.pages.map((p) => p!.buffer as ArrayBuffer));
    const released: ArrayBuffer[] = [];
    const store = new CheckpointStore(kv, { releasePages: (buffer) => void released.push(buffer) });
    await store.save({ cursor: "c1", router: { sensors: ["a"], metrics: [] }, shards });
    await new Promise((r) => setTimeout(r, 0));
    // Every page once, none detached by the store itself.
    assertEquals(released.length, buffers.length);
    assertEquals(buffers.every((b) => released.filter((r) => r === b).length === 1), true);
    assertEquals(buffers.every((b) => !b.detached), true);
    const loaded = (await new CheckpointStore(kv).load())!;
    assertEquals(loaded.shards.map((s) => s.pages), expected);
    assertEquals(loaded.shards.map((s) => s.header), lengths.map((_, s) => ({ s })));
  });
});

Deno.test("with the server's pageRelease, a saved checkpoint loads back byte-equal and its pages stay attached (Linux)", async () => {
  await withTempKv(async (kv) => {
    const lengths = [[300_000, 4_096], [90_001]];
    const shards = lengths.map((ls, s) => ({
      header: { s },
      pages: ls.map((length, p) => page(s, p, length)) as (Uint8Array | null)[],
    }));
    const expected = lengths.map((ls, s) => ls.map((length, p) => page(s, p, length)));
    const buffers = shards.flatMap((shard) => shard.pages.map((p) => p!.buffer as ArrayBuffer));
    const store = new CheckpointStore(kv, { releasePages: pageRelease() });
    await store.save({ cursor: "c1", router: { sensors: ["a"], metrics: [] }, shards });
    await new Promise((r) => setTimeout(r, 0));
    if (Deno.build.os === "linux") assertEquals(buffers.every((b) => !b.detached), true);
    const loaded = (await new CheckpointStore(kv).load())!;
    assertEquals(loaded.shards.map((s) => s.pages), expected);
  });
});
