import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { RollupRows } from "./rollup_rows.ts";
import type { RollupPoint, RowPage } from "./rollup_rows.ts";
import { RollupSlots } from "./rollup_slots.ts";

/** Rows per page of `RollupRows` (4,096). */
const PAGE = 4096;

/** `n` rows over a few keys; each row's numbers tell its fill and index apart. */
function fill(rows: RollupRows, n: number, tag: number): Map<string, RollupPoint[]> {
  const out = new Map<string, RollupPoint[]>();
  for (let i = 0; i < n; i++) {
    const id = `s${i % 7}`, metric = i % 2 ? "t" : "h";
    const w = { start: i * 1_000, count: tag, sum: i + tag / 10, min: -i, max: i * 2 };
    rows.push({ sizeMs: 1_000, sensorId: id, metric }, w);
    const key = `${id}|${metric}`;
    out.set(key, [...(out.get(key) ?? []), {
      t: w.start,
      count: w.count,
      sum: w.sum,
      min: w.min,
      max: w.max,
    }]);
  }
  return out;
}

Deno.test("two rollup buffers sharing a page pool hold one buffer's pages between fills, and a buffer filled from reused pages answers only its own rows", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 3 * PAGE }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 4 }),
      (fills, keepPages) => {
        const slots = new RollupSlots();
        const pool: RowPage[] = [];
        const buffers = [new RollupRows(slots, { pool }), new RollupRows(slots, { pool })];
        for (const [k, n] of fills.entries()) {
          // As the writer does: one buffer fills while the other was written and cleared.
          const rows = buffers[k % 2];
          const want = fill(rows, n, k + 1);
          const pages = Math.ceil(n / PAGE);
          assertEquals(rows.pageCount, pages);
          for (const [key, points] of want) {
            const [id, metric] = key.split("|");
            assertEquals(rows.windows(1_000, id, metric, -Infinity, Infinity), points, key);
          }
          const pooled = pool.length;
          rows.clear(keepPages * PAGE);
          assertEquals(rows.pageCount, 0, "a cleared buffer keeps no pages of its own");
          assertEquals(
            pool.length,
            Math.min(keepPages, pooled + pages),
            "the pool keeps at most keepRows worth",
          );
          assertEquals(rows.length, 0);
        }
        // Between fills no more pages are held than the pool's cap.
        assertEquals(buffers[0].pageCount + buffers[1].pageCount, 0);
      },
    ),
    { numRuns: 40 },
  );
});
