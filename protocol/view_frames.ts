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
  writeString,
  writeUint32s,
} from "./frame_parts.ts";
import { readSparkColumn, writeSparkColumn } from "./spark_columns.ts";
import type { SparkRows, SparkRowsEvent } from "./spark_columns.ts";
import { FlatBufferVerifier } from "./verifier.ts";
import { withHeadroom } from "./headroom.ts";

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
  /** Sensors of the view's topic by attention code (index: code); absent: as before. */
  attentionCounts?: ArrayLike<number> | null;
  /** `[sensor, newest event time]` of rows whose time moved only in metrics the client hides. */
  seen?: readonly (readonly [number, number])[];
  /**
   * Rows whose sensor was removed and re-added since the client's frame:
   * the client drops what it holds of them; each is also in `entered`, sent
   * whole. Absent: none.
   */
  restarted?: readonly number[];
}

/** Most entries `attention_counts` may have (one per status code). */
const MAX_ATTENTION_COUNTS = 256;

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
  /** Sensors of the view's topic by attention code (index: code); null: as before. */
  attentionCounts: number[] | null;
  /** `[sensor, newest event time]` of rows whose time moved only in metrics the client hides. */
  seen: [number, number][];
  /**
   * Rows whose sensor started over (removed and re-added): drop what is held
   * of each before applying the frame, which sends each whole in `entered`.
   */
  restarted: number[];
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

/** Offsets of a vector of tables or strings while it is written, kept from frame to frame. */
const columnOffsets: number[] = [];

/** A vector of offsets `offsets[0..n)` (what the generated create*Vector write). */
function offsetVector(b: flatbuffers.Builder, offsets: readonly number[], n: number): number {
  b.startVector(4, n, 4);
  for (let i = n - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

/**
 * Scratch of `sparkPredictors`, kept from frame to frame: per sensor, the
 * frame (stamp) that last numbered it and its number; per metric, its
 * spark column + 1 in the frame being written (0: none).
 */
let sensorStamp = new Uint32Array(0);
let sensorNumber = new Int32Array(0);
let stamp = 0;
const sparkColumn = new Int32Array(65_536);
let predictors = new Float64Array(0);
/** Past this sensor index the scratch would be too large: a `Map` instead. */
const SCRATCH_SENSORS = 1 << 22;

/**
 * `(row, spark column k)` → the last value the frame's updates carry for the
 * row's sensor and column k's metric (NaN: none): the first point's
 * predictor. What `lastValues` gives, without a `Map` entry per update
 * (a tick's ~100 frames made them a good part of its garbage).
 */
function sparkPredictors(frame: ViewFrameInput): (row: number, k: number) => number {
  const entered = frame.entered, sparks = frame.sparks, u = frame.updates;
  let top = 0;
  for (let r = 0; r < entered.length; r++) if (entered[r].index >= top) top = entered[r].index + 1;
  let twice = false;
  for (let k = 0; k < sparks.length && !twice; k++) {
    for (let j = 0; j < k; j++) if (sparks[j].metric === sparks[k].metric) twice = true;
  }
  if (top > SCRATCH_SENSORS || twice) {
    const lasts = lastValues(u);
    return (row, k) => lasts.get(entered[row].index * 65_536 + sparks[k].metric) ?? NaN;
  }
  if (sensorStamp.length < top) {
    const n = Math.max(top, 2 * sensorStamp.length, 1024);
    sensorStamp = new Uint32Array(n);
    sensorNumber = new Int32Array(n);
    stamp = 0;
  }
  if (stamp >= 0xffff_fff0) {
    sensorStamp.fill(0);
    stamp = 0;
  }
  const was = ++stamp;
  let distinct = 0;
  for (let r = 0; r < entered.length; r++) {
    const s = entered[r].index;
    if (sensorStamp[s] !== was) {
      sensorStamp[s] = was;
      sensorNumber[s] = distinct++;
    }
  }
  const columns = sparks.length;
  if (predictors.length < distinct * columns) {
    predictors = new Float64Array(Math.max(distinct * columns, 2 * predictors.length, 256));
  }
  predictors.fill(NaN, 0, distinct * columns);
  for (let k = 0; k < columns; k++) sparkColumn[sparks[k].metric] = k + 1;
  for (let i = 0; i < u.length; i++) {
    const s = u.sensor[i];
    if (s >= top || sensorStamp[s] !== was) continue;
    const k = sparkColumn[u.metric[i]] - 1;
    if (k >= 0) predictors[sensorNumber[s] * columns + k] = u.last[i];
  }
  for (let k = 0; k < columns; k++) sparkColumn[sparks[k].metric] = 0;
  const p = predictors;
  return (row, k) => p[sensorNumber[entered[row].index] * columns + k];
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
    const lastOf = sparkPredictors(frame);
    const bucket = frameBucket(frame.serverTimeMs, frame.sparkBucketMs);
    for (let k = 0; k < frame.sparks.length; k++) {
      const rows = frame.sparks[k];
      if (rows.counts.length !== frame.entered.length) {
        throw new RangeError(
          `Cannot encode a view frame: metric ${rows.metric} has points for ${rows.counts.length} rows, not ${frame.entered.length}`,
        );
      }
      columnOffsets[k] = writeSparkColumn(b, rows, {
        frameBucket: bucket,
        lastOf: (row) => lastOf(row, k),
      });
    }
    sparks = offsetVector(b, columnOffsets, frame.sparks.length);
  }
  const rows = frame.rows ? ViewFrame.createRowsVector(b, frame.rows) : 0;
  const entered = frame.entered.length > 0 ? writeSensors(b, frame.entered) : 0;
  const metrics = frame.metrics.length > 0 ? writeMetrics(b, frame.metrics) : 0;
  let statusSensor = 0, status = 0;
  const statuses = frame.statuses;
  if (statuses.length > 0) {
    b.startVector(4, statuses.length, 4);
    for (let i = statuses.length - 1; i >= 0; i--) b.addInt32(statuses[i][0]);
    statusSensor = b.endVector();
    for (let i = 0; i < statuses.length; i++) columnOffsets[i] = writeString(b, statuses[i][1]);
    status = offsetVector(b, columnOffsets, statuses.length);
  }
  let attentionSensor = 0, attention = 0;
  const codes = frame.attention;
  if (codes && codes.length > 0) {
    b.startVector(4, codes.length, 4);
    for (let i = codes.length - 1; i >= 0; i--) b.addInt32(codes[i][0]);
    attentionSensor = b.endVector();
    b.startVector(1, codes.length, 1);
    for (let i = codes.length - 1; i >= 0; i--) b.addInt8(codes[i][1]);
    attention = b.endVector();
  }
  let seenSensor = 0, seenMs = 0;
  const seen = frame.seen;
  if (seen && seen.length > 0) {
    b.startVector(4, seen.length, 4);
    for (let i = seen.length - 1; i >= 0; i--) b.addInt32(seen[i][0]);
    seenSensor = b.endVector();
    b.startVector(8, seen.length, 8);
    for (let i = seen.length - 1; i >= 0; i--) b.addFloat64(seen[i][1]);
    seenMs = b.endVector();
  }
  const restarted = frame.restarted && frame.restarted.length > 0
    ? writeUint32s(b, frame.restarted)
    : 0;
  const counts = frame.attentionCounts;
  let attentionCounts = 0;
  if (counts) {
    b.startVector(4, counts.length, 4);
    for (let i = counts.length - 1; i >= 0; i--) b.addInt32(counts[i]);
    attentionCounts = b.endVector();
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
  if (attentionCounts) ViewFrame.addAttentionCounts(b, attentionCounts);
  if (seenSensor) {
    ViewFrame.addSeenSensor(b, seenSensor);
    ViewFrame.addSeenMs(b, seenMs);
  }
  if (restarted) ViewFrame.addRestarted(b, restarted);
  const body = ViewFrame.endViewFrame(b);
  b.finish(Envelope.createEnvelope(b, Body.ViewFrame, body), "PLSB");
  // Room for the transport's header: the frame goes to sockets as it is (protocol/headroom.ts).
  return withHeadroom(b.asUint8Array());
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
  v.vector(pos, 18, 4);
  v.vector(pos, 19, 1);
  if (v.vector(pos, 20, 4) > MAX_ATTENTION_COUNTS) invalid("too many attention counts");
  v.vector(pos, 21, 4);
  v.vector(pos, 22, 8);
  v.vector(pos, 23, 4);
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
  const seenSensors = f.seenSensorArray();
  const seenTimes = f.seenMsArray();
  if ((seenSensors?.length ?? 0) !== (seenTimes?.length ?? 0)) {
    invalid(`${seenSensors?.length ?? 0} seen sensors for ${seenTimes?.length ?? 0} times`);
  }
  const seen: [number, number][] = [];
  for (let i = 0; i < (seenTimes?.length ?? 0); i++) seen.push([seenSensors![i], seenTimes![i]]);
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
  const restarted = Array.from(f.restartedArray() ?? []);
  if (restarted.length > 0) {
    // Each is sent whole again: a row the frame would leave half-known is refused.
    const whole = new Set(entered.map((e) => e.index));
    for (const s of restarted) {
      if (!whole.has(s)) invalid(`restarted sensor ${s} is not among the entering rows`);
    }
  }
  const rows = f.rowsArray();
  const counts = f.attentionCountsArray();
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
    attentionCounts: counts ? Array.from(counts) : null,
    seen,
    restarted,
  };
}
