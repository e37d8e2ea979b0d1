import fc from "fast-check";
import * as flatbuffers from "flatbuffers";
import { assertEquals } from "../tests/testing/assert.ts";
import { writeString } from "./frame_parts.ts";

Deno.test("writeString writes the bytes flatbuffers' createString writes, for any text and after anything", () => {
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.string({ unit: "grapheme" }),
  );
  fc.assert(
    fc.property(fc.array(text, { maxLength: 20 }), fc.nat(7), (strings, pad) => {
      const ours = new flatbuffers.Builder(1);
      const theirs = new flatbuffers.Builder(1);
      // Unaligned starts: the string's length prefix must be aligned the same way.
      for (let i = 0; i < pad; i++) {
        ours.addInt8(i);
        theirs.addInt8(i);
      }
      let last = 0;
      for (const s of strings) {
        last = writeString(ours, s);
        assertEquals(last, theirs.createString(s));
      }
      ours.finish(last);
      theirs.finish(last);
      assertEquals(ours.asUint8Array(), theirs.asUint8Array());
    }),
    { numRuns: 300 },
  );
});
