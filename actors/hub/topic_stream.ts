import { groupAggregates } from "./group_aggregates.ts";
import type { FeedView, TickChanges } from "./feed_view.ts";
import type { Session } from "./session.ts";
import { matches } from "./topic.ts";
import type { TopicSpec } from "./topic.ts";
import { encodeDelta, encodeSnapshot } from "../../protocol/mod.ts";
import { allocateStates, allocateWindowStates, WINDOW_CHANGED } from "../../protocol/columns.ts";
import type {
  GroupAggregateEntry,
  MetricStates,
  SensorEntry,
  WindowStates,
} from "../../protocol/columns.ts";

export interface RingLimits {
  /** Frames older than this are dropped. Default 30 000 ms. */
  ringMs: number;
  /** Most bytes of frames kept per topic. Default 32 MiB. */
  ringBytes: number;
}

/** Bytes held by all rings together, shared by the topics of one hub. */
export class RingBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

interface RingFrame {
  seq: number;
  bytes: Uint8Array;
  at: number;
}

/**
 * One topic's stream: its own epoch and sequence numbers, the sensors it
 * carries, the sessions that receive it, and a bounded ring of its recent
 * frames for clients that reconnect. Owned by the hub.
 */
export class TopicStream {
  readonly key: string;
  readonly spec: TopicSpec;
  /** Random per stream, so a stream that was dropped and made again never matches an old resume point. */
  readonly epoch: number;
  seq = 0;
  readonly sessions = new Set<Session>();
  #member = new Uint8Array(1024);
  /** Carries every sensor: no filtering needed. */
  readonly #everything: boolean;
  readonly #ring: RingFrame[] = [];
  #ringBytes = 0;
  readonly #limits: RingLimits;
  readonly #budget: RingBudget;
  #snapshot: { seq: number; bytes: Uint8Array } | null = null;
  /** Last tick at which a session received this topic; -Infinity: never. */
  #watchedAt = -Infinity;
  readonly #windowSizesMs: readonly number[];
  readonly #countWindow: number;

  constructor(
    key: string,
    spec: TopicSpec,
    view: FeedView,
    options: {
      limits: RingLimits;
      budget: RingBudget;
      windowSizesMs?: readonly number[];
      /** Readings that avg, min and max cover, told in snapshots. Default 0 (unsaid). */
      countWindow?: number;
    },
  ) {
    this.#windowSizesMs = options.windowSizesMs ?? [];
    this.#countWindow = options.countWindow ?? 0;
    this.key = key;
    this.spec = spec;
    this.epoch = crypto.getRandomValues(new Uint32Array(1))[0];
    this.#limits = options.limits;
    this.#everything = spec.all && spec.scope === null;
    this.#budget = options.budget;
    for (const sensor of view.sensors()) {
      this.#setMember(sensor.index, matches(spec, sensor.id, sensor.group));
    }
  }

  /** Frames in the ring, oldest first (for tests and metrics). */
  get ringLength(): number {
    return this.#ring.length;
  }

  /**
   * Applies one tick's changes: the sensors that entered or changed within the
   * topic, those that left it, and the updates of its sensors. Returns the
   * encoded delta (kept in the ring), or null when nothing of it changed.
   */
  /** Group prefixes whose aggregates this topic carries: "" (all it may see) or its groups. */
  get aggregatePrefixes(): readonly string[] {
    return this.spec.all ? [""] : this.spec.groups;
  }

  advance(
    tick: TickChanges,
    now: number,
    aggregates: readonly GroupAggregateEntry[] = [],
  ): Uint8Array | null {
    const sensors: SensorEntry[] = [];
    const removed: number[] = [];
    for (const index of tick.removed ?? []) {
      if (this.#isMember(index)) removed.push(index);
      this.#setMember(index, false);
    }
    for (const sensor of tick.sensors) {
      const was = this.#isMember(sensor.index);
      const is = matches(this.spec, sensor.id, sensor.group);
      this.#setMember(sensor.index, is);
      if (is) sensors.push(sensor);
      else if (was) removed.push(sensor.index);
    }
    if (this.sessions.size > 0) this.#watchedAt = now;
    else if (now - this.#watchedAt > this.#limits.ringMs) {
      // Nobody receives it, and nobody who did could still resume from its ring:
      // encode nothing. The state moved on, so the seq does, and the ring is cut
      // there (a resume from before it gets a snapshot, never a partial replay).
      if (
        tick.updates.length > 0 || sensors.length > 0 || removed.length > 0 ||
        tick.metrics.length > 0 || tick.windows.length > 0 || tick.late.length > 0 ||
        aggregates.length > 0
      ) {
        this.seq++;
        this.release();
      }
      return null;
    }
    const updates = this.#everything ? tick.updates : this.#filter(tick.updates);
    const windows = this.spec.windows
      ? this.#filterWindows(tick.windows, WINDOW_CHANGED)
      : undefined;
    const late = this.#everything ? tick.late : tick.late.filter(([s]) => this.#isMember(s));
    if (
      updates.length === 0 && sensors.length === 0 && removed.length === 0 &&
      tick.metrics.length === 0 && (windows?.length ?? 0) === 0 && late.length === 0 &&
      aggregates.length === 0
    ) {
      this.#expire(now);
      return null;
    }
    this.seq++;
    const bytes = encodeDelta({
      epoch: this.epoch,
      seq: this.seq,
      serverTimeMs: now,
      sensors,
      metrics: tick.metrics,
      updates,
      removed,
      windows,
      aggregates,
      late,
    });
    this.#ring.push({ seq: this.seq, bytes, at: now });
    this.#ringBytes += bytes.byteLength;
    this.#budget.used += bytes.byteLength;
    this.#expire(now);
    return bytes;
  }

  /**
   * The frames after `seq`, in order, if the ring still holds all of them;
   * null when any is gone (the client then needs a snapshot).
   */
  replay(seq: number): Uint8Array[] | null {
    if (seq > this.seq || seq < 0) return null;
    if (seq === this.seq) return [];
    const first = this.#ring[0];
    if (!first || first.seq > seq + 1) return null;
    return this.#ring.filter((f) => f.seq > seq).map((f) => f.bytes);
  }

  /** The topic's full state at the current seq, encoded once per seq. */
  snapshot(view: FeedView, now: number, catchUp = false): Uint8Array {
    if (!catchUp && this.#snapshot?.seq === this.seq) return this.#snapshot.bytes;
    const state = view.snapshot();
    const sensors = this.#everything
      ? state.sensors
      : state.sensors.filter((s) => this.#isMember(s.index));
    const values = this.#everything ? state.values : this.#filter(state.values);
    const aggregates = this.#windowSizesMs.flatMap((_, size) =>
      this.aggregatePrefixes.flatMap((prefix) =>
        groupAggregates(view, prefix, size, { scope: this.spec.scope })
      )
    );
    const bytes = encodeSnapshot({
      windowSizesMs: this.#windowSizesMs,
      windows: this.spec.windows ? this.#filterWindows(view.windows(), 0) : undefined,
      aggregates,
      late: view.lateCounts().filter(([s]) => this.#isMember(s)),
      epoch: this.epoch,
      seq: this.seq,
      serverTimeMs: now,
      sensors,
      metrics: state.metrics,
      values,
      catchUp,
      countWindow: this.#countWindow,
    });
    if (!catchUp) this.#snapshot = { seq: this.seq, bytes };
    return bytes;
  }

  #filter(from: MetricStates): MetricStates {
    let n = 0;
    for (let i = 0; i < from.length; i++) if (this.#isMember(from.sensor[i])) n++;
    const out = allocateStates(n);
    let at = 0;
    for (let i = 0; i < from.length; i++) {
      if (!this.#isMember(from.sensor[i])) continue;
      out.sensor[at] = from.sensor[i];
      out.metric[at] = from.metric[i];
      out.last[at] = from.last[i];
      out.avg[at] = from.avg[i];
      out.min[at] = from.min[i];
      out.max[at] = from.max[i];
      out.timeMs[at] = from.timeMs[i];
      at++;
    }
    return out;
  }

  /** Windows of member sensors that have all of `flags`. */
  #filterWindows(from: WindowStates, flags: number): WindowStates {
    let n = 0;
    for (let i = 0; i < from.length; i++) {
      if (this.#isMember(from.sensor[i]) && (from.flags[i] & flags) === flags) n++;
    }
    if (n === from.length) return from;
    const out = allocateWindowStates(n);
    let at = 0;
    for (let i = 0; i < from.length; i++) {
      if (!this.#isMember(from.sensor[i]) || (from.flags[i] & flags) !== flags) continue;
      out.sensor[at] = from.sensor[i];
      out.metric[at] = from.metric[i];
      out.size[at] = from.size[i];
      out.flags[at] = from.flags[i];
      out.startMs[at] = from.startMs[i];
      out.count[at] = from.count[i];
      out.sum[at] = from.sum[i];
      out.min[at] = from.min[i];
      out.max[at] = from.max[i];
      out.std[at] = from.std[i];
      at++;
    }
    return out;
  }

  #isMember(index: number): boolean {
    return index < this.#member.length && this.#member[index] === 1;
  }

  #setMember(index: number, member: boolean): void {
    if (index >= this.#member.length) {
      const grown = new Uint8Array(Math.max(index + 1, this.#member.length * 2));
      grown.set(this.#member);
      this.#member = grown;
    }
    this.#member[index] = member ? 1 : 0;
  }

  /** Frees everything the ring holds (when the topic is dropped). */
  release(): void {
    this.#budget.used -= this.#ringBytes;
    this.#ringBytes = 0;
    this.#ring.length = 0;
  }

  #expire(now: number): void {
    while (
      this.#ring.length > 0 &&
      (now - this.#ring[0].at > this.#limits.ringMs || this.#ringBytes > this.#limits.ringBytes ||
        this.#budget.used > this.#budget.limit)
    ) {
      const dropped = this.#ring.shift()!.bytes.byteLength;
      this.#ringBytes -= dropped;
      this.#budget.used -= dropped;
    }
  }
}
