import * as flatbuffers from "flatbuffers";
import {
  Auth,
  Body,
  Delta,
  Envelope,
  Error as ErrorMessage,
  GroupAggregate,
  LateCount,
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
  WindowUpdate,
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

/** Published windows, by column; entry `i` of every column belongs together. */
export interface WindowStates {
  readonly length: number;
  readonly sensor: Uint32Array;
  readonly metric: Uint16Array;
  /** Index into `WindowSpec.sizesMs`. */
  readonly size: Uint8Array;
  readonly flags: Uint8Array;
  readonly startMs: Float64Array;
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  /** Population standard deviation. */
  readonly std: Float64Array;
}

/** A group's aggregate over its sensors' latest ended window of one size. */
export interface GroupAggregateEntry {
  /** Group prefix; "" for everything the topic may see. */
  group: string;
  size: number;
  metric: number;
  startMs: number;
  sensors: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Event-time extras of a frame; all optional. */
export interface WindowParts {
  windows?: WindowStates;
  aggregates?: readonly GroupAggregateEntry[];
  /** `[sensor, readings dropped as late so far]`. */
  late?: readonly (readonly [number, number])[];
}

export interface SnapshotFrame extends WindowParts {
  epoch: number;
  /** The sequence number the next delta follows. */
  seq: number;
  serverTimeMs: number;
  sensors: readonly SensorEntry[];
  metrics: readonly MetricEntry[];
  values: MetricStates;
  /** Sent to a client that fell behind and skipped deltas. */
  catchUp?: boolean;
  windowSizesMs?: readonly number[];
  /** Readings each value's avg, min and max cover (the count window); 0 or absent: unsaid. */
  countWindow?: number;
}

export interface DeltaFrame extends WindowParts {
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

function windowVector(windows: WindowStates | undefined): flatbuffers.Offset {
  if (!windows || windows.length === 0) return 0;
  builder.startVector(56, windows.length, 8);
  for (let i = windows.length - 1; i >= 0; i--) {
    WindowUpdate.createWindowUpdate(
      builder,
      windows.startMs[i],
      windows.sum[i],
      windows.min[i],
      windows.max[i],
      windows.std[i],
      windows.count[i],
      windows.sensor[i],
      windows.metric[i],
      windows.size[i],
      windows.flags[i],
    );
  }
  return builder.endVector();
}

function aggregateVector(aggregates: WindowParts["aggregates"]): flatbuffers.Offset {
  if (!aggregates || aggregates.length === 0) return 0;
  const offsets = aggregates.map((a) =>
    GroupAggregate.createGroupAggregate(
      builder,
      builder.createString(a.group),
      a.size,
      a.metric,
      a.startMs,
      a.sensors,
      a.count,
      a.sum,
      a.min,
      a.max,
    )
  );
  return Delta.createAggregatesVector(builder, offsets);
}

function lateVector(late: WindowParts["late"]): flatbuffers.Offset {
  if (!late || late.length === 0) return 0;
  builder.startVector(8, late.length, 4);
  for (let i = late.length - 1; i >= 0; i--) {
    LateCount.createLateCount(builder, late[i][0], Math.min(late[i][1], 0xffff_ffff));
  }
  return builder.endVector();
}

export function encodeSnapshot(frame: SnapshotFrame): Uint8Array<ArrayBuffer> {
  builder.clear();
  const sensors = sensorVector(frame.sensors);
  const metrics = metricVector(frame.metrics);
  const values = stateVector(frame.values);
  const sizes = frame.windowSizesMs
    ? Snapshot.createWindowSizesMsVector(builder, frame.windowSizesMs as number[])
    : 0;
  const windows = windowVector(frame.windows);
  const aggregates = aggregateVector(frame.aggregates);
  const late = lateVector(frame.late);
  Snapshot.startSnapshot(builder);
  Snapshot.addEpoch(builder, frame.epoch);
  Snapshot.addSeq(builder, BigInt(frame.seq));
  Snapshot.addServerTimeMs(builder, frame.serverTimeMs);
  Snapshot.addSensors(builder, sensors);
  Snapshot.addMetrics(builder, metrics);
  Snapshot.addValues(builder, values);
  Snapshot.addCatchUp(builder, frame.catchUp ?? false);
  if (sizes) Snapshot.addWindowSizesMs(builder, sizes);
  if (windows) Snapshot.addWindows(builder, windows);
  if (aggregates) Snapshot.addAggregates(builder, aggregates);
  if (late) Snapshot.addLate(builder, late);
  if (frame.countWindow) Snapshot.addCountWindow(builder, frame.countWindow);
  return finish(Body.Snapshot, Snapshot.endSnapshot(builder));
}

export function encodeDelta(frame: DeltaFrame): Uint8Array<ArrayBuffer> {
  builder.clear();
  const sensors = sensorVector(frame.sensors);
  const metrics = metricVector(frame.metrics);
  const updates = stateVector(frame.updates);
  const removed = Delta.createRemovedVector(builder, frame.removed as number[]);
  const windows = windowVector(frame.windows);
  const aggregates = aggregateVector(frame.aggregates);
  const late = lateVector(frame.late);
  Delta.startDelta(builder);
  Delta.addEpoch(builder, frame.epoch);
  Delta.addSeq(builder, BigInt(frame.seq));
  Delta.addServerTimeMs(builder, frame.serverTimeMs);
  Delta.addSensors(builder, sensors);
  Delta.addMetrics(builder, metrics);
  Delta.addUpdates(builder, updates);
  Delta.addRemoved(builder, removed);
  if (windows) Delta.addWindows(builder, windows);
  if (aggregates) Delta.addAggregates(builder, aggregates);
  if (late) Delta.addLate(builder, late);
  return finish(Body.Delta, Delta.endDelta(builder));
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
  windows = false,
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
    windows,
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
