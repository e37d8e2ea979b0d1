import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { RollupRows, snapshotRows } from "./rollup_rows.ts";
import { RollupSlots } from "./rollup_slots.ts";
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

Deno.test("a snapshot of several buffers (sharing a slot table or not, some cleared and filled again) restores to every window of each, in order", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          shared: fc.boolean(),
          before: fc.array(rowArb, { maxLength: 40 }),
          cleared: fc.boolean(),
          rows: fc.array(rowArb, { maxLength: 80 }),
        }),
        { maxLength: 4 },
      ),
      (parts) => {
        const slots = new RollupSlots();
        const buffers = parts.map((part) => {
          const rows = new RollupRows(part.shared ? slots : new RollupSlots());
          push(rows, part.before);
          // A cleared buffer keeps its pages and slot table, and nothing of its rows.
          if (part.cleared) rows.clear();
          push(rows, part.rows);
          return rows;
        });
        const all = parts.flatMap((part) => [...(part.cleared ? [] : part.before), ...part.rows]);
        const restored = new RollupRows();
        restored.restore(snapshotRows(buffers));
        assertEquals(restored.length, all.length);
        for (const [key, points] of expected(all)) {
          const [sizeMs, id, metric] = key.split("|");
          assertEquals(
            restored.windows(Number(sizeMs), id, metric, -Infinity, Infinity),
            points,
            key,
          );
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("a cleared buffer filled past a page answers only the windows added since", () => {
  const rows = new RollupRows();
  for (let n = 0; n < 10_000; n++) {
    rows.push({ sizeMs: 1_000, sensorId: `s${n % 7}`, metric: "t" }, {
      start: n * 1_000,
      count: 1,
      sum: n,
      min: n,
      max: n,
    });
  }
  rows.clear(4_096);
  for (let n = 0; n < 5_000; n++) {
    rows.push({ sizeMs: 1_000, sensorId: `s${n % 3}`, metric: "t" }, {
      start: n * 1_000,
      count: 2,
      sum: -n,
      min: -n,
      max: -n,
    });
  }
  assertEquals(rows.length, 5_000);
  const s1 = rows.windows(1_000, "s1", "t", -Infinity, Infinity);
  assertEquals(s1.map((p) => p.t), Array.from({ length: 1_667 }, (_, k) => (3 * k + 1) * 1_000));
  assert(s1.every((p) => p.count === 2 && p.sum === -p.t / 1_000));
  assertEquals(rows.windows(1_000, "s5", "t", -Infinity, Infinity), []);
  assertEquals([...rows.usedSlots()].map((slot) => rows.slots.ids[slot]), ["s0", "s1", "s2"]);
});
