import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { RollupRows } from "./rollup_rows.ts";
import type { RollupPoint } from "./rollup_rows.ts";

type Row = [sizeMs: number, sensorId: string, metric: string, start: number, n: number];

const rowArb = fc.tuple(
  fc.constantFrom(1_000, 60_000),
  fc.constantFrom("a", "b", "c/d", "é"),
  fc.constantFrom("t", "h"),
  fc.integer({ min: 0, max: 50 }),
  fc.double({ noNaN: true, min: -1e9, max: 1e9 }),
);

/** Each key's windows, recomputed from the plain list of rows in the order they came. */
function expected(rows: readonly Row[]): Map<string, RollupPoint[]> {
  const out = new Map<string, RollupPoint[]>();
  for (const [sizeMs, id, metric, start, n] of rows) {
    const key = `${sizeMs}|${id}|${metric}`;
    const t = start * sizeMs;
    out.set(key, [...(out.get(key) ?? []), { t, count: 1, sum: n, min: n - 1, max: n + 1 }]);
  }
  return out;
}

function push(into: RollupRows, rows: readonly Row[]): void {
  for (const [sizeMs, sensorId, metric, start, n] of rows) {
    into.push({ sizeMs, sensorId, metric }, {
      start: start * sizeMs,
      count: 1,
      sum: n,
      min: n - 1,
      max: n + 1,
    });
  }
}

Deno.test("rollup rows restored from a snapshot (into empty rows or rows already holding some) answer every window as pushed, in order", () => {
  fc.assert(
    fc.property(
      fc.array(rowArb, { maxLength: 200 }),
      fc.array(rowArb, { maxLength: 50 }),
      (a, b) => {
        const source = new RollupRows();
        push(source, a);
        const target = new RollupRows();
        push(target, b);
        target.restore(source.snapshot());
        assertEquals(target.length, a.length + b.length);
        for (const [key, points] of expected([...b, ...a])) {
          const [sizeMs, id, metric] = key.split("|");
          assertEquals(
            target.windows(Number(sizeMs), id, metric, -Infinity, Infinity),
            points,
            key,
          );
        }
        // And a snapshot of the restored rows restores to the same again.
        const again = new RollupRows();
        again.restore(target.snapshot());
        for (const [key, points] of expected([...b, ...a])) {
          const [sizeMs, id, metric] = key.split("|");
          assertEquals(again.windows(Number(sizeMs), id, metric, -Infinity, Infinity), points, key);
        }
      },
    ),
    { numRuns: 200 },
  );
});
