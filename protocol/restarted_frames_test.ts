import fc from "fast-check";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { flatcJson } from "../tests/testing/flatc_json.ts";
import { encodeDelta } from "./server_frames.ts";
import { decodeServerFrame } from "./server_frames.ts";
import type { DeltaFrame } from "./frame_parts.ts";
import { encodeCompactDelta } from "./compact_delta.ts";
import { decodeViewFrame, encodeViewFrame } from "./view_frames.ts";
import type { ViewFrameInput } from "./view_frames.ts";
import { allocateStates } from "./columns.ts";
import type { MetricStates, SensorEntry } from "./columns.ts";

const entry = (index: number): SensorEntry => ({ index, id: `s${index}`, group: "g" });

/** One fresh update per sensor of metric 0, value = its index. */
function updatesOf(sensors: readonly number[]): MetricStates {
  const u = allocateStates(sensors.length);
  [...sensors].sort((a, b) => a - b).forEach((s, i) => {
    u.sensor[i] = s;
    u.metric[i] = 0;
    u.last[i] =
      u.avg[i] =
      u.min[i] =
      u.max[i] =
        s;
    u.timeMs[i] = 1_767_225_600_000 + s;
  });
  return u;
}

function delta(o: { sensors: number[]; removed?: number[]; restarted?: number[] }): DeltaFrame {
  return {
    epoch: 7,
    seq: 3,
    serverTimeMs: 1_767_225_600_000,
    sensors: o.sensors.map(entry),
    metrics: [{ index: 0, name: "t" }],
    updates: updatesOf(o.sensors),
    removed: o.removed ?? [],
    ...(o.restarted ? { restarted: o.restarted } : {}),
  };
}

const encodings = {
  full: (f: DeltaFrame) => encodeDelta(f),
  compact: (f: DeltaFrame) => encodeCompactDelta(f),
};

/** schema.fbs as it was before `restarted`: what a reader built before the field knows. */
async function schemaBefore(): Promise<string> {
  const now = await Deno.readTextFile(new URL("../schema.fbs", import.meta.url));
  const without = now.split("\n").filter((line) => line.trim() !== "restarted: [uint32];");
  assertEquals(now.split("\n").length - without.length, 3, "Delta, CompactDelta and ViewFrame");
  return without.join("\n");
}

Deno.test("a delta's restarted sensors come back from the full and compact decoders as sent, and as none when the field is absent", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(100_000), { minLength: 1, maxLength: 20 }),
      fc.nat(20),
      (sensors, cut) => {
        const restarted = sensors.slice(0, Math.min(cut, sensors.length));
        for (const [name, encode] of Object.entries(encodings)) {
          const frame = decodeServerFrame(encode(delta({ sensors, restarted })));
          assert(frame.type === "delta");
          assertEquals(frame.restarted, restarted, name);
          const plain = decodeServerFrame(encode(delta({ sensors })));
          assert(plain.type === "delta");
          assertEquals(plain.restarted, [], name);
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("a delta naming a restarted sensor with no dictionary entry, or also removed, is refused by both decoders", () => {
  for (const [name, encode] of Object.entries(encodings)) {
    let message = "";
    try {
      decodeServerFrame(encode(delta({ sensors: [1, 2], restarted: [5] })));
    } catch (e) {
      assert(e instanceof TypeError, name);
      message = e.message;
    }
    assert(message.includes("restarted sensor 5"), `${name}: ${message}`);
    message = "";
    try {
      decodeServerFrame(encode(delta({ sensors: [1, 2], restarted: [2], removed: [2] })));
    } catch (e) {
      assert(e instanceof TypeError, name);
      message = e.message;
    }
    assert(message.includes("restarted and removed"), `${name}: ${message}`);
  }
});

function viewFrame(o: { entered: number[]; restarted?: number[] }): ViewFrameInput {
  return {
    epoch: 1,
    seq: 2,
    serverTimeMs: 1_767_225_600_000,
    onStream: true,
    kind: "tick",
    total: 10,
    matching: 10,
    offset: 0,
    rows: Uint32Array.from(o.entered),
    entered: o.entered.map(entry),
    metrics: [{ index: 0, name: "t" }],
    updates: updatesOf(o.entered),
    statuses: [],
    sparkBucketMs: 1000,
    sparks: [],
    intervalMs: 100,
    ...(o.restarted ? { restarted: o.restarted } : {}),
  };
}

Deno.test("a view frame's restarted rows come back as sent; one that is not sent whole (not entering) is refused", () => {
  const frame = decodeViewFrame(encodeViewFrame(viewFrame({ entered: [4, 9], restarted: [9] })));
  assertEquals(frame.restarted, [9]);
  assertEquals(decodeViewFrame(encodeViewFrame(viewFrame({ entered: [4] }))).restarted, []);
  let message = "";
  try {
    decodeViewFrame(encodeViewFrame(viewFrame({ entered: [4], restarted: [6] })));
  } catch (e) {
    assert(e instanceof TypeError);
    message = e.message;
  }
  assert(message.includes("restarted sensor 6"), message);
});

Deno.test("frames with restarted sensors read, with the schema from before the field, exactly as they read now without it", async () => {
  const old = await schemaBefore();
  const frames = [
    encodeDelta(delta({ sensors: [1, 2, 3], restarted: [2] })),
    encodeCompactDelta(delta({ sensors: [1, 2, 3], restarted: [2, 3] })),
    encodeViewFrame(viewFrame({ entered: [4, 9], restarted: [9] })),
  ];
  for (const bytes of frames) {
    const now = await flatcJson(bytes) as { body: Record<string, unknown> };
    const before = await flatcJson(bytes, old) as { body: Record<string, unknown> };
    assert(Array.isArray(now.body.restarted), "the current schema reads the field");
    delete now.body.restarted;
    assertEquals(before, now);
  }
});
