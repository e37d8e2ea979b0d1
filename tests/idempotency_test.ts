// Idempotent ingest end to end: a real server on port 0 with Deno KV in a
// temp dir. Counts are checked against the log (read through a second
// handle) and the feed against a recomputation of what was sent, once.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { occurrences, readLog } from "./testing/read_log.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { ApiKeys } from "../server/auth/mod.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";
import { blockFromReadings } from "../protocol/reading_block.ts";

const BASE = Date.UTC(2026, 10, 22, 12);

function batch(tag: string, count: number, value: (i: number) => number): PlainReading[] {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `s${i % 10}`,
    group: "plant-a/line-1",
    timeMs: BASE + Number(tag.replace(/\D/g, "") || 0) * 1_000 + i,
    values: { v: value(i) },
  }));
}

function json(readings: PlainReading[]): string {
  return JSON.stringify(
    readings.map((r) => ({
      sensorId: r.sensorId,
      group: r.group,
      timestamp: r.timeMs,
      reading: r.values,
    })),
  );
}

async function withServer(
  run: (url: URL, data: string) => Promise<void>,
  before?: (kv: Deno.Kv) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-idem-e2e-" });
  const data = `${dir}/store.kv`;
  if (before) {
    const kv = await Deno.openKv(data);
    await before(kv);
    kv.close();
  }
  const server = await startPulseboard({ ...DEFAULT_CONFIG, port: 0, data, tickMs: 20 });
  try {
    await run(server.url, data);
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
}

function post(
  url: URL,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(new URL("/api/ingest", url), {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
}

Deno.test("a replay returns the first answer again and applies nothing; another body under the key is 422", async () => {
  await withServer(async (url, data) => {
    const client = new FeedClient(url);
    await client.opened;
    // One reading is refused, so the answer is more than a count.
    const first = batch("1", 20, (i) => i);
    const docs = JSON.parse(json(first));
    docs.splice(5, 0, { sensorId: "", timestamp: BASE, reading: { v: 1 } });
    const body = JSON.stringify(docs);

    const response = await post(url, body, { "idempotency-key": "gw-1:batch-1" });
    assertEquals(response.status, 200);
    assertEquals(response.headers.get("idempotent-replayed"), null);
    const answer = await response.text();
    assertEquals(JSON.parse(answer).accepted, 20);
    assertEquals(JSON.parse(answer).refused.map((r: { index: number }) => r.index), [5]);

    for (let i = 0; i < 3; i++) {
      const again = await post(url, body, { "idempotency-key": "gw-1:batch-1" });
      assertEquals(again.status, 200);
      assertEquals(again.headers.get("idempotent-replayed"), "true");
      assertEquals(await again.text(), answer);
    }

    const other = await post(url, json(batch("1", 20, (i) => i + 1)), {
      "idempotency-key": "gw-1:batch-1",
    });
    assertEquals(other.status, 422);
    const problem = await other.json();
    assertEquals(problem.error, "unprocessable_entity");
    assert(/different body/.test(problem.detail), problem.detail);

    // A later batch without a key: if the first one had been applied twice,
    // the moving averages would differ from the recomputation.
    const second = batch("2", 7, (i) => 100 * (i + 1));
    assertEquals((await post(url, json(second))).status, 200);
    const sent = [...first, ...second];
    const stored = await readLog(data);
    assertEquals(stored.length, sent.length);
    assert([...occurrences(stored).values()].every((n) => n === 1), "no reading stored twice");
    await eventually(() => sameState(client.state(), recompute(sent)), 5_000, "feed = sent once");
    await client.close();

    const metrics = await (await fetch(new URL("/metrics", url))).text();
    const outcome = (name: string) =>
      Number(
        metrics.match(
          new RegExp(`pulseboard_ingest_idempotent_requests_total\\{outcome="${name}"\\} (\\d+)`),
        )?.[1],
      );
    assertEquals(
      ["first", "replayed", "mismatch", "in_progress"].map(outcome),
      [1, 3, 1, 0],
    );
  });
});

Deno.test("concurrent duplicates: exactly one applies, the others get 409 or the replay", async () => {
  await withServer(async (url, data) => {
    // Large enough to span several log chunks, so duplicates overlap it.
    const readings = Array.from({ length: 8_000 }, (_, i) => ({
      sensorId: `sensor-${i}`.padEnd(60, "x"),
      group: "plant-a",
      timeMs: BASE + i,
      values: { v: i },
    }));
    const body = json(readings);
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => post(url, body, { "idempotency-key": "storm" })),
    );
    const answers = await Promise.all(
      responses.map(async (r) => ({
        status: r.status,
        replayed: r.headers.get("idempotent-replayed") === "true",
        retryAfter: r.headers.get("retry-after"),
        body: await r.text(),
      })),
    );
    const applied = answers.filter((a) => a.status === 200 && !a.replayed);
    assertEquals(applied.length, 1, JSON.stringify(answers.map((a) => a.status)));
    for (const a of answers) {
      assert(a.status === 200 || a.status === 409, `${a.status} ${a.body}`);
      if (a.status === 409) {
        assert(Number(a.retryAfter) >= 1, "409 says when to retry");
        assertEquals(JSON.parse(a.body).error, "conflict");
      }
      if (a.replayed) assertEquals(a.body, applied[0].body);
    }
    assert(answers.some((a) => a.status === 409), "some duplicates overlapped the first");
    assertEquals(JSON.parse(applied[0].body), { accepted: 8_000, refused: [] });
    // The retries a client would send after 409 replay the same answer.
    const late = await post(url, body, { "idempotency-key": "storm" });
    assertEquals([late.status, await late.text()], [200, applied[0].body]);

    const stored = await readLog(data);
    assertEquals(stored.length, readings.length);
    assertEquals(occurrences(stored).size, readings.length);
  });
});

Deno.test("a FlatBuffers batch_id is the key; header and batch_id must agree; both are bounded; a body refused whole leaves the key free", async () => {
  await withServer(async (url, data) => {
    const readings = batch("3", 30, (i) => i * 2);
    const flat = (id?: string) => encodeReadingBlock(blockFromReadings(readings), id);
    const fb = { "content-type": "application/x-flatbuffers" };

    const first = await post(url, flat("fb-batch-1"), fb);
    assertEquals(first.status, 200);
    const answer = await first.text();
    const again = await post(url, flat("fb-batch-1"), { ...fb, "idempotency-key": "fb-batch-1" });
    assertEquals(again.headers.get("idempotent-replayed"), "true");
    assertEquals(await again.text(), answer);
    // application/octet-stream is the same FlatBuffers batch, not another body.
    const octets = await post(url, flat("fb-batch-1"), {
      "content-type": "application/octet-stream",
    });
    assertEquals([octets.headers.get("idempotent-replayed"), await octets.text()], [
      "true",
      answer,
    ]);

    const differ = await post(url, flat("fb-batch-2"), { ...fb, "idempotency-key": "other" });
    assertEquals(differ.status, 400);
    assert(/differ/.test((await differ.json()).detail));
    const long = await post(url, flat("x".repeat(129)), fb);
    assertEquals(long.status, 400);
    assert(/batch_id/.test((await long.json()).detail));
    const badHeader = await post(url, "[]", { "idempotency-key": "has space" });
    assertEquals(badHeader.status, 400);
    assert(/printable ASCII/.test((await badHeader.json()).detail));
    const tooLong = await post(url, "[]", { "idempotency-key": "k".repeat(129) });
    assertEquals(tooLong.status, 400);
    await tooLong.body?.cancel();

    // A body refused whole applies nothing: the key stays free for the corrected one.
    const broken = await post(url, "[{", { "idempotency-key": "fixed-later" });
    assertEquals(broken.status, 400);
    await broken.body?.cancel();
    const fixed = await post(url, json(batch("6", 4, (i) => i)), {
      "idempotency-key": "fixed-later",
    });
    assertEquals([fixed.status, (await fixed.json()).accepted], [200, 4]);

    assertEquals((await readLog(data)).length, readings.length + 4);
  });
});

Deno.test("GET /api/ingest/:batchId gives a batch's status; 404 unknown; each API key sees only its own", async () => {
  let keyA = "";
  let keyB = "";
  await withServer(async (url) => {
    const status = (id: string, key?: string) =>
      fetch(new URL(`/api/ingest/${encodeURIComponent(id)}`, url), {
        headers: key ? { authorization: `Bearer ${key}` } : {},
      });
    const bodyA = json(batch("4", 5, (i) => i));
    const bodyB = json(batch("5", 3, (i) => i));
    assertEquals(
      (await post(url, bodyA, { "idempotency-key": "shared", authorization: `Bearer ${keyA}` }))
        .status,
      200,
    );
    // The same id under another key is another batch: no 422, no replay of A's answer.
    const b = await post(url, bodyB, { "idempotency-key": "shared", "x-api-key": keyB });
    assertEquals([b.status, b.headers.get("idempotent-replayed")], [200, null]);
    assertEquals((await b.json()).accepted, 3);
    assertEquals(
      (await post(url, bodyA, { "idempotency-key": "only-a", authorization: `Bearer ${keyA}` }))
        .status,
      200,
    );

    const a = await status("shared", keyA);
    assertEquals(a.status, 200);
    const record = await a.json();
    assertEquals(
      [record.batchId, record.status, record.accepted, record.refused, record.appended],
      ["shared", "done", 5, 0, 5],
    );
    assert(Date.parse(record.completedAt) >= Date.parse(record.receivedAt));
    assertEquals((await (await status("shared", keyB)).json()).accepted, 3);

    const other = await status("only-a", keyB);
    assertEquals(other.status, 404, "another key's batch is unknown");
    assertEquals((await other.json()).error, "not_found");
    const unknown = await status("never-sent", keyA);
    assertEquals(unknown.status, 404);
    await unknown.body?.cancel();
    const anonymous = await status("shared");
    assertEquals(anonymous.status, 401);
    await anonymous.body?.cancel();
    const invalid = await status("has space", keyA);
    assertEquals(invalid.status, 400);
    await invalid.body?.cancel();
    const method = await fetch(new URL("/api/ingest/shared", url), { method: "DELETE" });
    assertEquals(method.status, 405);
    await method.body?.cancel();
  }, async (kv) => {
    const keys = new ApiKeys(kv);
    keyA = (await keys.create("gateway-a", ["plant-a"])).key;
    keyB = (await keys.create("gateway-b", ["*"])).key;
  });
});
