// The frames of a viewport window (schema.fbs: ViewFrame): which rows of the
// client's view it shows, the counts for its scrollbar, and the values of
// those rows as changes to what the client holds — entering rows whole (with
// their last minute of sparkline points), staying rows as a compact delta.
// Encoded once per group of windows that share it, by the hub; decoded here
// by every client. Pure.
import * as flatbuffers from "flatbuffers";
import { Body, CompactDelta, Envelope, SparkColumn, ViewFrame } from "./schema_generated.ts";
import type { MetricEntry, MetricStates, SensorEntry } from "./columns.ts";
import { allocateStates } from "./columns.ts";
import {
  compactBuilder,
  readCompactDelta,
  verifyColumn,
  verifyCompactDelta,
  writeCompactDelta,
} from "./compact_delta.ts";
import type { BaseValues, PreviousValues } from "./compact_delta.ts";
import {
  readMetrics,
  readSensors,
  writeMetrics,
  writeSensors,
  writeUint32s,
} from "./frame_parts.ts";
import { readSparkColumn, writeSparkColumn } from "./spark_columns.ts";
import type { SparkRows, SparkRowsEvent } from "./spark_columns.ts";
import { FlatBufferVerifier } from "./verifier.ts";

/**
 * What a view frame is: a tick's changes; the answer to a ViewSubscribe
 * (new rows enter, the rest stay); or the whole window (after skipped
 * frames: forget every row not in it).
 */
export type ViewFrameKind = "tick" | "join" | "whole";

const KINDS: readonly ViewFrameKind[] = ["tick", "join", "whole"];

/** A view frame, as the hub encodes it. */
export interface ViewFrameInput {
  epoch: number;
  seq: number;
  serverTimeMs: number;
  /** After it, the window equals its stream's state at (epoch, seq). */
  onStream: boolean;
  kind: ViewFrameKind;
  total: number;
  matching: number;
  offset: number;
  /** The rows (sensor indexes) when they changed, else null. */
  rows: Uint32Array | null;
  /** Dictionary entries of the entering sensors (and of staying ones regrouped). */
  entered: readonly SensorEntry[];
  metrics: readonly MetricEntry[];
  /** Values of the entering rows (fresh) and of staying rows that changed. */
  updates: MetricStates;
  /**
   * What the client holds for each update (aligned); `has` 0 for entering
   * rows. Absent: every update is fresh (the frame is absolute).
   */
  previous?: PreviousValues;
  /** Decimal digits of averages (see CompactEncodeOptions.avgDigits). */
  avgDigits?: number | ((metric: number) => number | undefined);
  /** `[sensor, status]` of entering rows and of staying rows whose status changed. */
  statuses: readonly (readonly [number, string])[];
  /** `[sensor, attention code]` of entering rows and of staying rows whose state changed. */
  attention?: readonly (readonly [number, number])[];
  sparkBucketMs: number;
  /** Per metric, the points of the `entered` rows, aligned with them. */
  sparks: readonly SparkRows[];
  /** The receiving sessions' rate: ms between frames. */
  intervalMs: number;
  /** Readings each value's avg, min and max cover (the server's `--window`); 0: unsaid. */
  countWindow?: number;
}

/** A decoded view frame. */
export interface ViewEvent {
  type: "view";
  epoch: number;
  seq: number;
  serverTimeMs: number;
  onStream: boolean;
  kind: ViewFrameKind;
  total: number;
  matching: number;
  offset: number;
  rows: Uint32Array | null;
  entered: SensorEntry[];
  metrics: MetricEntry[];
  /** The values: entering rows' and staying rows' that changed. */
  updates: MetricStates;
  statuses: [number, string][];
  /** `[sensor, attention code]` (see protocol/attention.ts). */
  attention: [number, number][];
  sparkBucketMs: number;
  /** Per metric, aligned with `entered`. */
  sparks: SparkRowsEvent[];
  intervalMs: number;
  /** Readings each value's avg, min and max cover; 0: unsaid. */
  countWindow: number;
}

const NO_UPDATES = allocateStates(0);

/** `(sensor, metric)` → last value of the frame's updates: the first spark point's predictor. */
function lastValues(updates: MetricStates): Map<number, number> {
  const lasts = new Map<number, number>();
  for (let i = 0; i < updates.length; i++) {
    lasts.set(updates.sensor[i] * 65_536 + updates.metric[i], updates.last[i]);
  }
  return lasts;
}

function frameBucket(serverTimeMs: number, bucketMs: number): number {
  return bucketMs > 0 ? Math.floor(serverTimeMs / bucketMs) : 0;
}

/** Encodes a ViewFrame Envelope. */
export function encodeViewFrame(frame: ViewFrameInput): Uint8Array<ArrayBuffer> {
  const b = compactBuilder;
  b.clear();
  const values = frame.updates.length > 0
    ? writeCompactDelta({
      epoch: 0,
      seq: 0,
      serverTimeMs: 0,
      sensors: [],
      metrics: [],
      updates: frame.updates,
      removed: [],
    }, { previous: frame.previous, avgDigits: frame.avgDigits })
    : 0;
  let sparks = 0;
  if (frame.sparks.length > 0) {
    const lasts = lastValues(frame.updates);
    const bucket = frameBucket(frame.serverTimeMs, frame.sparkBucketMs);
    const offsets = frame.sparks.map((rows) => {
      if (rows.counts.length !== frame.entered.length) {
        throw new RangeError(
          `Cannot encode a view frame: metric ${rows.metric} has points for ${rows.counts.length} rows, not ${frame.entered.length}`,
        );
      }
      return writeSparkColumn(b, rows, {
        frameBucket: bucket,
        lastOf: (row) => lasts.get(frame.entered[row].index * 65_536 + rows.metric) ?? NaN,
      });
    });
    sparks = ViewFrame.createSparksVector(b, offsets);
  }
  const rows = frame.rows ? ViewFrame.createRowsVector(b, frame.rows) : 0;
  const entered = frame.entered.length > 0 ? writeSensors(b, frame.entered) : 0;
  const metrics = frame.metrics.length > 0 ? writeMetrics(b, frame.metrics) : 0;
  let statusSensor = 0, status = 0;
  if (frame.statuses.length > 0) {
    statusSensor = writeUint32s(b, frame.statuses.map(([sensor]) => sensor));
    status = ViewFrame.createStatusVector(
      b,
      frame.statuses.map(([, text]) => b.createString(text)),
    );
  }
  let attentionSensor = 0, attention = 0;
  if (frame.attention && frame.attention.length > 0) {
    attentionSensor = writeUint32s(b, frame.attention.map(([sensor]) => sensor));
    attention = ViewFrame.createAttentionVector(b, frame.attention.map(([, code]) => code));
  }
  ViewFrame.startViewFrame(b);
  ViewFrame.addEpoch(b, frame.epoch);
  ViewFrame.addSeq(b, BigInt(frame.seq));
  ViewFrame.addServerTimeMs(b, frame.serverTimeMs);
  if (frame.onStream) ViewFrame.addOnStream(b, true);
  if (frame.kind !== "tick") ViewFrame.addKind(b, KINDS.indexOf(frame.kind));
  ViewFrame.addTotal(b, frame.total);
  ViewFrame.addMatching(b, frame.matching);
  if (frame.offset) ViewFrame.addOffset(b, frame.offset);
  if (rows) ViewFrame.addRows(b, rows);
  if (entered) ViewFrame.addEntered(b, entered);
  if (metrics) ViewFrame.addMetrics(b, metrics);
  if (values) ViewFrame.addValues(b, values);
  if (statusSensor) {
    ViewFrame.addStatusSensor(b, statusSensor);
    ViewFrame.addStatus(b, status);
  }
  if (sparks) {
    ViewFrame.addSparkBucketMs(b, frame.sparkBucketMs);
    ViewFrame.addSparks(b, sparks);
  }
  if (attentionSensor) {
    ViewFrame.addAttentionSensor(b, attentionSensor);
    ViewFrame.addAttention(b, attention);
  }
  ViewFrame.addIntervalMs(b, frame.intervalMs);
  if (frame.countWindow) ViewFrame.addCountWindow(b, frame.countWindow);
  const body = ViewFrame.endViewFrame(b);
  b.finish(Envelope.createEnvelope(b, Body.ViewFrame, body), "PLSB");
  return b.asUint8Array().slice() as Uint8Array<ArrayBuffer>;
}

function invalid(message: string): never {
  throw new TypeError(`Invalid view frame: ${message}`);
}

function verifyViewFrame(v: FlatBufferVerifier, bytes: Uint8Array, pos: number): void {
  // Scalars: epoch, seq, time, on_stream, kind, total, matching, offset, spark ms, interval, count window.
  const sizes = [[0, 4], [1, 8], [2, 8], [3, 1], [4, 1], [5, 4], [6, 4], [7, 4], [14, 4], [16, 4], [
    17,
    4,
  ]];
  for (const [id, size] of sizes) v.field(pos, id, size);
  v.vector(pos, 8, 4);
  v.tableVector(pos, 9, (s) => {
    v.field(s, 0, 4);
    v.string(s, 1);
    v.string(s, 2);
  });
  v.tableVector(pos, 10, (m) => {
    v.field(m, 0, 2);
    v.string(m, 1);
  });
  v.subTable(pos, 11, (d) => verifyCompactDelta(v, bytes, d));
  v.vector(pos, 12, 4);
  v.stringVector(pos, 13);
  v.tableVector(pos, 15, (c) => {
    v.field(c, 0, 2);
    v.field(c, 5, 1);
    for (const typeId of [1, 3, 6]) verifyColumn(v, bytes, c, typeId);
  });
}

/**
 * Verifies and decodes a ViewFrame Envelope. Staying rows' values are coded
 * against what the client holds: `base` (its store) must have them, or a
 * RangeError says which is missing (the client should then subscribe again).
 */
export function decodeViewFrame(input: Uint8Array, options: { base?: BaseValues } = {}): ViewEvent {
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const v = new FlatBufferVerifier(bytes, { maxDepth: 8 });
  const root = v.root();
  const typeAt = v.field(root, 0, 1);
  const type = typeAt === 0 ? Body.NONE : bytes[typeAt];
  if (type !== Body.ViewFrame) invalid(`the body is ${Body[type] ?? `type ${type}`}`);
  if (v.subTable(root, 1, (pos) => verifyViewFrame(v, bytes, pos)) === 0) {
    invalid("the envelope has no body");
  }
  const f = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes))
    .body(new ViewFrame()) as ViewFrame;
  const kind = KINDS[f.kind()];
  if (kind === undefined) invalid(`unknown kind ${f.kind()}`);
  const entered = readSensors({
    sensorsLength: () => f.enteredLength(),
    sensors: (i, obj) => f.entered(i, obj),
    metricsLength: () => 0,
    metrics: () => null,
  });
  const values = f.values(new CompactDelta());
  const updates = values ? readCompactDelta(values, { base: options.base }).updates : NO_UPDATES;
  const statuses: [number, string][] = [];
  const statusSensors = f.statusSensorArray();
  if ((statusSensors?.length ?? 0) !== f.statusLength()) {
    invalid(`${statusSensors?.length ?? 0} status sensors for ${f.statusLength()} statuses`);
  }
  for (let i = 0; i < f.statusLength(); i++) statuses.push([statusSensors![i], f.status(i)]);
  const attention: [number, number][] = [];
  const attentionSensors = f.attentionSensorArray();
  const codes = f.attentionArray();
  if ((attentionSensors?.length ?? 0) !== (codes?.length ?? 0)) {
    invalid(`${attentionSensors?.length ?? 0} attention sensors for ${codes?.length ?? 0} codes`);
  }
  for (let i = 0; i < (codes?.length ?? 0); i++) attention.push([attentionSensors![i], codes![i]]);
  const sparks: SparkRowsEvent[] = [];
  if (f.sparksLength() > 0) {
    const lasts = lastValues(updates);
    const bucket = frameBucket(f.serverTimeMs(), f.sparkBucketMs());
    const column = new SparkColumn();
    for (let i = 0; i < f.sparksLength(); i++) {
      f.sparks(i, column);
      const metric = column.metric();
      sparks.push(readSparkColumn(column, {
        rows: entered.length,
        frameBucket: bucket,
        lastOf: (row) => lasts.get(entered[row].index * 65_536 + metric) ?? NaN,
      }));
    }
  }
  const rows = f.rowsArray();
  return {
    type: "view",
    epoch: f.epoch(),
    seq: Number(f.seq()),
    serverTimeMs: f.serverTimeMs(),
    onStream: f.onStream(),
    kind,
    total: f.total(),
    matching: f.matching(),
    offset: f.offset(),
    rows: rows ? rows.slice() : null,
    entered,
    metrics: readMetrics({
      sensorsLength: () => 0,
      sensors: () => null,
      metricsLength: () => f.metricsLength(),
      metrics: (i, obj) => f.metrics(i, obj),
    }),
    updates,
    statuses,
    attention,
    sparkBucketMs: f.sparkBucketMs(),
    sparks,
    intervalMs: f.intervalMs(),
    countWindow: f.countWindow(),
  };
}
