import { assertEquals } from "../../tests/testing/assert.ts";
import { allocateStates, allocateWindowStates } from "../../protocol/columns.ts";
import { packedPrevious, packedStates, packedWindows, PreviousScratch } from "./packed_columns.ts";

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
    assertEquals(Object.keys(previous).sort(), ["avg", "has", "last", "max", "min"]);
    assertEquals(previous.has.length + previous.max.length, 2 * n);
  }
});

Deno.test("the previous-value scratch clears `has` each time and keeps a turn's columns until the second turn after", () => {
  const scratch = new PreviousScratch();
  const first = scratch.next(5);
  first.has.fill(1);
  first.last.fill(7);
  const second = scratch.next(8);
  assertEquals(Array.from(second.has), new Array(8).fill(0));
  second.has.fill(1);
  // The first is untouched by the second.
  assertEquals(Array.from(first.has), [1, 1, 1, 1, 1]);
  assertEquals(Array.from(first.last), [7, 7, 7, 7, 7]);
  // The third reuses the first's buffer, cleared.
  const third = scratch.next(5);
  assertEquals(Array.from(third.has), [0, 0, 0, 0, 0]);
  assertEquals(third.has.buffer, first.has.buffer);
  // A longer need grows it.
  assertEquals(scratch.next(5000).has.length, 5000);
});
