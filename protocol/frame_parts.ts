// The parts a CompactDelta shares with a Delta (dictionaries, removals,
// windows, aggregates, late counts): written into a given builder and read
// back from a verified frame. The verifier checks for them are here too.
import type * as flatbuffers from "flatbuffers";
import {
  AttentionState,
  GroupAggregate,
  LateCount,
  MetricInfo,
  SensorInfo,
  WindowUpdate,
} from "./schema_generated.ts";
import type {
  GroupAggregateEntry,
  MetricEntry,
  MetricStates,
  SensorEntry,
  WindowStates,
} from "./columns.ts";
import type { FlatBufferVerifier } from "./verifier.ts";

/** Event-time extras of a frame; all optional. */
export interface WindowParts {
  windows?: WindowStates;
  aggregates?: readonly GroupAggregateEntry[];
  /** `[sensor, readings dropped as late so far]`. */
  late?: readonly (readonly [number, number])[];
  /** `[sensor, attention code]` (protocol/attention.ts). */
  attention?: readonly (readonly [number, number])[];
}

/** A tick's changes, as both encodings (full Delta and CompactDelta) carry them. */
export interface DeltaFrame extends WindowParts {
  epoch: number;
  seq: number;
  serverTimeMs: number;
  sensors: readonly SensorEntry[];
  metrics: readonly MetricEntry[];
  updates: MetricStates;
  removed: readonly number[];
  /**
   * Sensors removed and re-added since the frame this one follows: the
   * client drops what it holds of each before applying the frame (whose
   * `sensors` lists each again). Absent: none.
   */
  restarted?: readonly number[];
  /**
   * For a session sent less often than every tick: the frame brings a client
   * at `sinceSeq` straight to `seq`, with absolute values. Default false (it
   * follows `seq - 1`).
   */
  coalesced?: boolean;
  sinceSeq?: number;
  /** The receiving session's rate: ms between its frames. 0 or absent: unsaid. */
  intervalMs?: number;
}
import { allocateWindowStates } from "./columns.ts";

/** A vector of table offsets (the generated create*Vector, for any field). */
function offsetVector(
  b: flatbuffers.Builder,
  offsets: readonly number[],
  n = offsets.length,
): flatbuffers.Offset {
  b.startVector(4, n, 4);
  for (let i = n - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

/** Table offsets of a dictionary while it is written, kept from frame to frame. */
const tables: number[] = [];

/**
 * `b.createString(s)`, byte for byte, without its `TextEncoder` copy when
 * `s` is ASCII (ids, groups, metric names and statuses mostly are): a view
 * frame writes a few hundred strings a tick.
 */
export function writeString(b: flatbuffers.Builder, s: string): flatbuffers.Offset {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return b.createString(s);
  b.addInt8(0);
  b.startVector(1, n, 1);
  for (let i = n - 1; i >= 0; i--) b.writeInt8(s.charCodeAt(i));
  return b.endVector();
}

export function writeSensors(
  b: flatbuffers.Builder,
  sensors: readonly SensorEntry[],
): flatbuffers.Offset {
  const n = sensors.length;
  for (let i = 0; i < n; i++) {
    const s = sensors[i];
    const id = writeString(b, s.id);
    tables[i] = SensorInfo.createSensorInfo(b, s.index, id, writeString(b, s.group));
  }
  return offsetVector(b, tables, n);
}

export function writeMetrics(
  b: flatbuffers.Builder,
  metrics: readonly MetricEntry[],
): flatbuffers.Offset {
  const n = metrics.length;
  for (let i = 0; i < n; i++) {
    tables[i] = MetricInfo.createMetricInfo(b, metrics[i].index, writeString(b, metrics[i].name));
  }
  return offsetVector(b, tables, n);
}

export function writeUint32s(
  b: flatbuffers.Builder,
  values: readonly number[],
): flatbuffers.Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
  return b.endVector();
}

/** The windows, or 0 when there are none. */
export function writeWindows(
  b: flatbuffers.Builder,
  windows: WindowStates | undefined,
): flatbuffers.Offset {
  if (!windows || windows.length === 0) return 0;
  b.startVector(56, windows.length, 8);
  for (let i = windows.length - 1; i >= 0; i--) {
    WindowUpdate.createWindowUpdate(
      b,
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
  return b.endVector();
}

/** The aggregates, or 0 when there are none. */
export function writeAggregates(
  b: flatbuffers.Builder,
  aggregates: WindowParts["aggregates"],
): flatbuffers.Offset {
  if (!aggregates || aggregates.length === 0) return 0;
  return offsetVector(
    b,
    aggregates.map((a) =>
      GroupAggregate.createGroupAggregate(
        b,
        b.createString(a.group),
        a.size,
        a.metric,
        a.startMs,
        a.sensors,
        a.count,
        a.sum,
        a.min,
        a.max,
      )
    ),
  );
}

/** The late counts, or 0 when there are none. */
export function writeLate(b: flatbuffers.Builder, late: WindowParts["late"]): flatbuffers.Offset {
  if (!late || late.length === 0) return 0;
  b.startVector(8, late.length, 4);
  for (let i = late.length - 1; i >= 0; i--) {
    LateCount.createLateCount(b, late[i][0], Math.min(late[i][1], 0xffff_ffff));
  }
  return b.endVector();
}

/** The attention states, or 0 when there are none. */
export function writeAttention(
  b: flatbuffers.Builder,
  attention: WindowParts["attention"],
): flatbuffers.Offset {
  if (!attention || attention.length === 0) return 0;
  b.startVector(8, attention.length, 4);
  for (let i = attention.length - 1; i >= 0; i--) {
    AttentionState.createAttentionState(b, attention[i][0], attention[i][1]);
  }
  return b.endVector();
}

/** The dictionaries every frame with values carries (Snapshot, Delta, CompactDelta, ViewFrame). */
export interface DictionaryParts {
  sensorsLength(): number;
  sensors(index: number, obj?: SensorInfo): SensorInfo | null;
  metricsLength(): number;
  metrics(index: number, obj?: MetricInfo): MetricInfo | null;
}

/** The event-time parts of Snapshot, Delta and CompactDelta. */
export interface WindowPartsReader {
  windowsLength(): number;
  windows(index: number, obj?: WindowUpdate): WindowUpdate | null;
  aggregatesLength(): number;
  aggregates(index: number, obj?: GroupAggregate): GroupAggregate | null;
  lateLength(): number;
  late(index: number, obj?: LateCount): LateCount | null;
  attentionLength(): number;
  attention(index: number, obj?: AttentionState): AttentionState | null;
}

/** What the generated Delta and CompactDelta accessors have in common. */
export interface SharedParts extends DictionaryParts, WindowPartsReader {
  removedArray(): Uint32Array | null;
  restartedArray(): Uint32Array | null;
}

export function readSensors(frame: DictionaryParts): SensorEntry[] {
  const sensors: SensorEntry[] = [];
  const info = new SensorInfo();
  for (let i = 0; i < frame.sensorsLength(); i++) {
    const s = frame.sensors(i, info)!;
    sensors.push({ index: s.index(), id: s.id() ?? "", group: s.group() ?? "" });
  }
  return sensors;
}

export function readMetrics(frame: DictionaryParts): MetricEntry[] {
  const metrics: MetricEntry[] = [];
  const name = new MetricInfo();
  for (let i = 0; i < frame.metricsLength(); i++) {
    const m = frame.metrics(i, name)!;
    metrics.push({ index: m.index(), name: m.name() ?? "" });
  }
  return metrics;
}

/** The windows by column (empty columns when there are none). */
export function readWindows(frame: WindowPartsReader): WindowStates {
  const count = frame.windowsLength();
  const w = allocateWindowStates(count);
  const at = new WindowUpdate();
  for (let i = 0; i < count; i++) {
    frame.windows(i, at);
    w.sensor[i] = at.sensor();
    w.metric[i] = at.metric();
    w.size[i] = at.size();
    w.flags[i] = at.flags();
    w.startMs[i] = at.startMs();
    w.count[i] = at.count();
    w.sum[i] = at.sum();
    w.min[i] = at.min();
    w.max[i] = at.max();
    w.std[i] = at.std();
  }
  return w;
}

export function readAggregates(frame: WindowPartsReader): GroupAggregateEntry[] {
  const out: GroupAggregateEntry[] = [];
  const a = new GroupAggregate();
  for (let i = 0; i < frame.aggregatesLength(); i++) {
    frame.aggregates(i, a);
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

export function readLate(frame: WindowPartsReader): [number, number][] {
  const out: [number, number][] = [];
  const l = new LateCount();
  for (let i = 0; i < frame.lateLength(); i++) {
    frame.late(i, l);
    out.push([l.sensor(), l.dropped()]);
  }
  return out;
}

export function readAttention(frame: WindowPartsReader): [number, number][] {
  const out: [number, number][] = [];
  const a = new AttentionState();
  for (let i = 0; i < frame.attentionLength(); i++) {
    frame.attention(i, a);
    out.push([a.sensor(), a.code()]);
  }
  return out;
}

/** Reads the shared parts of a verified frame; the event-time parts only when present. */
export function readParts(frame: SharedParts): {
  sensors: SensorEntry[];
  metrics: MetricEntry[];
  removed: number[];
  restarted: number[];
  windows?: WindowStates;
  aggregates?: GroupAggregateEntry[];
  late?: [number, number][];
  attention?: [number, number][];
} {
  const out: ReturnType<typeof readParts> = {
    sensors: readSensors(frame),
    metrics: readMetrics(frame),
    removed: Array.from(frame.removedArray() ?? []),
    restarted: readRestarted(frame),
  };
  if (frame.windowsLength() > 0) out.windows = readWindows(frame);
  if (frame.aggregatesLength() > 0) out.aggregates = readAggregates(frame);
  if (frame.lateLength() > 0) out.late = readLate(frame);
  if (frame.attentionLength() > 0) out.attention = readAttention(frame);
  return out;
}

/**
 * The sensors a verified Delta or CompactDelta says started over, checked
 * against the rest of the frame: each comes back in its `sensors` (a client
 * would otherwise drop a row it is told nothing more of) and none is also
 * removed. Throws a TypeError for a frame that breaks that.
 */
export function readRestarted(frame: SharedParts): number[] {
  const restarted = frame.restartedArray();
  if (restarted === null || restarted.length === 0) return [];
  const entries = new Set<number>();
  const info = new SensorInfo();
  for (let i = 0; i < frame.sensorsLength(); i++) entries.add(frame.sensors(i, info)!.index());
  const removed = new Set(frame.removedArray() ?? []);
  for (const s of restarted) {
    if (!entries.has(s)) {
      throw new TypeError(`Invalid delta: restarted sensor ${s} has no dictionary entry`);
    }
    if (removed.has(s)) throw new TypeError(`Invalid delta: sensor ${s} is restarted and removed`);
  }
  return Array.from(restarted);
}

/** Field ids of the shared parts in the table being verified. */
export interface PartIds {
  sensors: number;
  metrics: number;
  removed: number;
  windows: number;
  aggregates: number;
  late: number;
  attention: number;
  restarted: number;
}

/** Verifies the shared parts of the table at `pos`. */
export function verifyParts(v: FlatBufferVerifier, pos: number, ids: PartIds): void {
  v.tableVector(pos, ids.sensors, (s) => {
    v.field(s, 0, 4);
    v.string(s, 1);
    v.string(s, 2);
  });
  v.tableVector(pos, ids.metrics, (m) => {
    v.field(m, 0, 2);
    v.string(m, 1);
  });
  v.vector(pos, ids.removed, 4);
  v.vector(pos, ids.windows, 56, 8);
  v.tableVector(pos, ids.aggregates, (a) => {
    v.string(a, 0);
    v.field(a, 1, 1);
    v.field(a, 2, 2);
    for (let id = 3; id <= 8; id++) v.field(a, id, id === 4 ? 4 : 8);
  });
  v.vector(pos, ids.late, 8, 4);
  v.vector(pos, ids.attention, 8, 4);
  v.vector(pos, ids.restarted, 4);
}
