import * as flatbuffers from "flatbuffers";
import {
  Body,
  Delta,
  Envelope,
  Error as ErrorMessage,
  MetricInfo,
  MetricUpdate,
  Ping,
  Pong,
  SensorInfo,
  Snapshot,
} from "./schema_generated.ts";

/** A sensor's dictionary entry: frames refer to it by `index`. */
export interface SensorEntry {
  index: number;
  id: string;
  group: string;
}

/** A metric name's dictionary entry. */
export interface MetricEntry {
  index: number;
  name: string;
}

/** Metric states by column; entry `i` of every column belongs together. */
export interface MetricStates {
  readonly length: number;
  readonly sensor: Uint32Array;
  readonly metric: Uint16Array;
  readonly last: Float64Array;
  readonly avg: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly timeMs: Float64Array;
}

export interface SnapshotFrame {
  epoch: number;
  /** The sequence number the next delta follows. */
  seq: number;
  serverTimeMs: number;
  sensors: readonly SensorEntry[];
  metrics: readonly MetricEntry[];
  values: MetricStates;
}

export interface DeltaFrame {
  epoch: number;
  seq: number;
  serverTimeMs: number;
  sensors: readonly SensorEntry[];
  metrics: readonly MetricEntry[];
  updates: MetricStates;
  removed: readonly number[];
}

// One builder, reused: frames are encoded one at a time and copied out.
const builder = new flatbuffers.Builder(1 << 20);

function finish(type: Body, body: flatbuffers.Offset): Uint8Array<ArrayBuffer> {
  builder.finish(Envelope.createEnvelope(builder, type, body), "PLSB");
  return builder.asUint8Array().slice() as Uint8Array<ArrayBuffer>;
}

function sensorVector(sensors: readonly SensorEntry[]): flatbuffers.Offset {
  const offsets = sensors.map((s) =>
    SensorInfo.createSensorInfo(
      builder,
      s.index,
      builder.createString(s.id),
      builder.createString(s.group),
    )
  );
  return Snapshot.createSensorsVector(builder, offsets);
}

function metricVector(metrics: readonly MetricEntry[]): flatbuffers.Offset {
  const offsets = metrics.map((m) =>
    MetricInfo.createMetricInfo(builder, m.index, builder.createString(m.name))
  );
  return Snapshot.createMetricsVector(builder, offsets);
}

function stateVector(states: MetricStates): flatbuffers.Offset {
  // Structs are written back to front.
  builder.startVector(48, states.length, 8);
  for (let i = states.length - 1; i >= 0; i--) {
    MetricUpdate.createMetricUpdate(
      builder,
      states.sensor[i],
      states.metric[i],
      states.last[i],
      states.avg[i],
      states.min[i],
      states.max[i],
      states.timeMs[i],
    );
  }
  return builder.endVector();
}

export function encodeSnapshot(frame: SnapshotFrame): Uint8Array<ArrayBuffer> {
  builder.clear();
  const sensors = sensorVector(frame.sensors);
  const metrics = metricVector(frame.metrics);
  const values = stateVector(frame.values);
  const body = Snapshot.createSnapshot(
    builder,
    frame.epoch,
    BigInt(frame.seq),
    frame.serverTimeMs,
    sensors,
    metrics,
    values,
  );
  return finish(Body.Snapshot, body);
}

export function encodeDelta(frame: DeltaFrame): Uint8Array<ArrayBuffer> {
  builder.clear();
  const sensors = sensorVector(frame.sensors);
  const metrics = metricVector(frame.metrics);
  const updates = stateVector(frame.updates);
  const removed = Delta.createRemovedVector(builder, frame.removed as number[]);
  const body = Delta.createDelta(
    builder,
    frame.epoch,
    BigInt(frame.seq),
    frame.serverTimeMs,
    sensors,
    metrics,
    updates,
    removed,
  );
  return finish(Body.Delta, body);
}

/** An error for the client; `code` is the close code that follows, or 0. */
export function encodeError(code: number, message: string): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Error, ErrorMessage.createError(builder, code, builder.createString(message)));
}

export function encodePing(nonce: number, serverTimeMs: number): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Ping, Ping.createPing(builder, nonce, serverTimeMs));
}

export function encodePong(nonce: number): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Pong, Pong.createPong(builder, nonce));
}
