// Frames the server sends (Snapshot, Delta, Subscribed, Error, Ping): encoded
// here by the hub, decoded here by every client (dashboard, tests, bench).
import * as flatbuffers from "flatbuffers";
import {
  Body,
  CompactDelta,
  Delta,
  Envelope,
  Error as ErrorMessage,
  MetricUpdate,
  Ping,
  Snapshot,
  Subscribed,
  ViewFrame,
} from "./schema_generated.ts";
import { allocateStates, allocateWindowStates } from "./columns.ts";
import { decodeCompactDelta } from "./compact_delta.ts";
import type { BaseValues } from "./compact_delta.ts";
import { inflateFrame } from "./compression.ts";
import { withHeadroom } from "./headroom.ts";
import { decodeViewFrame } from "./view_frames.ts";
import type { ViewEvent } from "./view_frames.ts";
import {
  readAggregates,
  readAttention,
  readLate,
  readMetrics,
  readRestarted,
  readSensors,
  readWindows,
  writeAggregates,
  writeAttention,
  writeLate,
  writeMetrics,
  writeSensors,
  writeUint32s,
  writeWindows,
} from "./frame_parts.ts";
import type { DeltaFrame, WindowParts } from "./frame_parts.ts";
import type {
  GroupAggregateEntry,
  MetricEntry,
  MetricStates,
  SensorEntry,
  WindowStates,
} from "./columns.ts";

export type { GroupAggregateEntry, MetricEntry, MetricStates, SensorEntry, WindowStates };
export type { ViewEvent };

export type { WindowParts };

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

export type { DeltaFrame };

// One builder, reused: frames are encoded one at a time and copied out.
const builder = new flatbuffers.Builder(64 * 1024); // grows on demand and keeps its size

function finish(type: Body, body: flatbuffers.Offset): Uint8Array<ArrayBuffer> {
  builder.finish(Envelope.createEnvelope(builder, type, body), "PLSB");
  return builder.asUint8Array().slice() as Uint8Array<ArrayBuffer>;
}

/**
 * `finish` for the frames sent to many sockets (a topic's Deltas and
 * Snapshots, the Ping): copied out with spare bytes in front, the one copy
 * it makes anyway, so the transport writes its header there instead of
 * copying each frame again behind one (an ArrayBuffer and a copy per frame).
 */
function finishShared(type: Body, body: flatbuffers.Offset): Uint8Array<ArrayBuffer> {
  builder.finish(Envelope.createEnvelope(builder, type, body), "PLSB");
  return withHeadroom(builder.asUint8Array());
}

function stateVector(states: MetricStates): flatbuffers.Offset {
  // `MetricUpdate` structs (48 B: sensor i32, metric i16, 2 B pad, then last,
  // avg, min, max and time_ms as f64, little-endian) written straight into the
  // builder's bytes: through `MetricUpdate.createMetricUpdate` (or the
  // builder's `writeFloat64`), V8 boxed each double passed to a call it did
  // not inline, about 2.5 MiB/s of garbage at 10,000 readings/s.
  // The room is taken by moving the builder's `space` down: its `pad` writes
  // the bytes one call at a time (7% of the main thread at 400,000
  // readings/s). Every byte is written below, the pad included.
  const n = states.length;
  builder.startVector(48, n, 8);
  const room = builder as unknown as { space: number };
  if (typeof room.space === "number") room.space -= 48 * n;
  else builder.pad(48 * n);
  const bytes = builder.dataBuffer().bytes();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = bytes.byteLength - builder.offset();
  for (let i = 0; i < n; i++, at += 48) {
    view.setInt32(at, states.sensor[i], true);
    view.setInt16(at + 4, states.metric[i], true);
    view.setInt16(at + 6, 0, true);
    view.setFloat64(at + 8, states.last[i], true);
    view.setFloat64(at + 16, states.avg[i], true);
    view.setFloat64(at + 24, states.min[i], true);
    view.setFloat64(at + 32, states.max[i], true);
    view.setFloat64(at + 40, states.timeMs[i], true);
  }
  return builder.endVector();
}

export function encodeSnapshot(frame: SnapshotFrame): Uint8Array<ArrayBuffer> {
  builder.clear();
  const sensors = writeSensors(builder, frame.sensors);
  const metrics = writeMetrics(builder, frame.metrics);
  const values = stateVector(frame.values);
  const sizes = frame.windowSizesMs
    ? Snapshot.createWindowSizesMsVector(builder, frame.windowSizesMs as number[])
    : 0;
  const windows = writeWindows(builder, frame.windows);
  const aggregates = writeAggregates(builder, frame.aggregates);
  const late = writeLate(builder, frame.late);
  const attention = writeAttention(builder, frame.attention);
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
  if (attention) Snapshot.addAttention(builder, attention);
  return finishShared(Body.Snapshot, Snapshot.endSnapshot(builder));
}

export function encodeDelta(frame: DeltaFrame): Uint8Array<ArrayBuffer> {
  builder.clear();
  const sensors = writeSensors(builder, frame.sensors);
  const metrics = writeMetrics(builder, frame.metrics);
  const updates = stateVector(frame.updates);
  const removed = writeUint32s(builder, frame.removed);
  const windows = writeWindows(builder, frame.windows);
  const aggregates = writeAggregates(builder, frame.aggregates);
  const late = writeLate(builder, frame.late);
  const attention = writeAttention(builder, frame.attention);
  const restarted = frame.restarted && frame.restarted.length > 0
    ? writeUint32s(builder, frame.restarted)
    : 0;
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
  if (frame.coalesced) {
    Delta.addCoalesced(builder, true);
    Delta.addSinceSeq(builder, BigInt(frame.sinceSeq ?? 0));
  }
  if (frame.intervalMs) Delta.addIntervalMs(builder, frame.intervalMs);
  if (attention) Delta.addAttention(builder, attention);
  if (restarted) Delta.addRestarted(builder, restarted);
  return finishShared(Body.Delta, Delta.endDelta(builder));
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
  /** Answers a ViewSubscribe (the window's stream), not a Subscribe. Default false. */
  view?: boolean;
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
      frame.view ?? false,
    ),
  );
}

export function encodePing(nonce: number, serverTimeMs: number): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finishShared(Body.Ping, Ping.createPing(builder, nonce, serverTimeMs));
}

// Decoding. Server frames come from the server the client chose to trust, so
// they are read without the verifier that guards the server's own inputs.

/** A decoded frame from the server; every optional part is present (empty when absent). */
export type ServerFrame =
  | SnapshotEvent
  | DeltaEvent
  | ViewEvent
  | SubscribedEvent
  | { type: "ping"; nonce: number; serverTimeMs: number }
  | { type: "error"; code: number; message: string }
  | { type: "unknown"; bodyType: number };

/** A decoded Subscribed: the topic a session is on, and where its stream stands. */
export interface SubscribedEvent {
  type: "subscribed";
  topic: string;
  ids: number[];
  epoch: number;
  seq: number;
  recovered: boolean;
  /** Answers a ViewSubscribe (always set by the decoder). */
  view?: boolean;
}

/** A decoded Snapshot: the state of a topic at `seq`. */
export interface SnapshotEvent {
  type: "snapshot";
  epoch: number;
  seq: number;
  serverTimeMs: number;
  sensors: SensorEntry[];
  metrics: MetricEntry[];
  values: MetricStates;
  /** Sent because this client fell behind and skipped deltas. */
  catchUp: boolean;
  /** Event-time window sizes; windows' and aggregates' `size` indexes this. */
  windowSizesMs: number[];
  /** Readings each value's avg, min and max cover (its last ones, in arrival order); 0: unsaid. */
  countWindow: number;
  windows: WindowStates;
  aggregates: GroupAggregateEntry[];
  late: [sensor: number, dropped: number][];
  /** `[sensor, attention code]`: every sensor's (snapshot), or those that changed (delta). */
  attention?: [sensor: number, code: number][];
}

/** A decoded Delta: what changed in one tick, following `seq - 1`. */
export interface DeltaEvent {
  type: "delta";
  epoch: number;
  seq: number;
  serverTimeMs: number;
  sensors: SensorEntry[];
  metrics: MetricEntry[];
  updates: MetricStates;
  removed: number[];
  /**
   * Sensors removed and re-added since the frame this one follows: drop
   * everything held of each (values, windows, late count, attention,
   * sparkline) before applying the rest of the frame, which lists each
   * again in `sensors`. Empty from servers older than the field (the
   * decoders always set it; absent only in events made by hand).
   */
  restarted?: number[];
  windows: WindowStates;
  aggregates: GroupAggregateEntry[];
  late: [sensor: number, dropped: number][];
  /** `[sensor, attention code]`: every sensor's (snapshot), or those that changed (delta). */
  attention?: [sensor: number, code: number][];
  /**
   * Sent to a session served less often than every tick: it follows the
   * frame with seq `sinceSeq` (not `seq - 1`) and carries absolute values.
   */
  coalesced?: boolean;
  sinceSeq?: number;
  /** The session's rate: ms between its frames (0: unsaid). */
  intervalMs?: number;
  /** Sent as a CompactDelta (decoded against the client's values). */
  compact?: boolean;
}

/** What `peekServerFrame` reads: the body type and the header fields, no columns. */
export interface ServerFrameHeader {
  type: ServerFrame["type"];
  /** Snapshot, Delta, Subscribed: the topic's epoch and seq; else 0. */
  epoch: number;
  seq: number;
  /** Snapshot, Delta, Ping: the server's clock when sent; else 0. */
  serverTimeMs: number;
  /** Snapshot: sent to catch up after skipped deltas. */
  catchUp: boolean;
  /** Ping: the nonce a Pong must echo; else 0. */
  nonce: number;
}

const BODY_TYPES: Partial<Record<Body, ServerFrame["type"]>> = {
  [Body.Snapshot]: "snapshot",
  [Body.Delta]: "delta",
  [Body.CompactDelta]: "delta",
  [Body.ViewFrame]: "view",
  [Body.Subscribed]: "subscribed",
  [Body.Ping]: "ping",
  [Body.Error]: "error",
};

// Reused readers: decoding allocates per frame, never per reading.
const snapshotReader = new Snapshot();
const deltaReader = new Delta();
const pingReader = new Ping();
const subscribedReader = new Subscribed();
const compactReader = new CompactDelta();
const viewReader = new ViewFrame();
const updateReader = new MetricUpdate();

function envelopeOf(bytes: Uint8Array): Envelope {
  return Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes));
}

/**
 * Reads a frame's type and header (epoch, seq, server time, catch-up, ping
 * nonce) without decoding its dictionaries or columns: for clients that only
 * count frames or answer pings (load generators).
 */
export function peekServerFrame(input: Uint8Array): ServerFrameHeader {
  const bytes = inflateFrame(input);
  const envelope = envelopeOf(bytes);
  const type = envelope.bodyType();
  const header: ServerFrameHeader = {
    type: BODY_TYPES[type] ?? "unknown",
    epoch: 0,
    seq: 0,
    serverTimeMs: 0,
    catchUp: false,
    nonce: 0,
  };
  if (type === Body.Snapshot) {
    const s = envelope.body(snapshotReader) as Snapshot;
    header.epoch = s.epoch();
    header.seq = Number(s.seq());
    header.serverTimeMs = s.serverTimeMs();
    header.catchUp = s.catchUp();
  } else if (type === Body.Delta) {
    const d = envelope.body(deltaReader) as Delta;
    header.epoch = d.epoch();
    header.seq = Number(d.seq());
    header.serverTimeMs = d.serverTimeMs();
  } else if (type === Body.CompactDelta || type === Body.ViewFrame) {
    const d = envelope.body(type === Body.ViewFrame ? viewReader : compactReader) as
      | CompactDelta
      | ViewFrame;
    header.epoch = d.epoch();
    header.seq = Number(d.seq());
    header.serverTimeMs = d.serverTimeMs();
  } else if (type === Body.Subscribed) {
    const s = envelope.body(subscribedReader) as Subscribed;
    header.epoch = s.epoch();
    header.seq = Number(s.seq());
  } else if (type === Body.Ping) {
    const p = envelope.body(pingReader) as Ping;
    header.nonce = p.nonce();
    header.serverTimeMs = p.serverTimeMs();
  }
  return header;
}

/** How a client decodes: what it holds, for frames coded against it. */
export interface ServerFrameOptions {
  /**
   * The values the client holds (its store): compact deltas and view frames
   * code changed values against them. Without it such a frame must be
   * absolute, or decoding throws a RangeError (the client then resubscribes).
   */
  base?: BaseValues;
  /** What view frames are coded against, when it is not `base` (a client's window store). */
  viewBase?: BaseValues;
}

/**
 * Decodes one binary frame from the server: a Compressed one is inflated
 * first, a CompactDelta comes back as the delta it stands for.
 */
export function decodeServerFrame(
  input: Uint8Array,
  options: ServerFrameOptions = {},
): ServerFrame {
  const bytes = inflateFrame(input);
  const envelope = envelopeOf(bytes);
  const type = envelope.bodyType();
  switch (type) {
    case Body.CompactDelta: {
      const d = decodeCompactDelta(bytes, { base: options.base });
      return {
        type: "delta",
        epoch: d.epoch,
        seq: d.seq,
        serverTimeMs: d.serverTimeMs,
        sensors: d.sensors as SensorEntry[],
        metrics: d.metrics as MetricEntry[],
        updates: d.updates,
        removed: d.removed as number[],
        restarted: (d.restarted ?? []) as number[],
        windows: d.windows ?? allocateWindowStates(0),
        aggregates: (d.aggregates ?? []) as GroupAggregateEntry[],
        late: (d.late ?? []) as [number, number][],
        attention: (d.attention ?? []) as [number, number][],
        coalesced: d.coalesced ?? false,
        sinceSeq: d.coalesced ? d.sinceSeq ?? 0 : d.seq - 1,
        intervalMs: d.intervalMs ?? 0,
        compact: true,
      };
    }
    case Body.ViewFrame:
      return decodeViewFrame(bytes, { base: options.viewBase ?? options.base });
    case Body.Snapshot: {
      const s = envelope.body(new Snapshot()) as Snapshot;
      return {
        type: "snapshot",
        epoch: s.epoch(),
        seq: Number(s.seq()),
        serverTimeMs: s.serverTimeMs(),
        sensors: readSensors(s),
        metrics: readMetrics(s),
        values: readStates(s.valuesLength(), (i) => s.values(i, updateReader)!),
        catchUp: s.catchUp(),
        windowSizesMs: Array.from(s.windowSizesMsArray() ?? []),
        countWindow: s.countWindow(),
        windows: readWindows(s),
        aggregates: readAggregates(s),
        late: readLate(s),
        attention: readAttention(s),
      };
    }
    case Body.Delta: {
      const d = envelope.body(new Delta()) as Delta;
      return {
        type: "delta",
        epoch: d.epoch(),
        seq: Number(d.seq()),
        serverTimeMs: d.serverTimeMs(),
        sensors: readSensors(d),
        metrics: readMetrics(d),
        updates: readStates(d.updatesLength(), (i) => d.updates(i, updateReader)!),
        removed: Array.from(d.removedArray() ?? []),
        restarted: readRestarted(d),
        windows: readWindows(d),
        aggregates: readAggregates(d),
        late: readLate(d),
        attention: readAttention(d),
        coalesced: d.coalesced(),
        sinceSeq: d.coalesced() ? Number(d.sinceSeq()) : Number(d.seq()) - 1,
        intervalMs: d.intervalMs(),
        compact: false,
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
        view: s.view(),
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

function readStates(count: number, at: (i: number) => MetricUpdate): MetricStates {
  const out = allocateStates(count);
  for (let i = 0; i < count; i++) {
    const m = at(i);
    out.sensor[i] = m.sensor();
    out.metric[i] = m.metric();
    out.last[i] = m.last();
    out.avg[i] = m.avg();
    out.min[i] = m.min();
    out.max[i] = m.max();
    out.timeMs[i] = m.timeMs();
  }
  return out;
}
