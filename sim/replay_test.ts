import { assert, assertEquals } from "../tests/testing/assert.ts";
import { decodeIngestBatch } from "../protocol/ingest_codec.ts";
import { runReplay } from "./replay.ts";
import { buildPost, RawHttpConnection } from "./raw_http.ts";

/** A stand-in ingest endpoint: decodes each body and counts its readings and their times. */
function ingestServer() {
  const seen = { requests: 0, readings: 0, minTime: Infinity, maxTime: -Infinity };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (request) => {
    const { block } = decodeIngestBatch(new Uint8Array(await request.arrayBuffer()));
    seen.requests++;
    seen.readings += block.length;
    for (const t of block.timeMs) {
      seen.minTime = Math.min(seen.minTime, t);
      seen.maxTime = Math.max(seen.maxTime, t);
    }
    return Response.json({ accepted: block.length, refused: [] });
  });
  return { server, seen, url: `http://127.0.0.1:${server.addr.port}/` };
}

Deno.test("replay over raw connections: every reading the server counted is reported accepted, stamped with the post's time", async () => {
  const { server, seen, url } = ingestServer();
  const started = Date.now();
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 600);
  const report = await runReplay(
    { url, sensors: 300, rate: 20_000, batch: 100, concurrency: 3 },
    controller.signal,
  );
  await server.shutdown();
  assert(seen.requests > 3, `only ${seen.requests} requests`);
  // Posts cut off at the stop may have reached the server without their answer being read.
  assert(report.accepted <= seen.readings);
  assert(seen.readings - report.accepted <= 3 * 100);
  assert(seen.minTime >= started && seen.maxTime <= Date.now());
  assertEquals(report.refused, 0);
});

Deno.test("a raw connection reads answers with a length and chunked ones, and reconnects after the server closed it", async () => {
  let n = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (request) => {
    const text = await request.text();
    n++;
    if (n === 2) {
      // Chunked: a streamed body of unknown length.
      return new Response(
        ReadableStream.from([`{"echo":`, JSON.stringify(text), "}"]).pipeThrough(
          new TextEncoderStream(),
        ),
      );
    }
    if (n === 3) return new Response("bye", { status: 503, headers: { connection: "close" } });
    return Response.json({ echo: text });
  });
  const url = new URL(`http://127.0.0.1:${server.addr.port}/api/ingest`);
  const connection = new RawHttpConnection(url);
  const signal = new AbortController().signal;
  const body = new TextEncoder().encode("x".repeat(70_000));
  const { bytes, bodyAt } = buildPost(url, body, { "content-type": "text/plain" });
  assertEquals(bodyAt % 8, 0);
  for (let i = 1; i <= 4; i++) {
    const answer = await connection.post(bytes, 5_000, signal);
    if (i === 3) {
      assertEquals(answer.status, 503);
      assertEquals(answer.text, "bye");
      continue;
    }
    assertEquals(answer.status, 200);
    assertEquals(JSON.parse(answer.text).echo, "x".repeat(70_000));
  }
  connection.close();
  await server.shutdown();
});
