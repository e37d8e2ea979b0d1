// A test client for /ws: decodes frames with the generated reader and keeps
// the state they describe, checking that sequence numbers are contiguous.
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
} from "../protocol/schema_generated.ts";
import { encodePong, encodeSubscribe, encodeUnsubscribe } from "../protocol/frames.ts";

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
    const envelope = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes));
    switch (envelope.bodyType()) {
      case Body.Snapshot: {
        const s = envelope.body(new Snapshot()) as Snapshot;
        this.sensors.clear();
        this.metrics.clear();
        this.values.clear();
        this.#byIndex.clear();
        this.epoch = s.epoch();
        this.seq = Number(s.seq());
        this.snapshots++;
        this.#dictionaries(s);
        for (let i = 0; i < s.valuesLength(); i++) this.#update(s.values(i)!);
        if (this.snapshots === 1) this.firstSnapshot = this.state();
        this.windowSizesMs = Array.from(s.windowSizesMsArray() ?? []);
        this.countWindow = s.countWindow();
        this.windows.clear();
        this.aggregates.clear();
        this.late.clear();
        this.#windowParts(s);
        break;
      }
      case Body.Delta: {
        const d = envelope.body(new Delta()) as Delta;
        if (d.epoch() !== this.epoch || Number(d.seq()) !== this.seq + 1) this.gaps++;
        this.seq = Number(d.seq());
        this.deltas++;
        this.#dictionaries(d);
        const seen = new Set<string>();
        for (let i = 0; i < d.updatesLength(); i++) {
          const u = d.updates(i)!;
          const key = `${u.sensor()}/${u.metric()}`;
          if (seen.has(key)) this.duplicateUpdates++;
          seen.add(key);
          this.#update(u);
        }
        for (let i = 0; i < d.removedLength(); i++) {
          const sensor = this.sensors.get(d.removed(i)!);
          if (!sensor) continue;
          for (const key of [...this.values.keys()]) {
            if (key.startsWith(sensor.id + "/")) this.values.delete(key);
          }
          this.sensors.delete(d.removed(i)!);
        }
        this.#windowParts(d);
        break;
      }
      case Body.Subscribed: {
        const s = envelope.body(new Subscribed()) as Subscribed;
        const event = {
          topic: s.topic() ?? "",
          ids: Array.from(s.idsArray() ?? []),
          epoch: s.epoch(),
          seq: Number(s.seq()),
          recovered: s.recovered(),
        };
        this.subscribed.push(event);
        if (event.recovered) {
          // The replayed deltas continue from here.
          this.epoch = event.epoch;
          this.seq = event.seq;
        }
        break;
      }
      case Body.Ping: {
        const p = envelope.body(new Ping()) as Ping;
        this.socket.send(encodePong(p.nonce()));
        break;
      }
      case Body.Error: {
        const e = envelope.body(new ErrorMessage()) as ErrorMessage;
        this.errors.push({ code: e.code(), message: e.message() ?? "" });
        break;
      }
    }
  }

  #dictionaries(frame: Snapshot | Delta): void {
    for (let i = 0; i < frame.sensorsLength(); i++) {
      const s = frame.sensors(i)!;
      this.sensors.set(s.index(), { id: s.id()!, group: s.group()! });
    }
    for (let i = 0; i < frame.metricsLength(); i++) {
      const m = frame.metrics(i)!;
      this.metrics.set(m.index(), m.name()!);
    }
  }

  #windowParts(frame: Snapshot | Delta): void {
    for (let i = 0; i < frame.windowsLength(); i++) {
      const w = frame.windows(i)!;
      const sensor = this.sensors.get(w.sensor());
      const metric = this.metrics.get(w.metric());
      if (!sensor || metric === undefined) throw new Error(`window for unknown sensor/metric`);
      const key = `${sensor.id}/${metric}/${this.windowSizesMs[w.size()]}`;
      const state = {
        startMs: w.startMs(),
        count: w.count(),
        sum: w.sum(),
        min: w.min(),
        max: w.max(),
        std: w.std(),
        final: (w.flags() & 1) !== 0,
      };
      this.windowUpdates.push({ key, ...state });
      const previous = this.windows.get(key);
      if (!previous || previous.startMs <= state.startMs) this.windows.set(key, state);
    }
    for (let i = 0; i < frame.aggregatesLength(); i++) {
      const a = frame.aggregates(i)!;
      const metric = this.metrics.get(a.metric());
      this.aggregates.set(`${a.group()}/${this.windowSizesMs[a.size()]}/${metric}`, {
        startMs: a.startMs(),
        sensors: a.sensors(),
        count: a.count(),
        sum: a.sum(),
        min: a.min(),
        max: a.max(),
      });
    }
    for (let i = 0; i < frame.lateLength(); i++) {
      const l = frame.late(i)!;
      const sensor = this.sensors.get(l.sensor());
      if (sensor) this.late.set(sensor.id, l.dropped());
    }
  }

  #update(u: MetricUpdate): void {
    const sensor = this.sensors.get(u.sensor());
    const metric = this.metrics.get(u.metric());
    if (!sensor || metric === undefined) {
      throw new Error(`update for unknown sensor ${u.sensor()} or metric ${u.metric()}`);
    }
    const state = { last: u.last(), avg: u.avg(), min: u.min(), max: u.max(), timeMs: u.timeMs() };
    this.values.set(`${sensor.id}/${metric}`, state);
  }
}
