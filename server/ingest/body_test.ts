import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { readBodyLimited } from "./body.ts";
import { errorResponse } from "../http/errors.ts";

/** A POST whose body sends `chunks`, then stalls forever (or errors). */
function streamed(chunks: Uint8Array[], end: "stall" | "error"): Request {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent < chunks.length) return controller.enqueue(chunks[sent++]);
      if (end === "error") controller.error(new DOMException("gone", "AbortError"));
      return new Promise(() => {}); // stalls
    },
  });
  return new Request("http://x/api/ingest", { method: "POST", body, duplex: "half" } as never);
}

Deno.test("a body that stops arriving ends in 408 with connection: close; one cut off ends in 400", async () => {
  const stalled = await readBodyLimited(streamed([new Uint8Array(10)], "stall"), 1000, {
    idleTimeoutMs: 50,
  }).then(() => null, (error) => error);
  assert(stalled instanceof Deno.errors.TimedOut, String(stalled));
  const answer = errorResponse(stalled);
  assertEquals([answer.status, answer.headers.get("connection")], [408, "close"]);
  assertEquals((await answer.json()).error, "request_timeout");

  const cut = await readBodyLimited(streamed([new Uint8Array(10)], "error"), 1000)
    .then(() => null, (error) => error);
  assert(cut instanceof Deno.errors.ConnectionAborted, String(cut));
  assertEquals(errorResponse(cut).status, 400);
});

Deno.test("a body that keeps arriving within the idle timeout is read whole", async () => {
  const chunks = Array.from({ length: 5 }, (_, i) => new Uint8Array(100).fill(i));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 30)); // each pause under the timeout, the total over it
      if (sent < chunks.length) controller.enqueue(chunks[sent++]);
      else controller.close();
    },
  });
  const request = new Request("http://x/", { method: "POST", body, duplex: "half" } as never);
  const read = await readBodyLimited(request, 1000, { idleTimeoutMs: 100 });
  assertEquals(read?.byteLength, 500);
  assertEquals(Array.from(read!.filter((_, i) => i % 100 === 0)), [0, 1, 2, 3, 4]);
});
