import * as flatbuffers from "flatbuffers";
import {
  Auth,
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
  Subscribe,
  Subscribed,
  Subscription,
  Unsubscribe,
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
  /** Sent to a client that fell behind and skipped deltas. */
  catchUp?: boolean;
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
const builder = new flatbuffers.Builder(64 * 1024); // grows on demand and keeps its size

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
    frame.catchUp ?? false,
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

export interface SubscribedFrame {
  topic: string;
  ids: readonly number[];
  epoch: number;
  seq: number;
  recovered: boolean;
}

export function encodeSubscribed(frame: SubscribedFrame): Uint8Array<ArrayBuffer> {
  builder.clear();
  const topic = builder.createString(frame.topic);
  const ids = Subscribed.createIdsVector(builder, frame.ids as number[]);
  return finish(
    Body.Subscribed,
    Subscribed.createSubscribed(
      builder,
      topic,
      ids,
      frame.epoch,
      BigInt(frame.seq),
      frame.recovered,
    ),
  );
}

export function encodePing(nonce: number, serverTimeMs: number): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Ping, Ping.createPing(builder, nonce, serverTimeMs));
}

/** Encodes a Subscribe (what clients send; used by tests and tools). */
export function encodeSubscribe(
  subscriptions: readonly {
    id: number;
    all?: boolean;
    group?: string;
    sensors?: readonly string[];
  }[],
  resume: { epoch: number; seq: number } | null = null,
  replace = false,
): Uint8Array<ArrayBuffer> {
  builder.clear();
  const offsets = subscriptions.map((s) => {
    const group = s.group === undefined ? 0 : builder.createString(s.group);
    const sensors = s.sensors === undefined
      ? 0
      : Subscription.createSensorsVector(builder, s.sensors.map((id) => builder.createString(id)));
    Subscription.startSubscription(builder);
    Subscription.addId(builder, s.id);
    Subscription.addAll(builder, s.all ?? false);
    if (group) Subscription.addGroup(builder, group);
    if (sensors) Subscription.addSensors(builder, sensors);
    return Subscription.endSubscription(builder);
  });
  const list = Subscribe.createSubscriptionsVector(builder, offsets);
  const body = Subscribe.createSubscribe(
    builder,
    list,
    resume !== null,
    resume?.epoch ?? 0,
    BigInt(resume?.seq ?? 0),
    replace,
  );
  return finish(Body.Subscribe, body);
}

export function encodeAuth(token: string): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Auth, Auth.createAuth(builder, builder.createString(token)));
}

export function encodeUnsubscribe(ids: readonly number[]): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(
    Body.Unsubscribe,
    Unsubscribe.createUnsubscribe(builder, Unsubscribe.createIdsVector(builder, ids as number[])),
  );
}

export function encodePong(nonce: number): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Pong, Pong.createPong(builder, nonce));
}
