// A test client for /ws: decodes frames with the protocol package and keeps
// the state they describe, checking that sequence numbers are contiguous.
import {
  decodeServerFrame,
  encodePong,
  encodeSubscribe,
  encodeUnsubscribe,
  WINDOW_FINAL,
} from "../../protocol/mod.ts";
import type { DeltaEvent, MetricStates, SnapshotEvent } from "../../protocol/mod.ts";

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

export class FeedClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
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
  #byIndex = new Map<string, MetricState>();
  readonly #windows: boolean;
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
  /** Per delta, how many sensor-metric pairs appeared more than once in it. */
  duplicateUpdates = 0;

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
    } = {},
  ) {
    const ws = new URL(
      options.explicit || options.resumeFrom ? "/ws?subscribe=explicit" : "/ws",
      url,
    );
    if (options.windows) ws.searchParams.set("windows", "1");
    this.#windows = options.windows ?? false;
    if (options.resumeFrom) this.#adopt(options.resumeFrom);
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
    this.socket.onmessage = (event) => this.#onFrame(new Uint8Array(event.data as ArrayBuffer));
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

  /** Carries over what an earlier connection had applied, to resume from it. */
  #adopt(previous: FeedClient): void {
    this.epoch = previous.epoch;
    this.seq = previous.seq;
    this.sensors = new Map(previous.sensors);
    this.metrics = new Map(previous.metrics);
    this.values = new Map(previous.values);
  }

  close(): Promise<CloseEvent> {
    this.socket.close();
    return this.closed;
  }

  /** A plain object of the current values, keyed "sensorId/metric". */
  state(): Record<string, MetricState> {
    return Object.fromEntries([...this.values].sort(([a], [b]) => a < b ? -1 : 1));
  }

  #onFrame(bytes: Uint8Array): void {
    this.frameBytes += bytes.byteLength;
    const frame = decodeServerFrame(bytes);
    switch (frame.type) {
      case "snapshot": {
        this.sensors.clear();
        this.metrics.clear();
        this.values.clear();
        this.#byIndex.clear();
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
        this.#windowParts(frame);
        break;
      }
      case "delta": {
        if (frame.epoch !== this.epoch || frame.seq !== this.seq + 1) this.gaps++;
        this.seq = frame.seq;
        this.deltas++;
        this.#dictionaries(frame);
        const seen = new Set<string>();
        const u = frame.updates;
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
      case "ping":
        this.socket.send(encodePong(frame.nonce));
        break;
      case "error":
        this.errors.push({ code: frame.code, message: frame.message });
        break;
    }
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
      this.aggregates.set(`${a.group}/${this.windowSizesMs[a.size]}/${metric}`, {
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
  }
}
