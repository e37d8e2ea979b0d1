// The compact delta's byte goal on the simulator's feed at the demo load,
// through the real ingest decoder, Router, shards and FeedView (simulated
// time, so the bytes are the same on every machine).
import { assert, assertEquals } from "./testing/assert.ts";
import { SimFeed } from "../bench/sim_feed.ts";
import { encodeDelta, encodeSnapshot } from "../protocol/server_frames.ts";
import type { DeltaFrame } from "../protocol/server_frames.ts";
import { encodeCompactDelta } from "../protocol/compact_delta.ts";
import { decodeServerFrame as decodeFrame } from "../protocol/server_frames.ts";
import { SensorStore } from "../web/src/lib/feed/sensor_store.ts";

Deno.test("at the demo load a full-fleet client gets at most 12 B per sensor update and 150 KB/s, and holds what full frames give", () => {
  const feed = new SimFeed({ sensors: 5000, rate: 10_000 });
  // One count window (50 readings at 2 per second per sensor) fills the averages, mins and maxes.
  for (let t = 0; t < 250; t++) feed.tick();
  const snapshot = decodeFrame(
    encodeSnapshot({ epoch: 1, seq: 0, serverTimeMs: feed.now, ...feed.view.snapshot() }),
  );
  const full = new SensorStore();
  const compact = new SensorStore();
  full.apply(snapshot, 0);
  compact.apply(snapshot, 0);

  const seconds = 3;
  let bytes = 0, fullBytes = 0, sensorUpdates = 0;
  for (let seq = 1; seq <= seconds * 10; seq++) {
    const { merged } = feed.tick();
    assert(merged, "every tick has readings");
    const frame: DeltaFrame = {
      epoch: 1,
      seq,
      serverTimeMs: feed.now,
      sensors: merged.sensors,
      metrics: merged.metrics,
      updates: merged.updates,
      removed: merged.removed,
      late: merged.late,
    };
    const fullFrame = encodeDelta(frame);
    fullBytes += fullFrame.byteLength;
    full.apply(decodeFrame(fullFrame), 0);
    const sent = encodeCompactDelta(frame, { previous: feed.previous, avgDigits: 2 });
    bytes += sent.byteLength;
    compact.apply(decodeFrame(sent, { base: compact }), 0);
    sensorUpdates += new Set(merged.updates.sensor).size;
  }
  // 10,000 readings/s of 3 metrics: 144 B each in full frames.
  assertEquals(sensorUpdates, 10_000 * seconds);
  assert(fullBytes / sensorUpdates > 144, `full frames: ${fullBytes / sensorUpdates} B`);
  assert(bytes / sensorUpdates <= 12, `${(bytes / sensorUpdates).toFixed(2)} B per sensor update`);
  assert(bytes / seconds <= 150_000, `${(bytes / seconds / 1000).toFixed(1)} KB/s`);

  for (let m = 0; m < 3; m++) {
    const a = full.metrics[m]!, b = compact.metrics[m]!;
    for (let s = 0; s < 5000; s++) {
      assertEquals(b.has[s], a.has[s]);
      for (const field of ["last", "min", "max", "timeMs"] as const) {
        assert(Object.is(b[field][s], a[field][s]), `${field} of sensor ${s} metric ${m}`);
      }
      assert(Math.abs(b.avg[s] - a.avg[s]) <= 0.005 + 1e-9, `avg of sensor ${s} metric ${m}`);
    }
  }
});
