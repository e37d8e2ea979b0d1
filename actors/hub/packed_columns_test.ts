import { assertEquals } from "../../tests/testing/assert.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";
import {
  packedPrevious,
  packedStates,
  packedWindows,
  previousBuffer,
  statesBuffer,
} from "./packed_columns.ts";

/** Writes a distinct value into every element of every column, then reads all back. */
function roundTrip(columns: Record<string, unknown>, n: number): Record<string, number[]> {
  const arrays = Object.entries(columns).filter(([, v]) => ArrayBuffer.isView(v)) as [
    string,
    Uint8Array | Uint16Array | Uint32Array | Float64Array,
  ][];
  arrays.forEach(([, a], c) => {
    for (let i = 0; i < n; i++) a[i] = (c * 37 + i) % 200;
  });
  return Object.fromEntries(arrays.map(([name, a]) => [name, Array.from(a)]));
}

Deno.test("packed columns have the shapes and types of allocated ones, each column its own n elements (no column overlaps another)", () => {
  for (const n of [0, 1, 7, 1000]) {
    const pairs = [
      [packedStates(n), allocateStates(n)],
      [packedWindows(n), allocateWindowStates(n)],
    ] as const;
    for (const [packed, plain] of pairs) {
      assertEquals(Object.keys(packed), Object.keys(plain));
      for (const key of Object.keys(plain)) {
        const a = (packed as unknown as Record<string, unknown>)[key];
        const b = (plain as unknown as Record<string, unknown>)[key];
        assertEquals(a?.constructor, b?.constructor, key);
        if (ArrayBuffer.isView(b)) assertEquals((a as Uint8Array).length, n, key);
      }
      assertEquals(packed.length, n);
      // Every column written in turn, then read: equal only if no two share bytes.
      assertEquals(
        roundTrip(packed as unknown as Record<string, unknown>, n),
        roundTrip(plain as unknown as Record<string, unknown>, n),
      );
    }
    const previous = packedPrevious(n);
    assertEquals(Object.keys(previous).sort(), ["avg", "has", "last", "length", "max", "min"]);
    assertEquals(previous.length, n);
    assertEquals(previous.has.length + previous.max.length, 2 * n);
  }
});

Deno.test("buffers in turn: a turn's columns stay as written until the second turn after, exactly n long, grown when short", () => {
  const states = statesBuffer();
  const first = states.next(5);
  first.last.fill(7);
  first.sensor.fill(3);
  const second = states.next(8);
  assertEquals([second.length, second.last.length, second.sensor.length], [8, 8, 8]);
  second.last.fill(9);
  // The first is untouched by the second.
  assertEquals(Array.from(first.last), [7, 7, 7, 7, 7]);
  assertEquals(Array.from(first.sensor), [3, 3, 3, 3, 3]);
  // The third reuses the first's buffer.
  const third = states.next(5);
  assertEquals(third.last.buffer, first.last.buffer);
  // A longer need grows it (a fresh buffer; the other turn's is untouched).
  const fourth = states.next(5000);
  assertEquals(fourth.timeMs.length, 5000);
  assertEquals(Array.from(third.last), [7, 7, 7, 7, 7]);
  // Previous values: the columns of one turn, each n long.
  const previous = previousBuffer().next(4);
  assertEquals(
    [previous.has, previous.last, previous.avg, previous.min, previous.max].map((a) => a.length),
    [4, 4, 4, 4, 4],
  );
});
