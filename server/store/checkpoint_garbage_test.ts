// What a save supersedes is listed under that save's generation (one record a save, not one
// list for all), so no listing outgrows a Deno KV value; each is collected completely, after
// a crash too, and an older binary's one list is still collected.
import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { CheckpointStore } from "./checkpoint_store.ts";
import type { Checkpoint } from "./checkpoint_store.ts";
import { KEYS } from "./keys.ts";

/** A page's bytes, distinct for each generation, shard and page. */
function pageBytes(gen: number, s: number, p: number): Uint8Array {
  return new Uint8Array([gen & 255, gen >> 8, s, p & 255, p >> 8]);
}

/** The test's own account of the stored checkpoint: the generation that last gave each page. */
class Model {
  gens: number[][];
  seq = -1;
  constructor(shards: number, pages: number) {
    this.gens = Array.from({ length: shards }, () => new Array(pages).fill(-1));
  }

  /** A checkpoint giving the pages `dirty` says (all on the first save), recorded once saved. */
  checkpoint(seq: number, dirty: (s: number, p: number) => boolean): Checkpoint {
    const first = this.seq < 0;
    return {
      cursor: `c${seq}`,
      router: { sensors: ["a", "b"], metrics: ["t"], epoch: 1 },
      shards: this.gens.map((pages, s) => ({
        header: { s },
        pages: pages.map((_, p) => first || dirty(s, p) ? pageBytes(seq, s, p) : null),
      })),
    };
  }

  saved(seq: number, dirty: (s: number, p: number) => boolean): void {
    const first = this.seq < 0;
    this.gens = this.gens.map((pages, s) =>
      pages.map((gen, p) => first || dirty(s, p) ? seq : gen)
    );
    this.seq = seq;
  }

  /** Every part the current checkpoint is made of ("gen kind ..."), and nothing else. */
  parts(): string[] {
    const parts = [`${this.seq} meta`, `${this.seq} router 0`];
    this.gens.forEach((pages, s) =>
      pages.forEach((gen, p) => parts.push(`${gen} shard ${s} ${p}`))
    );
    return parts.sort();
  }
}

/** The part of every stored piece, by listing the store. */
async function storedParts(kv: Deno.Kv): Promise<string[]> {
  const parts = new Set<string>();
  for await (const { key } of kv.list({ prefix: [KEYS.checkpointPieces] })) {
    parts.add(key.slice(1, -1).join(" "));
  }
  return [...parts].sort();
}

/** Keys under "checkpoint": the pointer and garbage records (`[..., "garbage", <gen>]`). */
async function checkpointKeys(kv: Deno.Kv): Promise<string[]> {
  const keys: string[] = [];
  for await (const { key } of kv.list({ prefix: [KEYS.checkpoint] })) keys.push(key.join(" "));
  return keys;
}

/** The store holds exactly the model's checkpoint: its parts, their bytes, no garbage left. */
async function holdsExactly(kv: Deno.Kv, model: Model): Promise<void> {
  assertEquals(await storedParts(kv), model.parts(), "stored parts");
  assertEquals(await checkpointKeys(kv), ["checkpoint current"], "no garbage record left");
  const loaded = (await new CheckpointStore(kv).load())!;
  assertEquals(loaded.seq, model.seq);
  loaded.shards.forEach((shard, s) =>
    shard.pages.forEach((page, p) =>
      assertEquals([...page!], [...pageBytes(model.gens[s][p], s, p)], `page ${s}/${p}`)
    )
  );
}

/**
 * A new process on the file: it loads, saves the pages `dirty` says (a collecting save),
 * and the store must then hold exactly the model's checkpoint.
 */
async function nextProcessSaves(
  path: string,
  model: Model,
  dirty: (s: number, p: number) => boolean,
  options: { deletePauseMs?: number } = {},
): Promise<void> {
  const kv = await Deno.openKv(path);
  try {
    const next = new CheckpointStore(kv, options);
    await next.load();
    await next.save(model.checkpoint(next.nextSeq(), dirty));
    model.saved(next.seq, dirty);
    await holdsExactly(kv, model);
  } finally {
    kv.close();
  }
}

async function withKvFile(run: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-garbage-" });
  try {
    await run(`${dir}/store.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SHARDS = 4;
/** No pause between the collection's commits: thousands of parts, collected in a test's time. */
const QUICK = { deletePauseMs: 0 };
const PAGES = 1_000;
const all = () => true;

Deno.test("a save that supersedes more parts than one Deno KV value can list is committed and collected completely", async () => {
  await withKvFile(async (path) => {
    const kv = await Deno.openKv(path);
    try {
      // The parts the second save supersedes do not fit one value (64 KiB): the real store says so.
      const list = Array.from({ length: SHARDS * PAGES }, (_, i) => [0, "shard", i % SHARDS, i]);
      let refused = false;
      await kv.set(["probe"], list).catch(() => (refused = true));
      assert(refused, "one value cannot hold the list");
      await kv.delete(["probe"]);
      const model = new Model(SHARDS, PAGES);
      const store = new CheckpointStore(kv, QUICK);
      await store.save(model.checkpoint(0, all), { seq: 0 });
      model.saved(0, all);
      await store.save(model.checkpoint(1, all), { seq: 1 });
      model.saved(1, all);
      await holdsExactly(kv, model);
    } finally {
      kv.close();
    }
  });
});

Deno.test("a crash between the pointer moving and collection: the next process collects every superseded part", async () => {
  await withKvFile(async (path) => {
    const model = new Model(SHARDS, PAGES);
    const kv = await Deno.openKv(path);
    // Two saves that each supersede every page, none collected (a stop's, or a crash after the
    // pointer moved): their lists together are twice what outgrew the one value.
    const store = new CheckpointStore(kv, QUICK);
    for (const seq of [0, 1, 2]) {
      await store.save(model.checkpoint(seq, all), { seq, collect: false });
      model.saved(seq, all);
    }
    kv.close();
    const odd = (_s: number, p: number) => p % 2 === 1;
    await nextProcessSaves(path, model, odd, QUICK);
  });
});

Deno.test("an older binary's one garbage list (a Part[] at [checkpoint, garbage]) is collected after the upgrade", async () => {
  await withKvFile(async (path) => {
    const model = new Model(2, 3);
    const kv = await Deno.openKv(path);
    const store = new CheckpointStore(kv);
    await store.save(model.checkpoint(0, all), { seq: 0 });
    model.saved(0, all);
    const some = (s: number, p: number) => s === 0 || p === 2;
    await store.save(model.checkpoint(1, some), { seq: 1, collect: false });
    model.saved(1, some);
    // What the older layout wrote with the pointer: the superseded parts as one value (the
    // test's own list: generation 0's meta and each page given again), and no record.
    const superseded = [[0, "meta"], [0, "router", 0]];
    for (let s = 0; s < 2; s++) {
      for (let p = 0; p < 3; p++) if (some(s, p)) superseded.push([0, "shard", s, p]);
    }
    for await (const { key } of kv.list({ prefix: [KEYS.checkpoint, "garbage"] })) {
      await kv.delete(key);
    }
    for (const part of ["garbage", "garbage_pieces"]) {
      for await (const { key } of kv.list({ prefix: [KEYS.checkpointPieces, 1, part] })) {
        await kv.delete(key);
      }
    }
    await kv.set([KEYS.checkpoint, "garbage"], superseded);
    kv.close();
    const none = () => false;
    await nextProcessSaves(path, model, none);
  });
});

type Step =
  | { kind: "save"; dirty: boolean[]; collect: boolean }
  | { kind: "give up"; dirty: boolean[]; collect: boolean }
  | { kind: "crash"; dirty: boolean[]; midSave: boolean };

Deno.test("any run of saves, saves given up, stops and crashes leaves, after one collecting save, exactly the current checkpoint", async () => {
  const shards = 2;
  const pages = 4;
  const dirty = fc.array(fc.boolean(), { minLength: shards * pages, maxLength: shards * pages });
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant("save" as const), dirty, collect: fc.boolean() }),
    fc.record({ kind: fc.constant("give up" as const), dirty, collect: fc.boolean() }),
    fc.record({ kind: fc.constant("crash" as const), dirty, midSave: fc.boolean() }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 8 }), async (steps) => {
      await withKvFile(async (path) => {
        const model = new Model(shards, pages);
        let kv = await Deno.openKv(path);
        let store = new CheckpointStore(kv);
        try {
          await store.save(model.checkpoint(0, all));
          model.saved(0, all);
          for (const step of steps) {
            const given = (s: number, p: number) => step.dirty[s * pages + p];
            const seq = store.nextSeq();
            const checkpoint = model.checkpoint(seq, given);
            if (step.kind === "save") {
              await store.save(checkpoint, { collect: step.collect });
              model.saved(seq, given);
            } else if (step.kind === "give up") {
              const save = store.begin();
              for (const [s, shard] of checkpoint.shards.entries()) await save.shard(s, shard);
              await save.abandon({ collect: step.collect });
            } else {
              if (step.midSave) {
                // Pages written under a new generation, the pointer never moved.
                const save = store.begin();
                for (const [s, shard] of checkpoint.shards.entries()) await save.shard(s, shard);
              } else {
                // The pointer moved, nothing collected.
                await store.save(checkpoint, { collect: false });
                model.saved(seq, given);
              }
              kv.close();
              kv = await Deno.openKv(path);
              store = new CheckpointStore(kv);
              await store.load();
            }
            // Every record is a garbage record of one generation; the pointer is the model's.
            for (const key of await checkpointKeys(kv)) {
              assert(
                key === "checkpoint current" || /^checkpoint garbage \d+$/.test(key),
                `${key} is a listed layout`,
              );
            }
            assertEquals((await store.load())!.seq, model.seq);
          }
          const seq = store.nextSeq();
          const none = () => false;
          await store.save(model.checkpoint(seq, none));
          model.saved(seq, none);
          await holdsExactly(kv, model);
        } finally {
          kv.close();
        }
      });
    }),
    { numRuns: 25 },
  );
});

/** Counts the pieces of generation `gen` that `kv.list` hands back (their values read). */
function countPiecesListed(kv: Deno.Kv, gen: number): { count: number } {
  const seen = { count: 0 };
  const list = kv.list.bind(kv);
  kv.list = ((selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
    const iterator = list(selector, options);
    const next = iterator.next.bind(iterator);
    iterator.next = async () => {
      const step = await next();
      if (!step.done && step.value.key[0] === KEYS.checkpointPieces && step.value.key[1] === gen) {
        seen.count++;
      }
      return step;
    };
    return iterator;
  }) as typeof kv.list;
  return seen;
}

/** Every stored piece's key under "checkpoint_pieces", as text. */
async function pieceKeys(kv: Deno.Kv): Promise<string[]> {
  const keys: string[] = [];
  for await (const { key } of kv.list({ prefix: [KEYS.checkpointPieces] })) {
    keys.push(key.slice(1).join(" "));
  }
  return keys.sort();
}

Deno.test("a collecting save deletes what it superseded by key, reading none of its pieces back, and leaves exactly the current checkpoint's pieces", async () => {
  await withKvFile(async (path) => {
    const kv = await Deno.openKv(path);
    try {
      const store = new CheckpointStore(kv);
      // Pages of 3 pieces (60 KB each), an extra of 2 and a source state: every kind of part.
      const bytes = (gen: number, n: number) => new Uint8Array(n).fill(gen + 1);
      const checkpoint = (gen: number): Checkpoint => ({
        cursor: `c${gen}`,
        router: { sensors: ["a", "b"], metrics: ["t"], epoch: 1 },
        shards: [0, 1].map((s) => ({
          header: { s },
          pages: [bytes(gen, 130_000), bytes(gen, 130_000)],
        })),
        extras: { rollups: bytes(gen, 70_000) },
        sourceState: { at: gen },
      });
      await store.save(checkpoint(0), { seq: 0 });
      const listed = countPiecesListed(kv, 0);
      await store.save(checkpoint(1), { seq: 1 });
      assertEquals(listed.count, 0, "pieces of the superseded generation read back");
      // Recomputed from the part sizes: 60,000 B a piece, at least one.
      const expected = [
        "1 meta 0",
        "1 router 0 0",
        "1 source 0",
        "1 extra rollups 0",
        "1 extra rollups 1",
      ];
      for (let s = 0; s < 2; s++) {
        for (let p = 0; p < 2; p++) {
          for (let i = 0; i < 3; i++) expected.push(`1 shard ${s} ${p} ${i}`);
        }
      }
      assertEquals(await pieceKeys(kv), expected.sort());
      assertEquals(await checkpointKeys(kv), ["checkpoint current"], "no garbage record left");
    } finally {
      kv.close();
    }
  });
});

/** A store with two saves of every page, the second's superseded parts not collected (a stop's). */
async function twoSavesUncollected(path: string): Promise<{ kv: Deno.Kv; model: Model }> {
  const model = new Model(2, 3);
  const kv = await Deno.openKv(path);
  const store = new CheckpointStore(kv);
  await store.save(model.checkpoint(0, all), { seq: 0 });
  model.saved(0, all);
  await store.save(model.checkpoint(1, all), { seq: 1, collect: false });
  model.saved(1, all);
  return { kv, model };
}

Deno.test("a garbage record without piece counts (an older binary's) is still collected completely, by listing", async () => {
  await withKvFile(async (path) => {
    const { kv, model } = await twoSavesUncollected(path);
    // What an older binary wrote with the pointer: the list and its record, no counts.
    const record = await kv.get<{ pieces: number; counts?: number }>([
      KEYS.checkpoint,
      "garbage",
      1,
    ]);
    assert(record.value?.counts !== undefined, "this binary writes the counts");
    await kv.set(record.key, { pieces: record.value!.pieces });
    for await (const { key } of kv.list({ prefix: [KEYS.checkpointPieces, 1, "garbage_pieces"] })) {
      await kv.delete(key);
    }
    kv.close();
    const odd = (_s: number, p: number) => p % 2 === 1;
    await nextProcessSaves(path, model, odd);
  });
});

Deno.test("a crash after a collection deleted the parts and the list but not the record: the next collection ends it", async () => {
  await withKvFile(async (path) => {
    const { kv, model } = await twoSavesUncollected(path);
    // What the collection had done by the crash: every part listed, the counts, the list.
    const listed: (string | number)[][] = [];
    for await (
      const { value } of kv.list<Uint8Array>({ prefix: [KEYS.checkpointPieces, 1, "garbage"] })
    ) {
      listed.push(...JSON.parse(new TextDecoder().decode(value)));
    }
    assert(listed.length > 0, "the second save superseded the first's parts");
    for (const part of [...listed, [1, "garbage_pieces"], [1, "garbage"]]) {
      for await (const { key } of kv.list({ prefix: [KEYS.checkpointPieces, ...part] })) {
        await kv.delete(key);
      }
    }
    assertEquals((await checkpointKeys(kv)).length, 2, "the pointer and the record");
    kv.close();
    const none = () => false;
    await nextProcessSaves(path, model, none);
  });
});
