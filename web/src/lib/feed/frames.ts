// Decodes server frames into plain events. Pure: no sockets, no DOM.
import * as flatbuffers from "flatbuffers";
import {
  Body,
  Delta,
  Envelope,
  Error as ErrorMessage,
  MetricUpdate,
  Ping,
  Snapshot,
  Subscribed,
} from "../../../../protocol/schema_generated.ts";
// The same encoders the server's tests use: one implementation of the wire format.
import {
  encodeAuth,
  encodePong,
  encodeSubscribe as encodeClientSubscribe,
} from "../../../../protocol/frames.ts";

/** Metric states by column, as they arrive. */
export interface Updates {
  length: number;
  sensor: Uint32Array;
  metric: Uint16Array;
  last: Float64Array;
  avg: Float64Array;
  min: Float64Array;
  max: Float64Array;
  timeMs: Float64Array;
}

export interface SensorInfo {
  index: number;
  id: string;
  group: string;
}

export interface MetricInfo {
  index: number;
  name: string;
}

/** A group's aggregate over its sensors' latest ended window of one size. */
export interface GroupAggregateEvent {
  /** Group prefix; "" for everything the stream carries. */
  group: string;
  /** Index into the snapshot's `windowSizesMs`. */
  size: number;
  metric: number;
  startMs: number;
  sensors: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export type FeedEvent =
  | {
    type: "snapshot";
    epoch: number;
    seq: number;
    serverTimeMs: number;
    sensors: SensorInfo[];
    metrics: MetricInfo[];
    updates: Updates;
    /** Sent because this client fell behind and skipped deltas. */
    catchUp: boolean;
    /** Event-time window sizes; aggregates' `size` indexes this. */
    windowSizesMs: number[];
    aggregates: GroupAggregateEvent[];
    /** Readings each metric's avg, min and max cover (its last ones, in arrival order); 0: unsaid. */
    countWindow: number;
  }
  | {
    type: "delta";
    epoch: number;
    seq: number;
    serverTimeMs: number;
    sensors: SensorInfo[];
    metrics: MetricInfo[];
    updates: Updates;
    removed: number[];
    aggregates: GroupAggregateEvent[];
  }
  | {
    type: "subscribed";
    topic: string;
    ids: number[];
    epoch: number;
    seq: number;
    recovered: boolean;
  }
  | { type: "ping"; nonce: number; serverTimeMs: number }
  | { type: "error"; code: number; message: string }
  | { type: "unknown"; bodyType: number };

const update = new MetricUpdate();

function readUpdates(
  count: number,
  at: (i: number, into: MetricUpdate) => MetricUpdate | null,
): Updates {
  const u: Updates = {
    length: count,
    sensor: new Uint32Array(count),
    metric: new Uint16Array(count),
    last: new Float64Array(count),
    avg: new Float64Array(count),
    min: new Float64Array(count),
    max: new Float64Array(count),
    timeMs: new Float64Array(count),
  };
  for (let i = 0; i < count; i++) {
    const m = at(i, update)!;
    u.sensor[i] = m.sensor();
    u.metric[i] = m.metric();
    u.last[i] = m.last();
    u.avg[i] = m.avg();
    u.min[i] = m.min();
    u.max[i] = m.max();
    u.timeMs[i] = m.timeMs();
  }
  return u;
}

function dictionaries(frame: Snapshot | Delta): { sensors: SensorInfo[]; metrics: MetricInfo[] } {
  const sensors: SensorInfo[] = [];
  for (let i = 0; i < frame.sensorsLength(); i++) {
    const s = frame.sensors(i)!;
    sensors.push({ index: s.index(), id: s.id() ?? "", group: s.group() ?? "" });
  }
  const metrics: MetricInfo[] = [];
  for (let i = 0; i < frame.metricsLength(); i++) {
    const m = frame.metrics(i)!;
    metrics.push({ index: m.index(), name: m.name() ?? "" });
  }
  return { sensors, metrics };
}

function aggregates(frame: Snapshot | Delta): GroupAggregateEvent[] {
  const out: GroupAggregateEvent[] = [];
  for (let i = 0; i < frame.aggregatesLength(); i++) {
    const a = frame.aggregates(i)!;
    out.push({
      group: a.group() ?? "",
      size: a.size(),
      metric: a.metric(),
      startMs: a.startMs(),
      sensors: a.sensors(),
      count: a.count(),
      sum: a.sum(),
      min: a.min(),
      max: a.max(),
    });
  }
  return out;
}

/** Decodes one binary frame from the server. */
export function decodeFrame(bytes: Uint8Array): FeedEvent {
  const envelope = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes));
  const type = envelope.bodyType();
  switch (type) {
    case Body.Snapshot: {
      const s = envelope.body(new Snapshot()) as Snapshot;
      return {
        type: "snapshot",
        epoch: s.epoch(),
        seq: Number(s.seq()),
        serverTimeMs: s.serverTimeMs(),
        ...dictionaries(s),
        updates: readUpdates(s.valuesLength(), (i, into) => s.values(i, into)),
        catchUp: s.catchUp(),
        windowSizesMs: Array.from(s.windowSizesMsArray() ?? []),
        aggregates: aggregates(s),
        countWindow: s.countWindow(),
      };
    }
    case Body.Subscribed: {
      const s = envelope.body(new Subscribed()) as Subscribed;
      return {
        type: "subscribed",
        topic: s.topic() ?? "",
        ids: Array.from(s.idsArray() ?? []),
        epoch: s.epoch(),
        seq: Number(s.seq()),
        recovered: s.recovered(),
      };
    }
    case Body.Delta: {
      const d = envelope.body(new Delta()) as Delta;
      const removed: number[] = [];
      for (let i = 0; i < d.removedLength(); i++) removed.push(d.removed(i)!);
      return {
        type: "delta",
        epoch: d.epoch(),
        seq: Number(d.seq()),
        serverTimeMs: d.serverTimeMs(),
        ...dictionaries(d),
        updates: readUpdates(d.updatesLength(), (i, into) => d.updates(i, into)),
        removed,
        aggregates: aggregates(d),
      };
    }
    case Body.Ping: {
      const p = envelope.body(new Ping()) as Ping;
      return { type: "ping", nonce: p.nonce(), serverTimeMs: p.serverTimeMs() };
    }
    case Body.Error: {
      const e = envelope.body(new ErrorMessage()) as ErrorMessage;
      return { type: "error", code: e.code(), message: e.message() ?? "" };
    }
    default:
      return { type: "unknown", bodyType: type };
  }
}

/** A subscription as the dashboard asks for it. */
export interface SubscriptionSpec {
  id: number;
  all?: boolean;
  group?: string;
  sensors?: string[];
}

/** Replaces the session's subscriptions, resuming from `resume` when given. */
export function encodeSubscribe(
  subscriptions: readonly SubscriptionSpec[],
  resume: { epoch: number; seq: number } | null,
): Uint8Array<ArrayBuffer> {
  return encodeClientSubscribe(subscriptions, resume, true);
}

export { encodeAuth, encodePong };
