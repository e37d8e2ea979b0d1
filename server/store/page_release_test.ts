import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { pageRelease } from "./page_release.ts";

const PAGE = 4096;

/** The bytes of `bytes` that lie on whole pages of its own memory: the range madvise may drop. */
function wholePages(buffer: ArrayBuffer): [number, number] {
  const at = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
  const start = Math.ceil(at / PAGE) * PAGE - at;
  const end = Math.floor((at + buffer.byteLength) / PAGE) * PAGE - at;
  return end > start ? [start, end] : [0, 0];
}

Deno.test("a released buffer stays attached, its whole pages read as zeros and the bytes beside them are kept", () => {
  const release = pageRelease();
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 * PAGE + 100 }),
      fc.integer({ min: 1, max: 255 }),
      (length, fill) => {
        const buffer = new ArrayBuffer(length);
        const bytes = new Uint8Array(buffer).fill(fill);
        release(buffer);
        if (Deno.build.os !== "linux") return; // detached instead
        assertEquals(buffer.detached, false);
        assertEquals(buffer.byteLength, length);
        const [start, end] = wholePages(buffer);
        // Recomputed from the buffer's address: zeros exactly on its whole pages.
        const expected = new Uint8Array(length).fill(fill).fill(0, start, end);
        assertEquals(bytes, expected);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("a released buffer can be written and read again (its pages come back as fresh zeros)", () => {
  const release = pageRelease();
  const buffer = new ArrayBuffer(8 * PAGE);
  const bytes = new Uint8Array(buffer).fill(7);
  release(buffer);
  if (Deno.build.os !== "linux") return;
  bytes.fill(9);
  assertEquals(bytes.every((b) => b === 9), true);
});
