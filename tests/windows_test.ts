// Event-time windows, group aggregates, rollup history and the read API, end
// to end: a real server on port 0 with a Deno KV file, readings posted
// through the API, a real WebSocket client; every figure is compared with a
// recomputation from the readings posted.
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";
import { blockFromReadings } from "../protocol/reading_block.ts";

/** Answers of the JSON API, read loosely and checked field by field. */
// deno-lint-ignore no-explicit-any
type Json = any;

const SENSORS = ["s0", "s1", "s2", "s3", "s4", "s5"];
const groupOf = (id: string) => Number(id.slice(1)) < 3 ? "plant-a/line-1" : "plant-b/line-1";

interface Window {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Readings every 250 ms per sensor over [from, to), values a function of sensor and time. */
function readingsBetween(from: number, to: number): PlainReading[] {
  const out: PlainReading[] = [];
  for (let t = from; t < to; t += 250) {
    for (const id of SENSORS) {
      const k = Number(id.slice(1));
      out.push({
        sensorId: id,
        group: groupOf(id),
        timeMs: t + k * 7,
        values: { temperature: 20 + k + ((t / 250) % 17) / 4, humidity: 50 - k },
      });
    }
  }
  return out;
}

/** Within-grace disorder: every 10th batch of readings swaps with the next. */
function shuffled(readings: PlainReading[]): PlainReading[] {
  const out = [...readings];
  for (let i = 0; i + 12 < out.length; i += 60) {
    const a = out.splice(i, 6);
    out.splice(i + 6, 0, ...a);
  }
  return out;
}

function windowsOf(readings: PlainReading[], sizeMs: number): Map<string, Window> {
  const windows = new Map<string, Window>();
  for (const r of readings) {
    for (const [metric, value] of Object.entries(r.values)) {
      const start = r.timeMs - (r.timeMs % sizeMs);
      const key = `${r.sensorId}/${metric}/${start}`;
      const w = windows.get(key) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
      w.count++;
      w.sum += value;
      w.min = Math.min(w.min, value);
      w.max = Math.max(w.max, value);
      windows.set(key, w);
    }
  }
  return windows;
}

/** Fetches until `done` holds for the answer, or fails after `timeoutMs`. */
async function pollJson(
  url: URL,
  path: string,
  done: (body: Json) => boolean,
  timeoutMs = 10_000,
): Promise<{ status: number; body: Json }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await getJson(url, path);
    if (done(answer.body) || Date.now() > deadline) return answer;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

async function post(url: URL, readings: PlainReading[]): Promise<Response> {
  return await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: encodeReadingBlock(blockFromReadings(readings)),
    headers: { "content-type": "application/x-flatbuffers" },
  });
}

async function getJson(url: URL, path: string): Promise<{ status: number; body: Json }> {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: await response.json() };
}

Deno.test("event-time windows, aggregates, rollup and raw history and the read API equal a recomputation, and open windows survive a restart", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-windows-" });
  const data = `${dir}/pulseboard.kv`;
  // Whole minutes, ten minutes ago: inside every retention, far from the future limit.
  const base = Math.floor((Date.now() - 600_000) / 60_000) * 60_000;
  const first = readingsBetween(base, base + 66_000);
  const config = { ...DEFAULT_CONFIG, port: 0, data, tickMs: 20, shards: 2, rollupFlushMs: 100 };
  let server = await startPulseboard(config);
  try {
    const client = new FeedClient(server.url, { windows: true });
    // Without asking, a client gets group aggregates and late counts but no per-sensor windows.
    const plain = new FeedClient(server.url);
    // An explicit subscriber asks for windows in its Subscribe.
    const explicit = new FeedClient(server.url, { explicit: true, windows: true });
    await Promise.all([client.opened, plain.opened, explicit.opened]);
    explicit.subscribe([{ id: 1, group: "plant-b" }]);
    const ordered = shuffled(first);
    for (let i = 0; i < ordered.length; i += 400) {
      const response = await post(server.url, ordered.slice(i, i + 400));
      assertEquals(response.status, 200);
    }
    const newest = Math.max(...first.map((r) => r.timeMs));
    const watermark = newest - 5_000;
    const seconds = windowsOf(first, 1_000);

    await t.step("clients receive every ended window with its final values", async () => {
      const ended = [...seconds].filter(([key]) => Number(key.split("/")[2]) + 1_000 <= newest);
      await eventually(
        () =>
          ended.every(([key]) => {
            const [id, metric, start] = key.split("/");
            const w = client.windows.get(`${id}/${metric}/1000`);
            return w !== undefined && w.startMs >= Number(start);
          }),
        10_000,
        "ended 1 s windows at the client",
      );
      // The last update a client got for each window carries the final values.
      const last = new Map<string, (typeof client.windowUpdates)[number]>();
      for (const u of client.windowUpdates) {
        if (u.key.endsWith("/1000")) last.set(`${u.key.slice(0, -5)}/${u.startMs}`, u);
      }
      for (const [key, w] of ended) {
        const got = last.get(key);
        assert(got, `no update for window ${key}`);
        assertEquals([got.count, got.min, got.max], [w.count, w.min, w.max], key);
        assert(near(got.sum, w.sum), `sum of ${key}`);
      }
      assertEquals(client.gaps, 0);
      assertEquals(plain.windowUpdates.length, 0);
      assert(plain.aggregates.size > 0, "a plain client gets aggregates");
      assert(
        explicit.windowUpdates.length > 0 &&
          explicit.windowUpdates.every((u) => Number(u.key.slice(1, 2)) >= 3),
        "an explicit windows subscriber gets its group's windows only",
      );
    });

    await t.step("group aggregates over the latest ended window, pushed and served", async () => {
      const latestStart = Math.floor(newest / 1_000) * 1_000 - 1_000;
      const expectFor = (ids: string[]) => {
        const parts = ids.map((id) => seconds.get(`${id}/temperature/${latestStart}`)!)
          .filter(Boolean);
        return {
          sensors: parts.length,
          count: parts.reduce((a, w) => a + w.count, 0),
          sum: parts.reduce((a, w) => a + w.sum, 0),
          min: Math.min(...parts.map((w) => w.min)),
          max: Math.max(...parts.map((w) => w.max)),
        };
      };
      const all = expectFor(SENSORS);
      await eventually(
        () => client.aggregates.get("/1000/temperature")?.startMs === latestStart,
        5_000,
        "pushed aggregate",
      );
      const pushed = client.aggregates.get("/1000/temperature")!;
      assertEquals([pushed.sensors, pushed.count, pushed.min, pushed.max], [
        all.sensors,
        all.count,
        all.min,
        all.max,
      ]);
      assert(near(pushed.sum, all.sum));

      const plantA = expectFor(["s0", "s1", "s2"]);
      const { status, body } = await getJson(
        server.url,
        "/api/aggregates?group=plant-a&window=1s&metric=temperature",
      );
      assertEquals(status, 200);
      assertEquals(body.group, "plant-a");
      assertEquals(body.windowMs, 1_000);
      assertEquals(body.metrics.length, 1);
      const served = body.metrics[0];
      assertEquals(
        [served.metric, served.windowStartMs, served.sensors, served.count, served.min, served.max],
        ["temperature", latestStart, 3, plantA.count, plantA.min, plantA.max],
      );
      assert(near(served.avg, plantA.sum / plantA.count));
      const bad = await getJson(server.url, "/api/aggregates?window=7s");
      assertEquals(bad.status, 400);
      assert(bad.body.detail.includes("1s, 10s, 1m"), bad.body.detail);
    });

    await t.step(
      "a reading later than the grace period is dropped, counted, and changes no window",
      async () => {
        const before = client.windowUpdates.length;
        const late = {
          sensorId: "s0",
          group: groupOf("s0"),
          timeMs: base + 1_500,
          values: { temperature: 999 },
        };
        assertEquals((await post(server.url, [late])).status, 200);
        await eventually(() => client.late.get("s0") === 1, 5_000, "late count at the client");
        const { body } = await getJson(server.url, "/api/sensors?q=s0");
        assertEquals(
          body.sensors.map((s: { id: string; lateDropped: number }) => [s.id, s.lateDropped]),
          [["s0", 1]],
        );
        const touched = client.windowUpdates.slice(before).filter((u) => u.startMs <= base + 1_500);
        assertEquals(touched, []);
        assert(base + 1_500 < watermark);
      },
    );

    await t.step("a reading stamped more than 10 s ahead is refused with a reason", async () => {
      const future = { sensorId: "s1", timeMs: Date.now() + 60_000, values: { temperature: 1 } };
      const ok = {
        sensorId: "s1",
        group: groupOf("s1"),
        timeMs: base + 65_900,
        values: { humidity: 1 },
      };
      const response = await post(server.url, [future, ok]);
      const body = await response.json();
      assertEquals(body.accepted, 1);
      assertEquals(body.refused.length, 1);
      assertEquals(body.refused[0].index, 0);
      assert(/in the future/.test(body.refused[0].reason), body.refused[0].reason);
      first.push(ok);
    });

    await t.step("a sensor's status is its newest reading's that had one", async () => {
      const docs = [
        { sensorId: "s5", timestamp: base + 65_950, reading: { humidity: 1 }, status: "alarm" },
        { sensorId: "s5", timestamp: base + 65_000, reading: { humidity: 2 }, status: "older" },
        { sensorId: "s5", timestamp: base + 65_960, reading: { humidity: 3 } },
      ].map((d) => ({ ...d, group: groupOf("s5") }));
      const response = await fetch(new URL("/api/ingest", server.url), {
        method: "POST",
        body: JSON.stringify(docs),
        headers: { "content-type": "application/json" },
      });
      assertEquals((await response.json()).accepted, 3);
      const { body } = await pollJson(
        server.url,
        "/api/sensors?q=s5",
        (b) => b.sensors?.[0]?.status === "alarm",
      );
      assertEquals(body.sensors[0].status, "alarm");
      assertEquals((await getJson(server.url, "/api/sensors?q=s4")).body.sensors[0].status, null);
      first.push(
        ...docs.map((d) => ({
          sensorId: d.sensorId,
          group: d.group,
          timeMs: d.timestamp,
          values: d.reading,
        })),
      );
    });

    await t.step("GET /api/sensors pages by id within a group, with last values", async () => {
      const page1 = await getJson(server.url, "/api/sensors?group=plant-a&limit=2");
      assertEquals(page1.status, 200);
      assertEquals(page1.body.sensors.map((s: { id: string }) => s.id), ["s0", "s1"]);
      assert(typeof page1.body.nextCursor === "string");
      const page2 = await getJson(
        server.url,
        `/api/sensors?group=plant-a&limit=2&cursor=${page1.body.nextCursor}`,
      );
      assertEquals(page2.body.sensors.map((s: { id: string }) => s.id), ["s2"]);
      assertEquals(page2.body.nextCursor, null);
      const s2 = page2.body.sensors[0];
      const lastS2 = first.filter((r) => r.sensorId === "s2").at(-1)!;
      assertEquals(s2.group, "plant-a/line-1");
      assertEquals(s2.lastSeenMs, lastS2.timeMs);
      assertEquals(s2.metrics.temperature.value, lastS2.values.temperature);
      for (
        const bad of ["limit=0", "limit=x", "cursor=%%%", "group=a//b", "cursor=bm90IGFuIGlk!"]
      ) {
        const answer = await getJson(server.url, `/api/sensors?${bad}`);
        assertEquals(answer.status, 400, bad);
        assert(typeof answer.body.detail === "string" && answer.body.detail.length > 0);
      }
    });

    await t.step("history from 1 s rollups equals the recomputed windows", async () => {
      const path = `/api/sensors/s0/history?metric=temperature&from=${base}&to=${
        base + 60_000
      }&maxPoints=61`;
      // Closed windows: those ending at or before the watermark.
      const closed = [...seconds].filter(([key]) =>
        key.startsWith("s0/temperature/") && Number(key.split("/")[2]) + 1_000 <= watermark &&
        Number(key.split("/")[2]) < base + 60_000
      );
      // The shards may still be taking the readings: wait until every window is final.
      const answer = await pollJson(
        server.url,
        path,
        (body) => body.points?.length === closed.length && body.provisionalFrom === undefined,
      );
      assertEquals(answer.status, 200);
      assertEquals([answer.body.resolution, answer.body.bucketMs, answer.body.bounded], [
        "1s",
        1_000,
        false,
      ]);
      assertEquals(answer.body.points.length, closed.length);
      for (const [i, [key, w]] of closed.entries()) {
        const p = answer.body.points[i];
        assertEquals([p.t, p.count, p.min, p.max], [
          Number(key.split("/")[2]),
          w.count,
          w.min,
          w.max,
        ]);
        assert(near(p.avg, w.sum / w.count));
      }
    });

    await t.step(
      "history over a short range is served from the raw log, late readings included",
      async () => {
        const from = base + 1_000, to = base + 3_000;
        const { status, body } = await getJson(
          server.url,
          `/api/sensors/s0/history?metric=temperature&from=${from}&to=${to}&maxPoints=1000`,
        );
        assertEquals(status, 200);
        assertEquals(body.resolution, "raw");
        const raw = [...first, {
          sensorId: "s0",
          timeMs: base + 1_500,
          values: { temperature: 999 },
        }]
          .filter((r) =>
            r.sensorId === "s0" && r.timeMs >= from && r.timeMs < to && "temperature" in r.values
          );
        assertEquals(
          body.points.reduce((a: number, p: { count: number }) => a + p.count, 0),
          raw.length,
        );
        assertEquals(Math.max(...body.points.map((p: { max: number }) => p.max)), 999);
      },
    );

    await t.step("history parameters that make no sense get 400 with an explanation", async () => {
      for (
        const [query, why] of [
          [`metric=temperature&from=${base + 10}&to=${base}`, /must be before/],
          ["metric=temperature&maxPoints=0", /maxPoints/],
          ["metric=temperature&maxPoints=100001", /maxPoints/],
          ["from=1&to=2", /metric is required/],
          ["metric=temperature&from=-5", /whole number/],
          ["metric=temperature&from=0&to=99999999999999", /days/],
        ] as const
      ) {
        const { status, body } = await getJson(server.url, `/api/sensors/s0/history?${query}`);
        assertEquals(status, 400, query);
        assert(why.test(body.detail), `${query}: ${body.detail}`);
      }
    });
    await Promise.all([client.close(), plain.close(), explicit.close()]);
  } finally {
    await server.shutdown();
    await server.finished;
  }

  await t.step(
    "a window open at shutdown closes after the restart with every reading in it",
    async () => {
      server = await startPulseboard(config);
      try {
        const second = readingsBetween(base + 66_000, base + 130_000);
        for (let i = 0; i < second.length; i += 400) {
          assertEquals((await post(server.url, second.slice(i, i + 400))).status, 200);
        }
        const minute = windowsOf([...first, ...second], 60_000).get(
          `s3/temperature/${base + 60_000}`,
        )!;
        const path = `/api/sensors/s3/history?metric=temperature&from=${base + 60_000}&to=${
          base + 120_000
        }&maxPoints=1`;
        const { body } = await pollJson(
          server.url,
          path,
          (b) => b.points?.length === 1 && b.provisionalFrom === undefined,
        );
        assertEquals(body.resolution, "1m");
        assertEquals(body.points.length, 1);
        const p = body.points[0];
        assertEquals([p.t, p.count, p.min, p.max], [
          base + 60_000,
          minute.count,
          minute.min,
          minute.max,
        ]);
        assert(near(p.avg, minute.sum / minute.count));
      } finally {
        await server.shutdown();
        await server.finished;
      }
    },
  );
  await Deno.remove(dir, { recursive: true });
});
