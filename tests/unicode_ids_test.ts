// Sensor ids beyond ASCII, across stages: ingest (JSON and FlatBuffers),
// the log's chunk encoding, a real Deno KV file and a restart. An accepted id
// must come back exactly as sent; anything else is refused with a reason.
import fc from "fast-check";
import * as flatbuffers from "flatbuffers";
import { assert, assertEquals } from "./testing/assert.ts";
import { FeedClient } from "./testing/feed_client.ts";
import { eventually } from "./testing/recompute.ts";
import { readLog } from "./testing/read_log.ts";
import { spawnServer } from "./testing/server_process.ts";
import { withTempKv } from "./testing/temp_kv.ts";
import { IngestBatch } from "../protocol/schema_generated.ts";
import { decodeIngestBatch } from "../protocol/ingest_codec.ts";
import { Chunker } from "../server/store/chunker.ts";
import { parseJsonReadings } from "../server/ingest/readings/json.ts";
import { filterValidReadings } from "../server/ingest/readings/filter.ts";
import { DEFAULT_READING_LIMITS as limits } from "../server/ingest/readings/limits.ts";
import { refusalKind } from "../server/ingest/readings/refusal_kind.ts";
import type { ReadingBlock } from "../protocol/reading_block.ts";

const T = Date.UTC(2026, 0, 2, 3, 4, 5);
const utf8 = new TextEncoder();

/**
 * An IngestBatch with one reading per sensor id, ids given as raw bytes, so
 * that bytes no TextEncoder would write (invalid UTF-8) reach the decoder.
 */
function rawBatch(ids: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const b = new flatbuffers.Builder(1024);
  const strings = IngestBatch.createStringsVector(b, [
    ...ids.map((id) => b.createString(id)),
    b.createString(""),
    b.createString("t"),
  ]);
  const n = ids.length;
  const sensor = IngestBatch.createSensorVector(b, ids.map((_, i) => i));
  const empty = IngestBatch.createGroupVector(b, new Array(n).fill(n));
  const status = IngestBatch.createStatusVector(b, new Array(n).fill(n));
  const time = IngestBatch.createTimeMsVector(b, new Array(n).fill(T));
  const counts = IngestBatch.createMetricCountVector(b, new Array(n).fill(1));
  const metric = IngestBatch.createMetricVector(b, new Array(n).fill(n + 1));
  const value = IngestBatch.createValueVector(b, ids.map((_, i) => i));
  IngestBatch.startIngestBatch(b);
  IngestBatch.addStrings(b, strings);
  IngestBatch.addSensor(b, sensor);
  IngestBatch.addGroup(b, empty);
  IngestBatch.addStatus(b, status);
  IngestBatch.addTimeMs(b, time);
  IngestBatch.addMetricCount(b, counts);
  IngestBatch.addMetric(b, metric);
  IngestBatch.addValue(b, value);
  b.finish(IngestBatch.endIngestBatch(b), "PLSB");
  return b.asUint8Array().slice();
}

/** What the log gives back for these readings: chunk them, then decode every chunk. */
function throughLog(block: ReadingBlock): string[] {
  const chunker = new Chunker();
  chunker.add(block);
  const ids: string[] = [];
  for (const { bytes } of chunker.finishChunks()) {
    const stored = decodeIngestBatch(bytes.slice()).block;
    for (let i = 0; i < stored.length; i++) ids.push(stored.strings[stored.sensor[i]]);
  }
  return ids;
}

/** Code units an attacker or a careless device would send: anything at all, and the awkward ones often. */
const awkwardUnit: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    weight: 4,
  },
  {
    arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    weight: 1,
  },
  { arbitrary: fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)), weight: 1 },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "\u00ad",
      "\u061c",
      "\u200b",
      "\u200d",
      "\u200e",
      "\u202e",
      "\u2028",
      "\u2029",
      "\u2066",
      "\ufeff",
      "\uffff",
      "é",
      "😀",
      " ",
    ),
  },
);
const anyId = fc.string({ unit: awkwardUnit, maxLength: 24 });

Deno.test("any sensor id accepted from JSON is stored in a log chunk and read back unit for unit; a refused one has a sensorId reason", () => {
  fc.assert(
    fc.property(fc.array(anyId, { minLength: 1, maxLength: 8 }), (ids) => {
      // Through JSON text, as on the wire: JSON escapes lone surrogates, so they arrive intact.
      const docs = JSON.parse(
        JSON.stringify(ids.map((sensorId) => ({ sensorId, timestamp: T, reading: { t: 1 } }))),
      );
      const { block, refused } = parseJsonReadings(docs, limits, T);
      const refusedAt = new Set(refused.map((r) => r.index));
      for (const r of refused) assertEquals(refusalKind(r.reason), "sensor_id", r.reason);
      const accepted = ids.filter((_, i) => !refusedAt.has(i));
      assertEquals(throughLog(block), accepted);
      for (const id of accepted) assert(id.isWellFormed(), `accepted a lone surrogate: ${id}`);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("any bytes sent as a FlatBuffers sensor id are refused with a reason or stored and read back byte for byte", () => {
  const idBytes = fc.oneof(
    fc.uint8Array({ maxLength: 24 }),
    anyId.map((id) => utf8.encode(id)),
    // A byte order mark first: a decoder that strips it would rename the sensor.
    anyId.map((id) => utf8.encode(`\ufeff${id}`)),
    fc.constantFrom(
      Uint8Array.of(0x73, 0xff, 0x31), // 0xFF is never UTF-8
      Uint8Array.of(0x73, 0xc3, 0x28), // a lead byte without its continuation
      Uint8Array.of(0xc0, 0xaf), // overlong "/"
      Uint8Array.of(0xed, 0xa0, 0x80), // a surrogate encoded as UTF-8
      Uint8Array.of(0xf4, 0x90, 0x80, 0x80), // past U+10FFFF
      Uint8Array.of(0x61, 0xe2, 0x82), // cut short
    ),
  );
  fc.assert(
    fc.property(fc.array(idBytes, { minLength: 1, maxLength: 8 }), (ids) => {
      const decoded = decodeIngestBatch(rawBatch(ids), { maxReadings: 100 });
      const { block, refused } = filterValidReadings(decoded.block, limits, T);
      const refusedAt = new Set(refused.map((r) => r.index));
      for (const r of refused) assertEquals(refusalKind(r.reason), "sensor_id", r.reason);
      const accepted = ids.filter((_, i) => !refusedAt.has(i));
      const stored = throughLog(block).map((id) => utf8.encode(id));
      assertEquals(stored, accepted);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("FlatBuffers ids that are not UTF-8 are refused as such, and their batch-mates kept", () => {
  const ids = [
    utf8.encode("température-é-😀"),
    Uint8Array.of(0x73, 0xff, 0x31),
    Uint8Array.of(0xed, 0xa0, 0x80),
    utf8.encode("\ufeffbom"),
  ];
  const decoded = decodeIngestBatch(rawBatch(ids));
  const { block, refused } = filterValidReadings(decoded.block, limits, T);
  assertEquals(refused.map((r) => r.index), [1, 2, 3]);
  assertEquals(refused[0].reason, "sensorId is not valid UTF-8");
  assertEquals(refused[1].reason, "sensorId is not valid UTF-8");
  assert(refused[2].reason.includes("U+FEFF"), refused[2].reason);
  assertEquals(throughLog(block), ["température-é-😀"]);
});

async function postJson(url: string, docs: unknown): Promise<Response> {
  return await fetch(new URL("/api/ingest", url), {
    method: "POST",
    body: docs instanceof Uint8Array ? docs.slice() : JSON.stringify(docs),
    headers: { "content-type": "application/json" },
  });
}

Deno.test("a server on a real KV file keeps non-ASCII sensor ids exact across a kill and restart, and refuses the unstorable ones", async () => {
  const good = ["température-é-😀", "датчик-1", "温度センサー", "e\u0301", "❤\ufe0f", "plain"];
  const bad = ["x\ud800y", "rtl\u202eevil", "zw\u200bsp", "c1\u0085", "ls\u2028x", "\udc00"];
  const fromFlatBuffers = "Förderband-Ω-🚀";
  await withTempKv(async (_kv, path) => {
    const args = ["--port", "0", "--data", path, "--tick", "20"];
    const first = await spawnServer(args);
    try {
      const docs = [...good, ...bad].map((sensorId, i) => ({
        sensorId,
        timestamp: T + i,
        reading: { temperature: i },
      }));
      const response = await postJson(first.url, docs);
      assertEquals(response.status, 200);
      const body = await response.json();
      assertEquals(body.accepted, good.length, JSON.stringify(body));
      assertEquals(
        body.refused.map((r: { index: number }) => r.index),
        bad.map((_, i) => good.length + i),
      );
      for (const r of body.refused) assert(/^sensorId .*U\+[0-9A-F]{4}/.test(r.reason), r.reason);

      const binary = await fetch(new URL("/api/ingest", first.url), {
        method: "POST",
        body: rawBatch([utf8.encode(fromFlatBuffers), Uint8Array.of(0x73, 0xff, 0x31)]),
        headers: { "content-type": "application/x-flatbuffers" },
      });
      assertEquals(await binary.json(), {
        accepted: 1,
        refused: [{ index: 1, reason: "sensorId is not valid UTF-8" }],
      });

      // A JSON body must be UTF-8: one with a stray byte inside an id is refused whole.
      const stray = utf8.encode(`[{"sensorId":"s#1","timestamp":${T},"reading":{"t":1}}]`);
      stray[stray.indexOf(0x23)] = 0xff;
      const strayResponse = await postJson(first.url, stray);
      assertEquals(strayResponse.status, 400);
      assert(/UTF-8/.test((await strayResponse.json()).detail));
    } finally {
      first.child.kill("SIGKILL");
      await first.child.status;
    }

    const expected = [...good, fromFlatBuffers].sort();
    const logged = (await readLog(path)).map((r) => r.sensorId).sort();
    assertEquals(logged, expected, "the log holds exactly the accepted ids");

    const second = await spawnServer(args);
    try {
      const client = new FeedClient(second.url);
      await client.opened;
      await eventually(() => client.sensors.size === expected.length, 10_000, "sensors replayed");
      assertEquals([...client.sensors.values()].map((s) => s.id).sort(), expected);
      await client.close();
    } finally {
      second.child.kill("SIGTERM");
      await second.child.status;
    }
  });
});
