// kill -9 while idempotent batches are being applied, then the retries with
// the same keys after a restart: every reading of every batch is in the log
// exactly once (the retry appends only what is missing), and a batch that
// was answered before the kill is replayed with the same answer.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually, recompute, sameState } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { occurrences, readLog } from "./testing/read_log.ts";
import { spawnServer } from "./testing/server_process.ts";

const BATCHES = 6;
const READINGS = 6_000;

function readings(round: number, b: number): PlainReading[] {
  // Each sensor belongs to one batch, so its readings' log order is the batch's.
  return Array.from({ length: READINGS }, (_, i) => ({
    sensorId: `r${round}b${b}-sensor-${i % 200}`.padEnd(48, "."),
    group: "plant-a/line-1",
    timeMs: 1_700_000_000_000 + round * 1e7 + b * 1e5 + i,
    values: { v: (i * 7919) % 1000 },
  }));
}

function body(batch: PlainReading[]): string {
  return JSON.stringify(
    batch.map((r) => ({
      sensorId: r.sensorId,
      group: r.group,
      timestamp: r.timeMs,
      reading: r.values,
    })),
  );
}

async function post(url: string, key: string, text: string): Promise<Response> {
  return await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: text,
    headers: { "content-type": "application/json", "idempotency-key": key },
  });
}

const serverArgs = (data: string) => [
  "--port",
  "0",
  "--data",
  data,
  "--idempotency-lease",
  "1s",
  "--checkpoint",
  "200",
  "--tick",
  "20",
];

Deno.test({
  name:
    "kill -9 mid idempotent batch, then retries with the same keys: each reading stored and counted exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-idem-crash-" });
  const data = `${dir}/store.kv`;
  const sent: PlainReading[] = [];
  const seen = { none: 0, partial: 0, pending: 0, done: 0 };
  try {
    for (let round = 0; round < 3; round++) {
      const server = await spawnServer(serverArgs(data));
      const batches = Array.from({ length: BATCHES }, (_, b) => readings(round, b));
      const texts = batches.map(body);
      const answered = new Map<number, string>();
      const posting = texts.map((text, b) =>
        post(server.url, `r${round}-b${b}`, text).then(async (response) => {
          if (response.status === 200) answered.set(b, await response.text());
          else await response.body?.cancel();
        }).catch(() => {/* the server died: no answer */})
      );
      await new Promise((r) => setTimeout(r, 30 + Math.random() * 400));
      server.child.kill("SIGKILL");
      await server.child.status;
      await Promise.all(posting);

      const second = await spawnServer(serverArgs(data));
      try {
        for (let b = 0; b < BATCHES; b++) {
          const key = `r${round}-b${b}`;
          const status = await fetch(new URL(`/api/ingest/${key}`, second.url));
          const record = status.status === 404 ? null : await status.json();
          if (status.status === 404) await status.body?.cancel();
          if (record === null) seen.none++;
          else if (record.status === "done") seen.done++;
          else if (record.appended > 0) seen.partial++;
          else seen.pending++;
          // A client retries after 409 (the dead process's lease) until it is answered.
          let response = await post(second.url, key, texts[b]);
          for (let tries = 0; response.status === 409 && tries < 50; tries++) {
            await response.body?.cancel();
            await new Promise((r) => setTimeout(r, 200));
            response = await post(second.url, key, texts[b]);
          }
          assertEquals(response.status, 200, key);
          const text = await response.text();
          assertEquals(JSON.parse(text), { accepted: READINGS, refused: [] }, key);
          if (answered.has(b)) {
            assertEquals(response.headers.get("idempotent-replayed"), "true", key);
            assertEquals(text, answered.get(b), key);
          }
          sent.push(...batches[b]);
        }
        const stored = await readLog(data);
        const counts = occurrences(stored);
        assertEquals(stored.length, sent.length, `round ${round}: readings in the log`);
        for (const r of sent) {
          assertEquals(counts.get(`${r.sensorId}@${r.timeMs}`), 1, `${r.sensorId}@${r.timeMs}`);
        }
        // The feed counts each once too: moving averages of 30 readings per sensor
        // would shift with any reading applied twice.
        const client = new FeedClient(second.url);
        await client.opened;
        await eventually(
          () => sameState(client.state(), recompute(sent)),
          20_000,
          "the feed equals a recomputation of what was sent, once",
        );
        await client.close();
      } finally {
        second.child.kill("SIGTERM");
        await second.child.status;
      }
    }
    console.log(
      `before the retries: ${seen.none} batches unknown, ${seen.pending} claimed with nothing appended, ` +
        `${seen.partial} partly appended, ${seen.done} done`,
    );
    assert(seen.none + seen.pending + seen.partial + seen.done === 3 * BATCHES);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
