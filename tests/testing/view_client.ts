// A test client for viewport windows: applies ViewFrames (decoded by the
// protocol package against the values it holds) to the window they
// describe, and checks what a client can check on its own.
import { decodeServerFrame, encodePong, encodeViewSubscribe } from "../../protocol/mod.ts";
import type { BaseValues, ServerFrame, ViewEvent, ViewSpec } from "../../protocol/mod.ts";
import type { MetricState } from "./feed_client.ts";

/** One row's sensor as the client holds it. */
export interface WindowRow {
  id: string;
  group: string;
  status: string | null;
  /** Metric name → state. */
  values: Record<string, MetricState>;
  /** Newest event time of its values and of the times told for hidden metrics. */
  seenMs: number;
}

interface Held {
  id: string;
  group: string;
  status: string | null;
  /** Metric index → state. */
  values: Map<number, MetricState>;
  /** Metric index → sparkline points (oldest first) and the bucket of the newest. */
  sparks: Map<number, { points: number[]; newestBucket: number }>;
  seenMs: number;
}

/** The window a stream of view frames describes. No socket: frames can be fed directly. */
export class ViewState {
  epoch = -1;
  seq = -1;
  onStream = false;
  total = -1;
  matching = -1;
  offset = 0;
  intervalMs = 0;
  /** The view's topic by attention code, as last told; null before. */
  attentionCounts: number[] | null = null;
  rows: number[] = [];
  metrics = new Map<number, string>();
  readonly #held = new Map<number, Held>();
  frames = 0;
  viewFrames = 0;
  frameBytes = 0;
  /** Frames by kind. */
  kinds = { tick: 0, join: 0, whole: 0 };
  /** Rows that entered, over all frames (how many rows were sent whole). */
  enteredRows = 0;
  /** By metric name, over all frames: values received, and rows' sparkline columns. */
  readonly valuesOf = new Map<string, number>();
  readonly sparksOf = new Map<string, number>();
  /** Problems a client can see: rows it has no entry for, updates of sensors not in the window. */
  problems: string[] = [];
  subscribed: { epoch: number; seq: number; recovered: boolean; view: boolean }[] = [];
  errors: { code: number; message: string }[] = [];
  /** Every view frame's bytes, in order (to compare a replay with what was sent). */
  readonly received: Uint8Array[] = [];

  readonly base: BaseValues = {
    slot: (sensor, metric) =>
      this.#held.get(sensor)?.values.has(metric) ? sensor * 65_536 + metric : -1,
    columns: (metric) => {
      const pick = (field: "last" | "avg" | "min" | "max") =>
        new Proxy([], {
          get: (_, key) => {
            const slot = Number(key);
            return this.#held.get(Math.floor(slot / 65_536))?.values.get(metric)?.[field];
          },
        }) as unknown as number[];
      return { last: pick("last"), avg: pick("avg"), min: pick("min"), max: pick("max") };
    },
  };

  /** Carries over an earlier connection's window, to resume from it. */
  adopt(previous: ViewState): void {
    this.epoch = previous.epoch;
    this.seq = previous.seq;
    this.onStream = previous.onStream;
    this.total = previous.total;
    this.matching = previous.matching;
    this.offset = previous.offset;
    this.attentionCounts = previous.attentionCounts;
    this.rows = [...previous.rows];
    this.metrics = new Map(previous.metrics);
    for (const [s, h] of previous.#held) {
      this.#held.set(s, { ...h, values: new Map(h.values), sparks: new Map(h.sparks) });
    }
  }

  apply(bytes: Uint8Array): ServerFrame {
    this.frames++;
    this.frameBytes += bytes.byteLength;
    const frame = decodeServerFrame(bytes, { base: this.base });
    if (frame.type === "view") {
      this.received.push(bytes);
      this.#view(frame);
    } else if (frame.type === "subscribed" && frame.view) {
      const { epoch, seq, recovered } = frame;
      this.subscribed.push({ epoch, seq, recovered, view: true });
      if (recovered) {
        this.epoch = epoch;
        this.seq = seq;
      }
    } else if (frame.type === "error") {
      this.errors.push({ code: frame.code, message: frame.message });
    }
    return frame;
  }

  #view(f: ViewEvent): void {
    this.viewFrames++;
    this.kinds[f.kind]++;
    if (f.kind === "whole") this.#held.clear();
    for (const m of f.metrics) this.metrics.set(m.index, m.name);
    // Rows whose sensor started over: what was held of the old one goes (they enter again below).
    for (const s of f.restarted) this.#held.delete(s);
    for (const e of f.entered) {
      const held = this.#held.get(e.index);
      if (held && held.id === e.id) held.group = e.group;
      else {
        this.#held.set(e.index, {
          id: e.id,
          group: e.group,
          status: null,
          values: new Map(),
          sparks: new Map(),
          seenMs: -Infinity,
        });
        this.enteredRows++;
      }
    }
    const u = f.updates;
    const count = (map: Map<string, number>, metric: number) => {
      const name = this.metrics.get(metric) ?? `#${metric}`;
      map.set(name, (map.get(name) ?? 0) + 1);
    };
    for (let i = 0; i < u.length; i++) count(this.valuesOf, u.metric[i]);
    for (const column of f.sparks) count(this.sparksOf, column.metric);
    for (let i = 0; i < u.length; i++) {
      const held = this.#held.get(u.sensor[i]);
      if (!held) {
        this.problems.push(`update of sensor ${u.sensor[i]}, not in the window`);
        continue;
      }
      if (!(held.seenMs >= u.timeMs[i])) held.seenMs = u.timeMs[i];
      held.values.set(u.metric[i], {
        last: u.last[i],
        avg: u.avg[i],
        min: u.min[i],
        max: u.max[i],
        timeMs: u.timeMs[i],
      });
    }
    for (const [s, ms] of f.seen) {
      const held = this.#held.get(s);
      if (held && !(held.seenMs >= ms)) held.seenMs = ms;
    }
    for (const [s, status] of f.statuses) {
      const held = this.#held.get(s);
      if (held) held.status = status;
    }
    for (const column of f.sparks) {
      let at = 0;
      f.entered.forEach((e, r) => {
        const count = column.counts[r];
        const held = this.#held.get(e.index);
        if (held && count > 0) {
          held.sparks.set(column.metric, {
            points: Array.from(column.points.subarray(at, at + count)),
            newestBucket: column.newestBucket[r],
          });
        }
        at += count;
      });
    }
    if (f.rows) {
      this.rows = Array.from(f.rows);
      const keep = new Set(this.rows);
      for (const s of [...this.#held.keys()]) if (!keep.has(s)) this.#held.delete(s);
    }
    for (const s of this.rows) {
      if (!this.#held.has(s)) this.problems.push(`row of sensor ${s} with no entry`);
    }
    this.epoch = f.epoch;
    this.seq = f.seq;
    this.onStream = f.onStream;
    this.total = f.total;
    this.matching = f.matching;
    this.offset = f.offset;
    this.intervalMs = f.intervalMs;
    if (f.attentionCounts) this.attentionCounts = f.attentionCounts;
  }

  /** The rows in order, as the client shows them. */
  window(): WindowRow[] {
    return this.rows.map((s) => {
      const held = this.#held.get(s)!;
      const values: Record<string, MetricState> = {};
      for (const [m, v] of held.values) values[this.metrics.get(m) ?? `#${m}`] = v;
      return { id: held.id, group: held.group, status: held.status, values, seenMs: held.seenMs };
    });
  }

  /** Ids of the rows in order. */
  ids(): string[] {
    return this.rows.map((s) => this.#held.get(s)?.id ?? `?${s}`);
  }

  /** A row's sparkline points for a metric name. */
  sparkline(id: string, metric: string): { points: number[]; newestBucket: number } | undefined {
    for (const held of this.#held.values()) {
      if (held.id !== id) continue;
      for (const [m, spark] of held.sparks) if (this.metrics.get(m) === metric) return spark;
    }
    return undefined;
  }

  /** Sensors the client holds state for (only the window's rows). */
  get heldCount(): number {
    return this.#held.size;
  }
}

/** A viewport client over a real WebSocket. */
export class ViewClient extends ViewState {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;

  constructor(
    url: URL | string,
    options: { protocols?: string[]; resumeFrom?: ViewState; encoding?: "compact" } = {},
  ) {
    super();
    if (options.resumeFrom) this.adopt(options.resumeFrom);
    const ws = new URL("/ws?subscribe=explicit", url);
    if (options.encoding) ws.searchParams.set("encoding", options.encoding);
    ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new WebSocket(ws, options.protocols);
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

  /** Sends a ViewSubscribe (with this client's resume point when `resume`). */
  view(spec: ViewSpec, resume = false): void {
    this.socket.send(
      encodeViewSubscribe({
        ...spec,
        resume: resume ? { epoch: this.epoch, seq: this.seq } : null,
      }),
    );
  }

  close(): Promise<CloseEvent> {
    this.socket.close();
    return this.closed;
  }
}
