import { assertEquals } from "../../tests/testing/assert.ts";
import { packedPrevious, previousBuffer } from "./packed_columns.ts";

// Each topic's filter reads the tick's previous values; objects of two
// shapes there sent its optimized code back to the interpreter every few
// ticks. Same keys in the same order, made the same way: one shape.

const KEYS = ["length", "has", "last", "avg", "min", "max"];

Deno.test("previous-value columns have one set of keys in one order, whole buffers and views alike", () => {
  const buffer = previousBuffer();
  const made = [
    packedPrevious(0),
    packedPrevious(5),
    buffer.next(8), // a whole buffer (grown to fit)
    buffer.next(3), // a view of the other
    buffer.next(8), // the first again, whole or viewed
    buffer.next(2),
  ];
  for (const columns of made) {
    assertEquals(Object.keys(columns), KEYS);
    for (const key of KEYS.slice(1)) {
      assertEquals(
        (columns as unknown as Record<string, ArrayLike<number>>)[key].length,
        columns.length,
      );
    }
  }
});
