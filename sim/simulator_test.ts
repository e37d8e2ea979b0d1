import * as flatbuffers from "flatbuffers";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { IngestBatch } from "../protocol/schema_generated.ts";
import { runSimulator } from "./simulator.ts";
import type { SimulatorReport } from "./simulator.ts";

interface Seen {
  sensorId: string;
  group: string;
  timeMs: number;
  values: Record<string, number>;
  status: string;
}

/** Reads an IngestBatch body with the generated accessors only. */
function readBody(bytes: Uint8Array): Seen[] {
  const batch = IngestBatch.getRootAsIngestBatch(new flatbuffers.ByteBuffer(bytes));
  const s = (i: number) => batch.strings(i);
  const out: Seen[] = [];
  for (let i = 0, v = 0; i < batch.sensorLength(); i++) {
    const values: Record<string, number> = {};
    for (let k = 0; k < batch.metricCount(i)!; k++, v++) {
      values[s(batch.metric(v)!)] = batch.value(v)!;
    }
    out.push({
      sensorId: s(batch.sensor(i)!),
      group: s(batch.group(i)!),
      timeMs: batch.timeMs(i)!,
      values,
      status: s(batch.status(i)!),
    });
  }
  return out;
}

/**
 * A stand-in for the server on port 0: `answer` decides each response from
 * the request number and the readings it carried.
 */
function stubServer(answer: (n: number, readings: Seen[]) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const types: string[] = [];
  let requests = 0;
  const controller = new AbortController();
  const server = Deno.serve(
    { port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const type = request.headers.get("content-type") ?? "";
      types.push(type);
      const body = new Uint8Array(await request.arrayBuffer());
      const readings: Seen[] = type === "application/json"
        ? (JSON.parse(new TextDecoder().decode(body)) as {
          sensorId: string;
          group: string;
          timestamp: string;
          reading: Record<string, number>;
          status: string;
        }[]).map((d) => ({
          sensorId: d.sensorId,
          group: d.group,
          timeMs: Date.parse(d.timestamp),
          values: d.reading,
          status: d.status,
        }))
        : readBody(body);
      const response = await answer(requests++, readings);
      if (response.ok) seen.push(...readings);
      return response;
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    types,
    requests: () => requests,
    async close() {
      controller.abort();
      await server.finished;
    },
  };
}

const accept = (readings: Seen[]) => Response.json({ accepted: readings.length, refused: [] });

async function runFor(
  ms: number,
  options: Parameters<typeof runSimulator>[0],
): Promise<{ report: SimulatorReport; reports: SimulatorReport[] }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const reports: SimulatorReport[] = [];
  const report = await runSimulator(
    { ...options, onReport: (r) => reports.push(r) },
    controller.signal,
  );
  clearTimeout(timer);
  return { report, reports };
}

Deno.test("simulator posts FlatBuffers at the target rate and gives every sensor its share", async () => {
  const server = stubServer((_, readings) => accept(readings));
  const started = Date.now();
  const { report, reports } = await runFor(2_050, {
    url: server.url,
    sensors: 200,
    rate: 4_000,
    batch: 250,
  });
  await server.close();
  const elapsed = (Date.now() - started) / 1000;
  assert(server.types.every((t) => t === "application/x-flatbuffers"));
  // 2 s at 4,000/s, less what was still lingering (< 100 ms worth) at the stop.
  assert(
    report.posted >= 4_000 * 1.85 && report.posted <= 4_000 * elapsed,
    `posted ${report.posted}`,
  );
  assertEquals(report.accepted, server.seen.length);
  assertEquals(report.accepted, report.posted);
  assertEquals(reports.at(-1)!.accepted, report.accepted, "the last report is the final one");
  assert(reports.length >= 2, "reports about once a second");
  // Round robin over a permutation: counts per sensor differ by at most one.
  const counts = new Map<string, number>();
  for (const r of server.seen) counts.set(r.sensorId, (counts.get(r.sensorId) ?? 0) + 1);
  assertEquals(counts.size, 200);
  const min = Math.min(...counts.values()), max = Math.max(...counts.values());
  assert(max - min <= 1, `per-sensor counts ${min}..${max}`);
  for (const r of server.seen) {
    assert(r.timeMs >= started - 5 && r.timeMs <= Date.now(), "event time is now");
    assert(/^plant-[a-d]\/line-[1-6]$/.test(r.group), r.group);
    assertEquals(Object.keys(r.values), ["temperature", "humidity", "pressure"]);
    assert(r.status === "ok" || r.status === "warn");
  }
});

Deno.test("simulator posts JSON documents in the documented shape", async () => {
  let sample = "";
  const server = stubServer((_, readings) => accept(readings));
  const original = globalThis.fetch;
  // Peek at one raw body to check the exact document shape.
  globalThis.fetch = (input, init) => {
    if (!sample && typeof init?.body === "string") sample = init.body;
    return original(input, init);
  };
  try {
    const { report } = await runFor(600, { url: server.url, sensors: 10, rate: 200, json: true });
    assert(report.accepted > 0 && report.accepted === server.seen.length);
  } finally {
    globalThis.fetch = original;
    await server.close();
  }
  assert(server.types.every((t) => t === "application/json"));
  const doc = JSON.parse(sample)[0];
  assertEquals(Object.keys(doc).sort(), ["group", "reading", "sensorId", "status", "timestamp"]);
  assert(/^sensor_\d+$/.test(doc.sensorId));
  assertEquals(new Date(doc.timestamp).toISOString(), doc.timestamp);
  assertEquals(Object.keys(doc.reading), ["temperature", "humidity", "pressure"]);
});

Deno.test("simulator counts HTTP errors with their message, retries 503 and keeps going", async () => {
  const server = stubServer((n, readings) => {
    if (n < 2) {
      return Response.json({ error: "unavailable", detail: "Cannot ingest: log is busy" }, {
        status: 503,
      });
    }
    if (n === 2) {
      return Response.json({ error: "bad_request", detail: "Invalid IngestBatch: nope" }, {
        status: 400,
      });
    }
    if (n === 3) return new Response("too big", { status: 413 });
    return Response.json({
      accepted: readings.length - 1,
      refused: [{ index: 0, reason: 'value of "humidity" is out of range' }],
    });
  });
  const { report } = await runFor(1_500, {
    url: server.url,
    sensors: 10,
    rate: 400,
    batch: 20,
    concurrency: 1,
  });
  await server.close();
  assertEquals(report.errors["503 Cannot ingest: log is busy"], 2);
  assertEquals(report.errors["400 Invalid IngestBatch: nope"], 1);
  assertEquals(report.errors["413 too big"], 1);
  // The 503s were retried (same body), the 400 and 413 bodies were given up.
  assertEquals(report.failed, 40);
  assertEquals(report.accepted + report.refused + report.failed, report.posted);
  assert(report.refused > 0);
  assertEquals(report.refusalSamples[0], '#0: value of "humidity" is out of range');
});

Deno.test("simulator retries while the server refuses connections, then delivers", async () => {
  // Find a free port, then start the server there only after the simulator has tried.
  const probe = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const controller = new AbortController();
  const running = runSimulator(
    { url: `http://127.0.0.1:${port}`, sensors: 10, rate: 500, batch: 50 },
    controller.signal,
  );
  await new Promise((r) => setTimeout(r, 400));
  const seen: number[] = [];
  // The server outlives the simulator, so requests in flight at the stop are answered.
  const serverStop = new AbortController();
  const server = Deno.serve(
    { port, hostname: "127.0.0.1", signal: serverStop.signal, onListen: () => {} },
    async (request) => {
      const batch = readBody(new Uint8Array(await request.arrayBuffer()));
      seen.push(batch.length);
      return accept(batch);
    },
  );
  await new Promise((r) => setTimeout(r, 1_500));
  controller.abort();
  const report = await running;
  serverStop.abort();
  await server.finished;
  assert(report.errors["connection refused"] >= 1, JSON.stringify(report.errors));
  assert(report.accepted > 0 && report.accepted === seen.reduce((a, b) => a + b, 0));
  assertEquals(report.failed, 0, "nothing was lost to the refused connections");
});

Deno.test("stopping lets requests in flight finish and counts them", async () => {
  const server = stubServer(async (_, readings) => {
    await new Promise((r) => setTimeout(r, 300));
    return accept(readings);
  });
  const { report } = await runFor(500, { url: server.url, sensors: 10, rate: 1_000, batch: 100 });
  await server.close();
  assert(report.posted > 0);
  assertEquals(report.accepted, report.posted, "the answers to requests in flight were awaited");
  assertEquals(report.failed, 0);
});
