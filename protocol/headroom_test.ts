import fc from "fast-check";
import { assertEquals } from "../tests/testing/assert.ts";
import { HEADROOM, headroom, withHeadroom } from "./headroom.ts";

Deno.test("withHeadroom copies the bytes behind HEADROOM spare ones, aligned; only its frames have room", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
      const framed = withHeadroom(bytes);
      assertEquals(new Uint8Array(framed), bytes);
      assertEquals([framed.byteOffset, framed.buffer.byteLength], [
        HEADROOM,
        HEADROOM + bytes.length,
      ]);
      assertEquals(framed.byteOffset % 8, 0);
      assertEquals(headroom(framed), HEADROOM);
      // A view of the same bytes, or the original, is not one of its frames.
      assertEquals(headroom(new Uint8Array(framed.buffer, HEADROOM, bytes.length)), 0);
      assertEquals(headroom(bytes), 0);
    }),
  );
});
