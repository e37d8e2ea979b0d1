import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { BLOCK_BYTES, BlockBuilder, readBlock } from "./rollup_block.ts";
import type { BlockWindow } from "./rollup_block.ts";

type Window = [
  sensor: string,
  metric: string,
  t: number,
  count: number,
  sum: number,
  min: number,
  max: number,
];

const value = fc.oneof(
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, NaN, Infinity, 1e300),
  fc.integer({ min: -100, max: 100 }),
);
/** Windows of one reading (count 1, min = max = sum) as often as others, and edge values. */
const windowArb = fc.oneof(
  // Count 1 with zeros of either sign: one reading's window only when all three are the same.
  fc.tuple(
    fc.constantFrom("a", "b"),
    fc.constantFrom("t", "h"),
    fc.integer({ min: 0, max: 29 }),
    fc.constantFrom(0, -0),
    fc.constantFrom(0, -0),
    fc.constantFrom(0, -0),
  ).map(([s, m, n, a, b, c]): Window => [s, m, n * 1_000, 1, a, b, c]),
  fc.tuple(
    fc.constantFrom("a", "b", "ü/1", "x".repeat(300)),
    fc.constantFrom("t", "h"),
    fc.integer({ min: 0, max: 29 }),
    value,
  )
    .map(([s, m, n, v]): Window => [s, m, n * 1_000, 1, v, v, v]),
  fc.tuple(
    fc.constantFrom("a", "b", "ü/1", "x".repeat(300)),
    fc.constantFrom("t", "h"),
    fc.integer({ min: 0, max: 29 }),
    fc.constantFrom(1, 2, 7, 0.5),
    value,
    value,
    value,
  ).map(([s, m, n, c, a, b, d]): Window => [s, m, n * 1_000, c, a, b, d]),
);

/** Builds blocks of the windows, in order, as a write does (a new block when one is full). */
function blocks(windows: readonly Window[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const builder = new BlockBuilder();
  const f = new Float64Array(5);
  for (const [sensor, metric, t, count, sum, min, max] of windows) {
    f.set([t, count, sum, min, max]);
    if (!builder.add(sensor, metric, f, 0)) {
      out.push(builder.encode());
      builder.reset();
      assert(builder.add(sensor, metric, f, 0));
    }
  }
  if (builder.length > 0) out.push(builder.encode());
  return out;
}

function read(
  bytes: Uint8Array[],
  sensorId: string,
  metric: string,
  fromMs = -Infinity,
  toMs = Infinity,
) {
  const got: BlockWindow[] = [];
  for (const b of bytes) readBlock(b, { sensorId, metric, fromMs, toMs }, (w) => got.push(w));
  return got.map((w) => [w.t, w.count, w.sum, w.min, w.max]);
}

Deno.test("rollup blocks read back every window exactly as added (-0, NaN and one-reading windows included), in values under the block size", () => {
  fc.assert(
    fc.property(
      fc.array(windowArb, { maxLength: 3_000 }),
      fc.integer({ min: 0, max: 30 }),
      (windows, cut) => {
        const bytes = blocks(windows);
        assert(bytes.every((b) => b.byteLength <= BLOCK_BYTES), "every block fits");
        for (const sensor of ["a", "b", "ü/1", "x".repeat(300)]) {
          for (const metric of ["t", "h"]) {
            const mine = windows.filter(([s, m]) => s === sensor && m === metric);
            // Object.is: -0 and NaN survive as themselves.
            const got = read(bytes, sensor, metric);
            assertEquals(got.length, mine.length);
            got.forEach((g, k) => {
              const want = mine[k].slice(2);
              assert(
                g.every((x, j) => Object.is(x, want[j])),
                `${sensor} ${metric} ${k}: ${g} vs ${want}`,
              );
            });
            assertEquals(
              read(bytes, sensor, metric, cut * 1_000, 30_000).length,
              mine.filter(([, , t]) => t >= cut * 1_000).length,
            );
          }
        }
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("a block of one-reading windows holds about twice as many windows as one of full windows", () => {
  const f = new Float64Array(5);
  const fill = (full: boolean) => {
    const builder = new BlockBuilder();
    for (let n = 0;; n++) {
      f.set([n * 1_000, full ? 2 : 1, n, n, full ? n + 1 : n]);
      if (!builder.add(`s${n % 50}`, "t", f, 0)) return builder.length;
    }
  };
  const singles = fill(false), fulls = fill(true);
  // 21 and 45 bytes a window.
  assert(singles > 2 * fulls * 0.95, `${singles} against ${fulls}`);
});

Deno.test("blocks of the first layout (no version: five float64 then two uint16 per window) are still read", () => {
  // Written by hand, as the code before version 2 did.
  const header = new TextEncoder().encode(
    JSON.stringify({ n: 3, ids: ["a", "b"], metrics: ["t"] }),
  );
  const start = (4 + header.byteLength + 7) & ~7;
  const bytes = new Uint8Array(start + 3 * 44);
  new DataView(bytes.buffer).setUint32(0, header.byteLength, true);
  bytes.set(header, 4);
  new Float64Array(bytes.buffer, start, 15).set([0, 1, 5, 5, 5, 1_000, 2, 3, 1, 2, 0, 4, 8, 1, 3]);
  new Uint16Array(bytes.buffer, start + 120, 3).set([0, 0, 1]);
  new Uint16Array(bytes.buffer, start + 126, 3).set([0, 0, 0]);
  assertEquals(read([bytes], "a", "t"), [[0, 1, 5, 5, 5], [1_000, 2, 3, 1, 2]]);
  assertEquals(read([bytes], "b", "t"), [[0, 4, 8, 1, 3]]);
  assertEquals(read([bytes], "a", "h"), []);
});

Deno.test("a block encoded into a reused buffer at an 8-aligned offset has the same bytes as one encoded alone", () => {
  const buffer = new Uint8Array(3 * BLOCK_BYTES);
  fc.assert(fc.property(
    fc.array(windowArb, { minLength: 1, maxLength: 200 }),
    fc.nat(BLOCK_BYTES / 8),
    fc.integer({ min: 1, max: 255 }),
    (windows, slot, junk) => {
      const builder = new BlockBuilder();
      const f = new Float64Array(5);
      for (const [sensor, metric, t, count, sum, min, max] of windows) {
        f.set([t, count, sum, min, max]);
        if (!builder.add(sensor, metric, f, 0)) break;
      }
      const alone = builder.encode();
      // What an earlier commit's blocks left there.
      buffer.fill(junk);
      const at = slot * 8;
      const length = builder.encodeInto(buffer, at);
      assertEquals(buffer.subarray(at, at + length), alone);
      assertEquals(buffer[at + length], junk, "nothing written past the block");
    },
  ));
});
