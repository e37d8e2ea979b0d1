// Inbound frames from outside: a million mutated and truncated ones must
// each be refused with a TypeError/RangeError or decode consistently,
// never crash, never hang.
import { assert } from "../tests/testing/assert.ts";
import { decodeClientMessage } from "./client_messages.ts";
import { decodeIngestBatch, encodeReadingBlock } from "./ingest_codec.ts";
import { encodeDelta, encodePong } from "./mod.ts";
import { blockFromReadings } from "./reading_block.ts";

function mutator(seed: number) {
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  return (valid: Uint8Array): Uint8Array => {
    const kind = next() % 5;
    if (kind === 0) return valid.slice(0, next() % valid.length); // truncated
    const out = kind === 4 ? new Uint8Array(valid.length + (next() % 64)) : valid.slice();
    if (kind === 4) out.set(valid);
    const edits = 1 + (next() % 4);
    for (let e = 0; e < edits; e++) {
      const at = next() % out.length;
      if (kind === 1) out[at] ^= 1 << (next() % 8); // bit flip
      else if (kind === 2) out[at] = next() & 0xff; // byte
      else { // a plausible but wrong 32-bit offset
        const aligned = at & ~3;
        if (aligned + 4 <= out.length) {
          new DataView(out.buffer).setInt32(aligned, (next() % 512) - 256, true);
        }
      }
    }
    return out;
  };
}

function fuzz(
  name: string,
  valid: Uint8Array[],
  count: number,
  decode: (bytes: Uint8Array) => void,
) {
  const mutate = mutator(name.length * 7919);
  let slowest = 0;
  let accepted = 0;
  for (let i = 0; i < count; i++) {
    const bytes = mutate(valid[i % valid.length]);
    const started = performance.now();
    try {
      decode(bytes);
      accepted++;
    } catch (error) {
      if (!(error instanceof TypeError || error instanceof RangeError)) {
        throw new Error(
          `${name}: frame ${i} threw ${(error as Error)?.name}: ${(error as Error)?.message}`,
        );
      }
    }
    slowest = Math.max(slowest, performance.now() - started);
  }
  // A hang detector, not a benchmark: a pathological frame would take seconds to
  // minutes; GC pauses on a loaded CI machine reach about half a second.
  assert(slowest < 3_000, `${name}: slowest frame took ${slowest.toFixed(1)} ms`);
  return accepted;
}

Deno.test("a million mutated and truncated client frames are refused cleanly or decoded", () => {
  const valid = [
    encodePong(1),
    encodePong(0xffffffff),
    encodeDelta({
      epoch: 1,
      seq: 2,
      serverTimeMs: 3,
      sensors: [{ index: 0, id: "s", group: "g" }],
      metrics: [{ index: 0, name: "t" }],
      updates: {
        length: 1,
        sensor: new Uint32Array(1),
        metric: new Uint16Array(1),
        last: new Float64Array(1),
        avg: new Float64Array(1),
        min: new Float64Array(1),
        max: new Float64Array(1),
        timeMs: new Float64Array(1),
      },
      removed: [],
    }),
  ];
  const accepted = fuzz("client", valid, 1_000_000, (bytes) => {
    const message = decodeClientMessage(bytes);
    assert(message.type === "pong" && Number.isInteger(message.nonce));
  });
  assert(accepted > 0 && accepted < 1_000_000, `${accepted} decoded`);
});

Deno.test("mutated and truncated ingest batches are refused cleanly or decode to a consistent block", () => {
  const valid = [1, 5, 40].map((n) =>
    encodeReadingBlock(blockFromReadings(Array.from({ length: n }, (_, i) => ({
      sensorId: `sensor_${i}`,
      group: "plant-a/line-1",
      timeMs: 1_700_000_000_000 + i,
      values: { temperature: i, humidity: -i },
    }))))
  );
  fuzz("ingest", valid, 200_000, (bytes) => {
    const { block } = decodeIngestBatch(bytes, { maxReadings: 10_000 });
    for (const column of [block.sensor, block.group, block.status, block.metric]) {
      for (let i = 0; i < column.length; i++) {
        if (column[i] >= block.strings.length) throw new Error("index past the string table");
      }
    }
    if (block.metricStart[block.length] !== block.value.length) {
      throw new Error("inconsistent values");
    }
  });
});
