import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { SortWorker } from "./sort_worker.ts";

/** The sorter's answers, waited for between ticks as the hub would (a turn of the event loop each). */
async function answers(
  worker: SortWorker,
  count: number,
): Promise<Map<number, { asc: number[]; desc: number[] }>> {
  const got = new Map<number, { asc: number[]; desc: number[] }>();
  for (let i = 0; i < 3_000 && got.size < count && !worker.failed; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    worker.take((token, { asc, desc, length }) => {
      got.set(token, { asc: [...asc.subarray(0, length)], desc: [...desc.subarray(0, length)] });
      return null;
    });
  }
  return got;
}

/** A plain comparator sort: NaN last either way, -0 equal to 0, ties in the order given. */
function plainSort(values: number[], ids: number[], dir: 1 | -1): number[] {
  return ids.map((id, position) => ({ id, position, key: values[id] }))
    .sort((a, b) => {
      const am = Number.isNaN(a.key), bm = Number.isNaN(b.key);
      if (am !== bm) return am ? 1 : -1;
      if (!am && a.key !== b.key) return a.key < b.key ? -dir : dir;
      return a.position - b.position;
    })
    .map((e) => e.id);
}

const keyArb = fc.oneof(
  fc.double(),
  fc.constantFrom(NaN, -0, 0, 1, 1, 2, -1e300, 1_700_000_000_123, 1_700_000_000_124),
);

Deno.test("the worker-sorted order equals a comparator sort of the keys as they were when the sort started, both directions", async () => {
  const worker = SortWorker.start();
  assert(worker !== null);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(keyArb, { minLength: 1, maxLength: 300 }),
        fc.infiniteStream(fc.nat()),
        fc.nat(),
        async (values, picks, seed) => {
          // The ids to sort: a subset of the indexes, in an order of their own (as ids in id order).
          const ids = values.map((_, i) => i).filter((i) => (i * 31 + seed) % 3 !== 0);
          const shuffled = [...ids];
          const it = picks[Symbol.iterator]();
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = it.next().value % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
          }
          const keys = Float64Array.from(values);
          const list = Uint32Array.from(shuffled);
          const token = seed + 1;
          assert(worker.start(token, { values: keys, ids: list }));
          // The caller's arrays change at once: the sort is of the snapshot.
          keys.fill(7);
          list.reverse();
          const got = (await answers(worker, 1)).get(token);
          assertEquals(got?.asc, plainSort(values, shuffled, 1));
          assertEquals(got?.desc, plainSort(values, shuffled, -1));
          assertEquals(worker.inFlight, 0);
        },
      ),
      { numRuns: 150 },
    );
  } finally {
    worker.close();
  }
});

Deno.test("several sorts in flight come back each with its own token; past the limit it says no", async () => {
  const worker = SortWorker.start();
  assert(worker !== null);
  try {
    const values = Float64Array.from({ length: 1_000 }, (_, i) => (i * 7919) % 1_009);
    const ids = Uint32Array.from({ length: 1_000 }, (_, i) => i);
    const started = [1, 2, 3, 4, 5].filter((token) => worker.start(token, { values, ids }));
    assertEquals(started, [1, 2, 3, 4]);
    const got = await answers(worker, 4);
    const expected = plainSort([...values], [...ids], 1);
    assertEquals([...got.keys()].sort(), [1, 2, 3, 4]);
    for (const { asc } of got.values()) assertEquals(asc, expected);
    assert(worker.start(6, { values, ids }), "room again once taken");
    await answers(worker, 1);
  } finally {
    worker.close();
  }
  assert(!worker.start(7, { values: new Float64Array(1), ids: new Uint32Array(1) }), "closed");
});

Deno.test("a worker that throws is marked failed and says no to more sorts; its error does not reach the caller", async () => {
  const broken = new URL(
    `data:application/javascript,${
      encodeURIComponent('self.onmessage = () => { throw new Error("the sort broke"); };')
    }`,
  );
  const worker = SortWorker.start(broken);
  assert(worker !== null);
  try {
    assert(worker.start(1, { values: new Float64Array([2, 1]), ids: Uint32Array.of(0, 1) }));
    const got = await answers(worker, 1);
    assertEquals(got.size, 0);
    assert(worker.failed);
    assertEquals(worker.inFlight, 0);
    assert(!worker.start(2, { values: new Float64Array([2, 1]), ids: Uint32Array.of(0, 1) }));
  } finally {
    worker.close();
  }
});

Deno.test("orders kept by the caller are never written by later sorts; the arrays it gives back serve them", async () => {
  const worker = SortWorker.start();
  assert(worker !== null);
  try {
    const ids = Uint32Array.from({ length: 2_000 }, (_, i) => i);
    const kept: { values: number[]; asc: Uint32Array; desc: Uint32Array; length: number }[] = [];
    // Plain arrays first (as from sorts in the tick), then the ones kept two rounds before.
    let give: { asc: Uint32Array; desc: Uint32Array } = {
      asc: new Uint32Array(10),
      desc: new Uint32Array(10),
    };
    for (let round = 0; round < 6; round++) {
      const values = Float64Array.from(ids, (i) => ((i + 1) * (round + 3) * 7919) % 1_009);
      assert(worker.start(round + 1, { values, ids }));
      for (let i = 0; i < 3_000 && worker.inFlight > 0 && !worker.failed; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        worker.take((_, order) => {
          kept.push({ values: [...values], ...order });
          const given = give;
          if (kept.length >= 2) {
            give = { asc: kept[kept.length - 2].asc, desc: kept[kept.length - 2].desc };
          }
          return given;
        });
      }
      assertEquals(worker.inFlight, 0);
    }
    // The last two kept are still the caller's: each holds its own sort, untouched by the later ones.
    for (const k of kept.slice(-2)) {
      assertEquals([...k.asc.subarray(0, k.length)], plainSort(k.values, [...ids], 1));
      assertEquals([...k.desc.subarray(0, k.length)], plainSort(k.values, [...ids], -1));
    }
  } finally {
    worker.close();
  }
});
