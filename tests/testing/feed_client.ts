// A test client for /ws: decodes frames with the protocol package and keeps
// the state they describe, checking that sequence numbers are contiguous.
import {
  decodeServerFrame,
  encodePong,
  encodeSubscribe,
  encodeUnsubscribe,
  WINDOW_FINAL,
} from "../../protocol/mod.ts";
import type {
  BaseValues,
  DeltaEvent,
  MetricStates,
  ServerFrame,
  SnapshotEvent,
} from "../../protocol/mod.ts";

export interface SubscribedEvent {
  topic: string;
  ids: number[];
  epoch: number;
  seq: number;
  recovered: boolean;
}

export interface MetricState {
  last: number;
  avg: number;
  min: number;
  max: number;
  timeMs: number;
}

export interface WindowState {
  startMs: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  std: number;
  final: boolean;
}

export interface AggregateState {
  startMs: number;
  sensors: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * The state a stream of frames describes, with its checks (contiguous
 * sequence numbers, no update twice in a frame): `apply` takes each frame.
 * No socket: the hub's frames can be fed to it directly.
 */
export class FeedState {
  epoch = -1;
  seq = -1;
  snapshots = 0;
  /** The values of the first snapshot, as it arrived (before any delta). */
  firstSnapshot: Record<string, MetricState> | null = null;
  deltas = 0;
  gaps = 0;
  errors: { code: number; message: string }[] = [];
  /** Sensor index → { id, group }. */
  sensors = new Map<number, { id: string; group: string }>();
  metrics = new Map<number, string>();
  /** "sensorId/metric" → state. */
  values = new Map<string, MetricState>();
  /** The values by (sensor index, metric index): what compact frames are coded against. */
  #base = new IndexBase();
  /** Frames received, coalesced Deltas (a lower rate), and compact ones. */
  frames = 0;
  coalesced = 0;
  compactFrames = 0;
  /** The rate the last Delta said: ms between frames. */
  intervalMs = 0;
  /** Distinct sensors per Delta, summed (for bytes per sensor update). */
  sensorUpdates = 0;
  frameBytes = 0;
  subscribed: SubscribedEvent[] = [];
  windowSizesMs: number[] = [];
  /** Readings that avg, min and max cover, from the last snapshot (0 if it did not say). */
  countWindow = 0;
  /** "sensorId/metric/sizeMs" → the newest window received. */
  windows = new Map<string, WindowState>();
  /** Every window update received, in order (final or not). */
  windowUpdates: (WindowState & { key: string })[] = [];
  /** "group/sizeMs/metric" → the latest aggregate. */
  aggregates = new Map<string, AggregateState>();
  /** sensorId → readings dropped as late. */
  late = new Map<string, number>();
  /** sensorId → its attention code (protocol/attention.ts). */
  attention = new Map<string, number>();
  /** Per delta, how many sensor-metric pairs appeared more than once in it. */
  duplicateUpdates = 0;

  /** Carries over what an earlier connection had applied, to resume from it. */
  protected adopt(previous: FeedState): void {
    this.epoch = previous.epoch;
    this.seq = previous.seq;
    this.sensors = new Map(previous.sensors);
    this.metrics = new Map(previous.metrics);
    this.values = new Map(previous.values);
    this.#base = new IndexBase(previous.#base);
  }

  /** A plain object of the current values, keyed "sensorId/metric". */
  state(): Record<string, MetricState> {
    return Object.fromEntries([...this.values].sort(([a], [b]) => a < b ? -1 : 1));
  }

  /** Applies one frame from the server; returns it decoded. */
  apply(bytes: Uint8Array): ServerFrame {
    this.frameBytes += bytes.byteLength;
    this.frames++;
    const frame = decodeServerFrame(bytes, { base: this.#base });
    switch (frame.type) {
      case "snapshot": {
        this.sensors.clear();
        this.metrics.clear();
        this.values.clear();
        this.#base = new IndexBase();
        this.epoch = frame.epoch;
        this.seq = frame.seq;
        this.snapshots++;
        this.#dictionaries(frame);
        for (let i = 0; i < frame.values.length; i++) this.#update(frame.values, i);
        if (this.snapshots === 1) this.firstSnapshot = this.state();
        this.windowSizesMs = frame.windowSizesMs;
        this.countWindow = frame.countWindow;
        this.windows.clear();
        this.aggregates.clear();
        this.late.clear();
        this.attention.clear();
        this.#windowParts(frame);
        break;
      }
      case "delta": {
        // A coalesced frame (a session sent less often) covers every tick since `sinceSeq`.
        const follows = frame.coalesced
          ? frame.sinceSeq! <= this.seq && frame.seq >= this.seq
          : frame.seq === this.seq + 1;
        if (frame.epoch !== this.epoch || !follows) this.gaps++;
        if (frame.coalesced) this.coalesced++;
        if (frame.compact) this.compactFrames++;
        this.intervalMs = frame.intervalMs ?? 0;
        this.seq = frame.seq;
        this.deltas++;
        // A sensor that started over: nothing held of the old one stays.
        for (const index of frame.restarted ?? []) this.#forget(index);
        this.#dictionaries(frame);
        const seen = new Set<string>();
        const u = frame.updates;
        this.sensorUpdates += new Set(u.sensor).size;
        for (let i = 0; i < u.length; i++) {
          const key = `${u.sensor[i]}/${u.metric[i]}`;
          if (seen.has(key)) this.duplicateUpdates++;
          seen.add(key);
          this.#update(u, i);
        }
        for (const index of frame.removed) {
          const sensor = this.sensors.get(index);
          if (!sensor) continue;
          for (const key of [...this.values.keys()]) {
            if (key.startsWith(sensor.id + "/")) this.values.delete(key);
          }
          this.#base.removeSensor(index);
          this.sensors.delete(index);
        }
        this.#windowParts(frame);
        break;
      }
      case "subscribed": {
        const { topic, ids, epoch, seq, recovered } = frame;
        this.subscribed.push({ topic, ids, epoch, seq, recovered });
        if (recovered) {
          // The replayed deltas continue from here.
          this.epoch = epoch;
          this.seq = seq;
        }
        break;
      }
      case "error":
        this.errors.push({ code: frame.code, message: frame.message });
        break;
    }
    return frame;
  }

  /** Drops everything held of sensor `index`: its values, windows, late count and attention. */
  #forget(index: number): void {
    const sensor = this.sensors.get(index);
    if (!sensor) return;
    const prefix = sensor.id + "/";
    for (const map of [this.values, this.windows]) {
      for (const key of [...map.keys()]) if (key.startsWith(prefix)) map.delete(key);
    }
    this.late.delete(sensor.id);
    this.attention.delete(sensor.id);
    this.#base.removeSensor(index);
    this.sensors.delete(index);
  }

  #dictionaries(frame: SnapshotEvent | DeltaEvent): void {
    for (const s of frame.sensors) this.sensors.set(s.index, { id: s.id, group: s.group });
    for (const m of frame.metrics) this.metrics.set(m.index, m.name);
  }

  #windowParts(frame: SnapshotEvent | DeltaEvent): void {
    const w = frame.windows;
    for (let i = 0; i < w.length; i++) {
      const sensor = this.sensors.get(w.sensor[i]);
      const metric = this.metrics.get(w.metric[i]);
      if (!sensor || metric === undefined) throw new Error(`window for unknown sensor/metric`);
      const key = `${sensor.id}/${metric}/${this.windowSizesMs[w.size[i]]}`;
      const state = {
        startMs: w.startMs[i],
        count: w.count[i],
        sum: w.sum[i],
        min: w.min[i],
        max: w.max[i],
        std: w.std[i],
        final: (w.flags[i] & WINDOW_FINAL) !== 0,
      };
      this.windowUpdates.push({ key, ...state });
      const previous = this.windows.get(key);
      if (!previous || previous.startMs <= state.startMs) this.windows.set(key, state);
    }
    for (const a of frame.aggregates) {
      const metric = this.metrics.get(a.metric);
      const key = `${a.group}/${this.windowSizesMs[a.size]}/${metric}`;
      // No sensors: the group has no such aggregate any more.
      if (a.sensors === 0) {
        this.aggregates.delete(key);
        continue;
      }
      this.aggregates.set(key, {
        startMs: a.startMs,
        sensors: a.sensors,
        count: a.count,
        sum: a.sum,
        min: a.min,
        max: a.max,
      });
    }
    for (const [index, dropped] of frame.late) {
      const sensor = this.sensors.get(index);
      if (sensor) this.late.set(sensor.id, dropped);
    }
    for (const [index, code] of frame.attention ?? []) {
      const sensor = this.sensors.get(index);
      if (sensor) this.attention.set(sensor.id, code);
    }
  }

  #update(u: MetricStates, i: number): void {
    const sensor = this.sensors.get(u.sensor[i]);
    const metric = this.metrics.get(u.metric[i]);
    if (!sensor || metric === undefined) {
      throw new Error(`update for unknown sensor ${u.sensor[i]} or metric ${u.metric[i]}`);
    }
    const state = {
      last: u.last[i],
      avg: u.avg[i],
      min: u.min[i],
      max: u.max[i],
      timeMs: u.timeMs[i],
    };
    this.values.set(`${sensor.id}/${metric}`, state);
    this.#base.set(u.sensor[i], u.metric[i], state);
  }
}

export class FeedClient extends FeedState {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  readonly #windows: boolean;

  constructor(
    url: URL | string,
    options: {
      explicit?: boolean;
      resumeFrom?: FeedClient;
      protocols?: string[];
      /** Extra request headers (Deno's extension), e.g. X-Forwarded-For behind a trusted proxy. */
      headers?: Record<string, string>;
      /** Ask for per-sensor event-time windows too. */
      windows?: boolean;
      /** Ask for compact frames (`/ws?encoding=compact`). */
      encoding?: "compact";
    } = {},
  ) {
    super();
    const ws = new URL(
      options.explicit || options.resumeFrom ? "/ws?subscribe=explicit" : "/ws",
      url,
    );
    if (options.windows) ws.searchParams.set("windows", "1");
    if (options.encoding) ws.searchParams.set("encoding", options.encoding);
    this.#windows = options.windows ?? false;
    if (options.resumeFrom) this.adopt(options.resumeFrom);
    ws.protocol = ws.protocol === "https:" || ws.protocol === "wss:" ? "wss:" : "ws:";
    this.socket = options.headers
      ? new WebSocket(ws, { protocols: options.protocols, headers: options.headers } as never)
      : new WebSocket(ws, options.protocols);
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.socket.onopen = () => resolve();
      this.socket.onerror = () => reject(new Error("socket error"));
    });
    this.closed = new Promise((resolve) => this.socket.addEventListener("close", resolve));
    this.socket.onmessage = (event) => {
      const frame = this.apply(new Uint8Array(event.data as ArrayBuffer));
      if (frame.type === "ping") this.socket.send(encodePong(frame.nonce));
    };
  }

  subscribe(
    subscriptions: { id: number; all?: boolean; group?: string; sensors?: string[] }[],
    resume = false,
  ): void {
    this.socket.send(
      encodeSubscribe(
        subscriptions,
        resume ? { epoch: this.epoch, seq: this.seq } : null,
        false,
        this.#windows,
      ),
    );
  }

  unsubscribe(ids: number[]): void {
    this.socket.send(encodeUnsubscribe(ids));
  }

  close(): Promise<CloseEvent> {
    this.socket.close();
    return this.closed;
  }
}

/** The client's values by (sensor, metric) index, as a compact decoder's bases. */
class IndexBase implements BaseValues {
  readonly #slots: Map<number, number>;
  readonly #columns: { last: number[]; avg: number[]; min: number[]; max: number[] };

  constructor(from?: IndexBase) {
    this.#slots = new Map(from ? from.#slots : []);
    const c = from ? from.#columns : undefined;
    this.#columns = {
      last: [...(c?.last ?? [])],
      avg: [...(c?.avg ?? [])],
      min: [...(c?.min ?? [])],
      max: [...(c?.max ?? [])],
    };
  }

  slot(sensor: number, metric: number): number {
    return this.#slots.get(sensor * 65_536 + metric) ?? -1;
  }

  columns(): { last: number[]; avg: number[]; min: number[]; max: number[] } {
    return this.#columns;
  }

  set(sensor: number, metric: number, v: MetricState): void {
    const key = sensor * 65_536 + metric;
    let slot = this.#slots.get(key);
    if (slot === undefined) this.#slots.set(key, slot = this.#columns.last.length);
    this.#columns.last[slot] = v.last;
    this.#columns.avg[slot] = v.avg;
    this.#columns.min[slot] = v.min;
    this.#columns.max[slot] = v.max;
  }

  removeSensor(sensor: number): void {
    for (const key of [...this.#slots.keys()]) {
      if (Math.floor(key / 65_536) === sensor) this.#slots.delete(key);
    }
  }
}
