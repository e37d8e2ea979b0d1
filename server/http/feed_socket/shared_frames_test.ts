import fc from "fast-check";
import { Buffer } from "node:buffer";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { WireFrames } from "./wire_frames.ts";
import {
  decodeServerFrame,
  encodeDelta,
  encodePing,
  encodeSnapshot,
} from "../../../protocol/mod.ts";
import { allocateStates } from "../../../protocol/columns.ts";

/** RFC 6455 §5.2, written out: FIN + binary opcode, no mask, 7/16/64-bit payload length. */
function expectedFrame(payload: Uint8Array): Uint8Array {
  const n = payload.byteLength;
  const head = n < 126 ? [0x82, n] : n < 65536 ? [0x82, 126, n >> 8, n & 0xff] : [
    0x82,
    127,
    ...[0, 0, 0, 0],
    ...[24, 16, 8, 0].map((s) => (n >>> s) & 0xff),
  ];
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

const rowArb = fc.record({
  sensor: fc.nat(100_000),
  metric: fc.nat(1_000),
  last: fc.double({ noNaN: true }),
  timeMs: fc.integer({ min: 0, max: 2 ** 45 }),
});

function states(rows: { sensor: number; metric: number; last: number; timeMs: number }[]) {
  const s = allocateStates(rows.length);
  rows.forEach((r, i) => {
    s.sensor[i] = r.sensor;
    s.metric[i] = r.metric;
    s.last[i] =
      s.avg[i] =
      s.min[i] =
      s.max[i] =
        r.last;
    s.timeMs[i] = r.timeMs;
  });
  return s;
}

Deno.test("a topic's Delta, Snapshot and Ping go on the wire as one Buffer view of their own bytes, header in front", () => {
  // Up to ~1,500 rows of 48 B: frames on both sides of the 16-bit length.
  fc.assert(
    fc.property(
      fc.array(rowArb, { maxLength: 1_500, size: "max" }),
      fc.nat(2 ** 31),
      (rows, seq) => {
        const updates = states(rows);
        const payloads = [
          encodeDelta({
            epoch: 7,
            seq,
            serverTimeMs: 1_000,
            sensors: [],
            metrics: [],
            updates,
            removed: [],
          }),
          encodeSnapshot({
            epoch: 7,
            seq,
            serverTimeMs: 1_000,
            sensors: [],
            metrics: [],
            values: updates,
          }),
          encodePing(seq, 1_000),
        ];
        const frames = new WireFrames({ maxBytes: 1024 });
        for (const payload of payloads) {
          const copy = payload.slice();
          const wire = frames.wire(payload);
          assert(wire !== null, "a shared frame is always one write, whatever its size");
          assert(wire.buffer === payload.buffer, "framed in place, not copied");
          // node:stream writes a Buffer as it is; any other view it wraps in a new Buffer per write.
          assert(Buffer.isBuffer(wire), "a Buffer view");
          assertEquals(new Uint8Array(wire), expectedFrame(copy));
          // Framing wrote only in front of it, and a second socket gets the same bytes.
          assertEquals(new Uint8Array(payload), copy);
          assertEquals(new Uint8Array(frames.wire(payload)!), expectedFrame(copy));
        }
        assertEquals(frames.heldBytes, 0);
        const delta = decodeServerFrame(payloads[0]);
        assert(delta.type === "delta");
        assertEquals(delta.seq, seq);
        assertEquals([...delta.updates.sensor], rows.map((r) => r.sensor));
        assertEquals([...delta.updates.metric], rows.map((r) => r.metric));
        assertEquals([...delta.updates.last], rows.map((r) => r.last));
        assertEquals([...delta.updates.timeMs], rows.map((r) => r.timeMs));
        const snapshot = decodeServerFrame(payloads[1]);
        assert(snapshot.type === "snapshot");
        assertEquals([...snapshot.values.sensor], rows.map((r) => r.sensor));
        const ping = decodeServerFrame(payloads[2]);
        assertEquals(ping, { type: "ping", nonce: seq, serverTimeMs: 1_000 });
      },
    ),
    { numRuns: 30 },
  );
});
