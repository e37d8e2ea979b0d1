import { assertEquals } from "../../tests/testing/assert.ts";
import { readBodyLimited } from "./body.ts";

Deno.test("a body read with headroom is a view that many bytes into a buffer it ends, whatever its chunks", async () => {
  const parts = [new Uint8Array([1, 2, 3]), new Uint8Array([4]), new Uint8Array([5, 6])];
  for (const chunks of [parts.slice(0, 1), parts]) {
    const request = new Request("http://localhost/", {
      method: "POST",
      body: ReadableStream.from(chunks),
    });
    const body = (await readBodyLimited(request, 1000, { headroom: 80 }))!;
    const expected = chunks.flatMap((c) => [...c]);
    assertEquals([...body], expected);
    assertEquals(body.byteOffset, 80);
    assertEquals(body.buffer.byteLength, 80 + expected.length);
  }
});
