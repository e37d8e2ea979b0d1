import fc from "fast-check";
import { assertEquals } from "../tests/testing/assert.ts";
import { allocateStates, allocateWindowStates } from "./columns.ts";
import type { GroupAggregateEntry, MetricStates, WindowStates } from "./columns.ts";
import {
  decodeServerFrame,
  encodeDelta,
  encodeError,
  encodePing,
  encodeSnapshot,
  encodeSubscribed,
  peekServerFrame,
} from "./server_frames.ts";

// Values the wire keeps exactly: whole numbers in each column's range, and
// doubles (but -0: a table field equal to its default 0 is not written).
const double = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x === 0 ? 0 : x);
const u32 = fc.nat(0xffff_ffff);
const u16 = fc.nat(0xffff);
const u8 = fc.nat(0xff);

const statesArb = fc.array(fc.tuple(u32, u16, double, double, double, double, double), {
  maxLength: 20,
}).map((rows): MetricStates => {
  const s = allocateStates(rows.length);
  rows.forEach(([sensor, metric, last, avg, min, max, timeMs], i) => {
    s.sensor[i] = sensor;
    s.metric[i] = metric;
    s.last[i] = last;
    s.avg[i] = avg;
    s.min[i] = min;
    s.max[i] = max;
    s.timeMs[i] = timeMs;
  });
  return s;
});

// A window's count is a uint32 on the wire.
const windowsArb = fc.array(
  fc.tuple(u32, u16, u8, u8, double, u32, double, double, double, double),
  { maxLength: 10 },
).map((rows): WindowStates => {
  const w = allocateWindowStates(rows.length);
  rows.forEach(([sensor, metric, size, flags, startMs, count, sum, min, max, std], i) => {
    w.sensor[i] = sensor;
    w.metric[i] = metric;
    w.size[i] = size;
    w.flags[i] = flags;
    w.startMs[i] = startMs;
    w.count[i] = count;
    w.sum[i] = sum;
    w.min[i] = min;
    w.max[i] = max;
    w.std[i] = std;
  });
  return w;
});

const aggregateArb: fc.Arbitrary<GroupAggregateEntry> = fc.record({
  group: fc.string({ maxLength: 12 }),
  size: u8,
  metric: u16,
  startMs: double,
  sensors: u32,
  count: double,
  sum: double,
  min: double,
  max: double,
});

const dictionaries = {
  sensors: fc.array(
    fc.record({
      index: u32,
      id: fc.string({ maxLength: 12 }),
      group: fc.string({ maxLength: 12 }),
    }),
    { maxLength: 8 },
  ),
  metrics: fc.array(fc.record({ index: u16, name: fc.string({ maxLength: 12 }) }), {
    maxLength: 4,
  }),
};
const header = {
  epoch: u32,
  seq: fc.nat(Number.MAX_SAFE_INTEGER),
  serverTimeMs: double,
};
const extras = {
  windows: windowsArb,
  aggregates: fc.array(aggregateArb, { maxLength: 4 }),
  late: fc.array(fc.tuple(u32, u32), { maxLength: 4 }),
  attention: fc.array(fc.tuple(u32, fc.nat(5)), { maxLength: 4 }),
};

/** Typed columns as plain arrays, so equality compares values. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

Deno.test("a Snapshot decodes to exactly what was encoded, every part included", () => {
  fc.assert(fc.property(
    fc.record({
      ...header,
      ...dictionaries,
      ...extras,
      values: statesArb,
      catchUp: fc.boolean(),
      windowSizesMs: fc.array(u32, { maxLength: 8 }),
      countWindow: u32,
    }),
    (frame) => {
      const decoded = decodeServerFrame(encodeSnapshot(frame));
      assertEquals(plain(decoded), plain({ type: "snapshot", ...frame }));
    },
  ));
});

Deno.test("a Delta's bytes depend only on the frame, not on what the shared builder held before (struct pads are zero)", () => {
  const deltaArb = fc.record({
    ...header,
    ...dictionaries,
    updates: statesArb,
    removed: fc.array(u32, { maxLength: 6 }),
  });
  fc.assert(fc.property(deltaArb, deltaArb, (frame, before) => {
    const alone = encodeDelta(frame);
    encodeDelta(before);
    const again = encodeDelta(frame);
    assertEquals(again, alone);
    // Each 48-byte MetricUpdate has 2 pad bytes after its metric: zero, as flatc writes them.
    const n = frame.updates.length;
    if (n === 0) return;
    const view = new DataView(again.buffer, again.byteOffset, again.byteLength);
    const first = frame.updates.sensor[0], metric = frame.updates.metric[0];
    // Find the vector by its first struct's sensor and metric, 8-aligned, after a length of n.
    let found = false;
    for (let at = 8; at + 48 * n <= again.byteLength && !found; at += 8) {
      if (view.getUint32(at - 4, true) !== n) continue;
      if (view.getUint32(at, true) !== first || view.getUint16(at + 4, true) !== metric) continue;
      found = true;
      for (let i = 0; i < n; i++) assertEquals(view.getUint16(at + 48 * i + 6, true), 0);
    }
    assertEquals(found, true);
  }));
});

Deno.test("a Delta decodes to exactly what was encoded, removals and extras included", () => {
  fc.assert(fc.property(
    fc.record({
      ...header,
      ...dictionaries,
      ...extras,
      updates: statesArb,
      removed: fc.array(u32, { maxLength: 6 }),
      coalesced: fc.boolean(),
      sinceSeq: fc.nat(),
      intervalMs: u32,
    }),
    (frame) => {
      const decoded = decodeServerFrame(encodeDelta(frame));
      assertEquals(
        plain(decoded),
        plain({
          type: "delta",
          ...frame,
          // A frame that is not coalesced follows the one before it.
          sinceSeq: frame.coalesced ? frame.sinceSeq : frame.seq - 1,
          // None restarted (protocol/restarted_frames_test.ts has those).
          restarted: [],
          compact: false,
        }),
      );
    },
  ));
});

Deno.test("Subscribed, Error and Ping decode to their fields; peek reads the same header", () => {
  const subscribed = encodeSubscribed({
    topic: "*",
    ids: [3, 1],
    epoch: 7,
    seq: 42,
    recovered: true,
  });
  assertEquals(decodeServerFrame(subscribed), {
    type: "subscribed",
    topic: "*",
    ids: [3, 1],
    epoch: 7,
    seq: 42,
    recovered: true,
    view: false,
  });
  const view = decodeServerFrame(
    encodeSubscribed({ topic: "v", ids: [], epoch: 1, seq: 2, recovered: false, view: true }),
  );
  assertEquals(view.type === "subscribed" && view.view, true);
  assertEquals(peekServerFrame(subscribed), {
    type: "subscribed",
    epoch: 7,
    seq: 42,
    serverTimeMs: 0,
    catchUp: false,
    nonce: 0,
  });
  assertEquals(decodeServerFrame(encodeError(4003, "token expired")), {
    type: "error",
    code: 4003,
    message: "token expired",
  });
  const ping = encodePing(99, 1_234.5);
  assertEquals(decodeServerFrame(ping), { type: "ping", nonce: 99, serverTimeMs: 1_234.5 });
  assertEquals(peekServerFrame(ping).nonce, 99);
});

Deno.test("peek reads a Snapshot's and a Delta's header without decoding their columns", () => {
  const values = allocateStates(0);
  const snapshot = encodeSnapshot({
    epoch: 5,
    seq: 9,
    serverTimeMs: 100,
    sensors: [],
    metrics: [],
    values,
    catchUp: true,
  });
  assertEquals(peekServerFrame(snapshot), {
    type: "snapshot",
    epoch: 5,
    seq: 9,
    serverTimeMs: 100,
    catchUp: true,
    nonce: 0,
  });
  const delta = encodeDelta({
    epoch: 5,
    seq: 10,
    serverTimeMs: 200,
    sensors: [],
    metrics: [],
    updates: values,
    removed: [],
  });
  assertEquals(peekServerFrame(delta), {
    type: "delta",
    epoch: 5,
    seq: 10,
    serverTimeMs: 200,
    catchUp: false,
    nonce: 0,
  });
});
