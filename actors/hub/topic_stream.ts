import { groupAggregates } from "./group_aggregates.ts";
import type { FeedView, PreviousColumns, TickChanges } from "./feed_view.ts";
import { packedWindows, previousBuffer, previousColumns, statesBuffer } from "./packed_columns.ts";
import type { Session, StreamCursor } from "./session.ts";
import { matches } from "./topic.ts";
import type { TopicSpec } from "./topic.ts";
import { RecentTicks } from "./recent_ticks.ts";
import type { TickParts } from "./recent_ticks.ts";
import { RingBudget, StreamRing } from "./stream_ring.ts";
import type { TopicRows } from "./topic_rows.ts";
import type { RingLimits } from "./stream_ring.ts";
import { encodeDelta, encodeSnapshot } from "../../protocol/mod.ts";
import { encodeCompactDelta } from "../../protocol/compact_delta.ts";
import { compressFrame } from "../../protocol/compression.ts";
import {
  allocateStates,
  allocateWindowStates,
  copyWindowStates,
  WINDOW_CHANGED,
} from "../../protocol/columns.ts";
import type {
  GroupAggregateEntry,
  MetricEntry,
  MetricStates,
  SensorEntry,
  WindowStates,
} from "../../protocol/columns.ts";
import type { DeltaFrame } from "../../protocol/server_frames.ts";

export { RingBudget };
export type { RingLimits };

/**
 * How a session's topic frames are encoded: `full` Deltas (every field of
 * every update, as API clients and older clients read them) or `compact`
 * (CompactDelta, compressed when that pays; `/ws?encoding=compact`).
 */
export type Encoding = "full" | "compact";
export const ENCODINGS: readonly Encoding[] = ["full", "compact"];

/** A session on a topic: how it is encoded and where it stands. */
export interface TopicMember {
  encoding: Encoding;
  cursor: StreamCursor;
}

/** A tick's frame of a topic, per encoding (null: not encoded). */
export type TopicFrames = Record<Encoding, Uint8Array | null>;

/**
 * Decimal digits compact frames send averages with: the dashboard shows two.
 * The same for every frame of a stream, so the client's rounded values stay
 * the bases the server codes against (see CompactEncodeOptions.avgDigits).
 */
export const AVG_DIGITS = 2;

/**
 * One topic's stream: its own epoch and sequence numbers, the sensors it
 * carries, the sessions that receive it, and per encoding a bounded ring of
 * its recent frames for clients that reconnect. Per tick it encodes one
 * frame per encoding some session uses; a session sent less often gets one
 * frame covering every tick since its last (`coalesced`). Owned by the hub.
 */
export class TopicStream {
  readonly key: string;
  readonly spec: TopicSpec;
  /** Random per stream, so a stream that was dropped and made again never matches an old resume point. */
  readonly epoch: number;
  seq = 0;
  readonly sessions = new Map<Session, TopicMember>();
  #member = new Uint8Array(1024);
  /** Carries every sensor: no filtering needed. */
  readonly #everything: boolean;
  readonly #rings: Record<Encoding, StreamRing>;
  readonly #limits: RingLimits;
  /** Per encoding, the last tick's time a session used it; -Infinity: never. */
  readonly #watchedAt: Record<Encoding, number> = { full: -Infinity, compact: -Infinity };
  readonly #snapshots = new Map<string, { seq: number; bytes: Uint8Array }>();
  readonly #windowSizesMs: readonly number[];
  readonly #countWindow: number;
  readonly #tickMs: number;
  /** The hub's mirror this topic's sensors are in (a new epoch makes new topics). */
  readonly #view: FeedView;
  readonly #recent = new RecentTicks();
  /**
   * The aggregates ("group|size|metric") this topic's clients may hold: each
   * one a frame or a snapshot carried, until a frame said it is gone.
   */
  readonly #heldAggregates = new Set<string>();
  /** Coalesced frames made this tick, by encoding and first tick covered. */
  readonly #coalesced = new Map<string, Uint8Array | null>();
  #coalescedTick = -1;
  /** Per value slot of the view, the stamp of the last coalesced frame that took it. */
  #stamps = new Uint32Array(0);
  #stamp = 0;
  /** Where the hub splits each tick's updates among its topics; this topic's slot there (-1: none). */
  readonly #split: TopicRows | null;
  #slot = -1;
  /** The membership changes `admit` took of a tick, until `advance` encodes it. */
  #admitted: { tick: TickChanges; changes: MemberChanges } | null = null;

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
      /** The hub's tick, for the frames' interval. Default 100 ms. */
      tickMs?: number;
      /**
       * Where the hub splits a tick's updates among its topics (see `admit`);
       * without it the topic finds its rows itself.
       */
      rows?: TopicRows;
    },
  ) {
    this.#windowSizesMs = options.windowSizesMs ?? [];
    this.#countWindow = options.countWindow ?? 0;
    this.#tickMs = options.tickMs ?? 100;
    this.#view = view;
    this.key = key;
    this.spec = spec;
    this.epoch = crypto.getRandomValues(new Uint32Array(1))[0];
    this.#limits = options.limits;
    this.#everything = spec.all && spec.scope === null;
    // The everything-topic takes every row: it needs no slot.
    this.#split = this.#everything ? null : options.rows ?? null;
    if (this.#split) this.#slot = this.#split.acquire();
    this.#rings = {
      full: new StreamRing(options.limits, options.budget),
      compact: new StreamRing(options.limits, options.budget),
    };
    for (const sensor of view.sensors()) {
      this.#setMember(sensor.index, matches(spec, sensor.id, sensor.group));
    }
  }

  /** Frames in the rings (for tests and metrics). */
  get ringLength(): number {
    return this.#rings.full.length + this.#rings.compact.length;
  }

  /** Group prefixes whose aggregates this topic carries: "" (all it may see) or its groups. */
  get aggregatePrefixes(): readonly string[] {
    return this.spec.all ? [""] : this.spec.groups;
  }

  /**
   * The tick's aggregates of the window sizes recomputed this tick (`sizes`),
   * with an empty entry (`sensors: 0`) for each one held of those sizes that
   * is not among them: without it, a client would keep a group's last
   * aggregate after the group's sensors had all gone.
   */
  withGoneAggregates(
    sizes: ReadonlySet<number>,
    entries: readonly GroupAggregateEntry[],
  ): GroupAggregateEntry[] {
    const now = new Set(entries.map(aggregateKey));
    const out = [...entries];
    for (const key of this.#heldAggregates) {
      if (now.has(key)) continue;
      const [group, size, metric] = splitAggregateKey(key);
      if (!sizes.has(size)) continue;
      out.push({ group, size, metric, startMs: 0, sensors: 0, count: 0, sum: 0, min: 0, max: 0 });
      this.#heldAggregates.delete(key);
    }
    for (const key of now) this.#heldAggregates.add(key);
    return out;
  }

  /** Adds a session, sent this topic's state as of tick `tickNo`. */
  join(session: Session, encoding: Encoding, cursor: StreamCursor): void {
    this.sessions.set(session, { encoding, cursor });
    // From the next tick on, every tick is known: frames can cover them.
    if (!this.#recent.recording) this.#recent.start(cursor.sentAt + 1, this.seq);
  }

  /**
   * After tick `tickNo`'s offers: the ticks every session has had (and a
   * session joining later starts at `tickNo`) are never coalesced again.
   */
  offered(tickNo: number): void {
    let oldest = tickNo;
    for (const { cursor } of this.sessions.values()) {
      if (cursor.sentAt < oldest) oldest = cursor.sentAt;
    }
    this.#recent.release(oldest);
  }

  /**
   * Applies one tick's changes: the sensors that entered or changed within
   * the topic, those that left it, and the updates of its sensors. Returns
   * the tick's frame per encoding its sessions use (also kept in that
   * encoding's ring), or null when nothing of it changed. A topic that no
   * session has used for the ring's time encodes nothing: the state moves
   * on, so the seq does, and its rings are cut there (a resume from before
   * gets a snapshot, never a partial replay).
   */
  advance(
    tick: TickChanges,
    now: number,
    o: {
      tickNo?: number;
      /**
       * The tick's group aggregates for this topic, or a function that makes
       * them, called only when the topic encodes this tick. They come from the
       * tick's changed windows, so they are never its only news.
       */
      aggregates?: readonly GroupAggregateEntry[] | (() => readonly GroupAggregateEntry[]);
    } = {},
  ): TopicFrames | null {
    const tickNo = o.tickNo ?? 0;
    const given = o.aggregates ?? [];
    const admitted = this.#admitted;
    this.#admitted = null;
    const { sensors, removed, entered, restarted } = admitted?.tick === tick
      ? admitted.changes
      : this.#admit(tick);
    for (const member of this.sessions.values()) this.#watchedAt[member.encoding] = now;
    const encode = {
      full: now - this.#watchedAt.full <= this.#limits.ringMs,
      compact: now - this.#watchedAt.compact <= this.#limits.ringMs,
    };
    const news = tick.updates.length > 0 || sensors.length > 0 || removed.length > 0 ||
      tick.metrics.length > 0 || tick.windows.length > 0 || tick.late.length > 0 ||
      (typeof given !== "function" && given.length > 0) || (tick.attention?.length ?? 0) > 0;
    if (!encode.full && !encode.compact) {
      if (news) {
        this.seq++;
        this.#rings.full.release();
        this.#rings.compact.release();
        this.#recent.stop();
      }
      return null;
    }
    if (!this.#recent.recording) this.#recent.start(tickNo, this.seq);
    this.#recent.prune(tickNo);
    for (const encoding of ["full", "compact"] as const) {
      if (!encode[encoding]) this.#rings[encoding].release();
    }
    if (!news) return this.#idle(now);
    const aggregates = typeof given === "function" ? given() : given;
    // Previous values are read only by the compact encoding: not copied when no session uses it.
    const filtered = this.#everything
      ? { updates: tick.updates, previous: tick.previous }
      : this.#filter(tick.updates, encode.compact ? tick.previous : null);
    let { updates, previous } = filtered;
    // A sensor new to the topic is new to its clients: all its values go, fresh.
    if (entered.length > 0) ({ updates, previous } = this.#entering(entered, updates, previous));
    const windows = this.spec.windows
      ? this.#filterWindows(tick.windows, WINDOW_CHANGED)
      : undefined;
    const late = this.#everything ? tick.late : tick.late.filter(([s]) => this.#isMember(s));
    const changed = tick.attention ?? [];
    let attention = this.#everything ? changed : changed.filter(([s]) => this.#isMember(s));
    // A sensor new to the topic brings its state too (unless the tick already says it).
    if (entered.length > 0) {
      const told = new Set(attention.map(([s]) => s));
      const joined = entered.filter((s) => !told.has(s))
        .map((s): [number, number] => [s, this.#view.attention.code(s)]);
      if (joined.length > 0) attention = [...attention, ...joined]; // the tick's list is shared
    }
    if (
      updates.length === 0 && sensors.length === 0 && removed.length === 0 &&
      tick.metrics.length === 0 && (windows?.length ?? 0) === 0 && late.length === 0 &&
      aggregates.length === 0 && attention.length === 0
    ) {
      return this.#idle(now);
    }
    this.seq++;
    const frame: DeltaFrame = {
      epoch: this.epoch,
      seq: this.seq,
      serverTimeMs: now,
      sensors,
      metrics: tick.metrics,
      updates,
      removed,
      // Always set (empty: none), so every tick's frame has one shape; encoded only when not empty.
      restarted,
      windows,
      aggregates,
      late,
      attention,
      intervalMs: this.#tickMs,
    };
    // The tick's own columns are the view's buffers, reused two merges on:
    // what is kept past this tick is copied (only what a covering frame reads).
    // The keys are copied there whether the view's buffers or the filter's scratch: both are written again.
    this.#recent.record({
      tickNo,
      seqAfter: this.seq,
      sensors,
      metrics: tick.metrics,
      removed,
      restarted,
      windows: windows === tick.windows ? copiedWindows(windows) : windows,
      aggregates,
      late,
      attention,
    }, updates);
    const frames: TopicFrames = { full: null, compact: null };
    if (encode.full) frames.full = encodeDelta(frame);
    if (encode.compact) {
      frames.compact = compressFrame(
        encodeCompactDelta(frame, { previous, avgDigits: AVG_DIGITS }),
      );
    }
    for (const encoding of ENCODINGS) {
      const bytes = frames[encoding];
      if (bytes) this.#rings[encoding].push(this.seq, bytes, now);
    }
    return frames;
  }

  /**
   * Takes a tick's membership changes ahead of `advance`: the hub has every
   * topic admit the tick, then splits its updates among them in one pass
   * (`TopicRows.split`), then advances each.
   */
  admit(tick: TickChanges): void {
    this.#admitted = { tick, changes: this.#admit(tick) };
  }

  /** The sensors that entered or changed within the topic, and those that left it or started over. */
  #admit(tick: TickChanges): MemberChanges {
    const sensors: SensorEntry[] = [];
    const removed: number[] = [];
    const entered: number[] = [];
    for (const index of tick.removed ?? []) {
      if (this.#isMember(index)) removed.push(index);
      this.#setMember(index, false);
    }
    // A member that started over is told so, and then enters again like a new one (below).
    const restarted: number[] = [];
    for (const index of tick.restarted) {
      if (this.#isMember(index)) restarted.push(index);
      this.#setMember(index, false);
    }
    for (const sensor of tick.sensors) {
      const was = this.#isMember(sensor.index);
      const is = matches(this.spec, sensor.id, sensor.group);
      this.#setMember(sensor.index, is);
      if (is) {
        sensors.push(sensor);
        if (!was) entered.push(sensor.index);
      } else if (was) removed.push(sensor.index);
    }
    // One that started over in a group outside the topic has simply left it.
    for (let j = restarted.length - 1; j >= 0; j--) {
      if (!this.#isMember(restarted[j])) removed.push(...restarted.splice(j, 1));
    }
    return { sensors, removed, entered, restarted };
  }

  /**
   * The updates with every current value of the sensors that entered the
   * topic (those the tick did not update too), and those sensors' values
   * marked fresh: the topic's clients hold nothing of them.
   */
  #entering(
    entered: readonly number[],
    updates: MetricStates,
    previous: PreviousColumns,
  ): { updates: MetricStates; previous: PreviousColumns } {
    const view = this.#view;
    const fresh = new Set(entered);
    const updated = new Set<number>();
    for (let i = 0; i < updates.length; i++) {
      if (fresh.has(updates.sensor[i])) updated.add(updates.sensor[i] * 65_536 + updates.metric[i]);
    }
    const extra: number[] = [];
    const metrics = view.metrics();
    for (const sensor of entered) {
      for (const { index } of metrics) {
        const slot = view.valueSlot(sensor, index);
        if (slot >= 0 && !updated.has(sensor * 65_536 + index)) extra.push(slot);
      }
    }
    const n = updates.length + extra.length;
    const out = allocateStates(n);
    for (const column of STATE_COLUMNS) out[column].set(updates[column]);
    const v = view.values;
    extra.forEach((slot, j) => v.copyInto(out, updates.length + j, slot));
    const has = new Uint8Array(n);
    has.set(previous.has);
    for (let i = 0; i < n; i++) if (fresh.has(out.sensor[i])) has[i] = 0;
    const grow = (from: Float64Array) => {
      const to = new Float64Array(n);
      to.set(from);
      return to;
    };
    return {
      updates: out,
      previous: previousColumns(
        n,
        has,
        grow(previous.last),
        grow(previous.avg),
        grow(previous.min),
        grow(previous.max),
      ),
    };
  }

  #idle(now: number): null {
    this.#rings.full.expire(now);
    this.#rings.compact.expire(now);
    return null;
  }

  /**
   * One frame bringing a session that has the topic's state as of tick
   * `since` to now (the tick `tickNo`): the newest values of every sensor
   * and metric that changed in between, absolute, with the dictionary
   * entries, removals and event-time parts of those ticks. Null when nothing
   * changed; "snapshot" when those ticks are no longer all known (the
   * session then needs a snapshot). Made once per tick, encoding and `since`.
   */
  coalesced(
    since: number,
    o: { tickNo: number; encoding: Encoding; view: FeedView; period: number; now: number },
  ): Uint8Array | null | "snapshot" {
    if (!this.#recent.covers(since)) return "snapshot";
    if (this.#coalescedTick !== o.tickNo) {
      this.#coalesced.clear();
      this.#coalescedTick = o.tickNo;
    }
    const key = `${o.encoding}:${since}:${o.period}`;
    if (this.#coalesced.has(key)) return this.#coalesced.get(key)!;
    const parts = this.#recent.after(since);
    const frame = parts.length === 0 ? null : this.#merge(parts, {
      sinceSeq: this.#recent.seqAt(since),
      view: o.view,
      now: o.now,
      intervalMs: o.period * this.#tickMs,
    });
    const bytes = frame === null
      ? null
      : o.encoding === "full"
      ? encodeDelta(frame)
      : compressFrame(encodeCompactDelta(frame, { avgDigits: AVG_DIGITS }));
    this.#coalesced.set(key, bytes);
    return bytes;
  }

  /** The ticks' parts as one absolute frame, with the view's newest values. */
  #merge(
    parts: TickParts[],
    o: { sinceSeq: number; view: FeedView; now: number; intervalMs: number },
  ): DeltaFrame {
    const view = o.view;
    if (this.#stamps.length < view.valueCount) {
      this.#stamps = new Uint32Array(Math.max(view.valueCount, this.#stamps.length * 2));
    }
    if (++this.#stamp === 0xffff_ffff) {
      this.#stamps.fill(0);
      this.#stamp = 1;
    }
    const stamp = this.#stamp;
    const slots: number[] = [];
    const sensors = new Map<number, SensorEntry>();
    const metrics = new Map<number, MetricEntry>();
    const removed = new Set<number>();
    const restarted = new Set<number>();
    const windows = new Map<number, [WindowStates, number]>();
    const aggregates = new Map<string, GroupAggregateEntry>();
    const late = new Map<number, number>();
    const attention = new Map<number, number>();
    for (const part of parts) {
      const u = part.updates;
      for (let i = 0; i < u.length; i++) {
        const slot = view.valueSlot(u.sensor[i], u.metric[i]);
        if (slot < 0 || !this.#isMember(u.sensor[i]) || this.#stamps[slot] === stamp) continue;
        this.#stamps[slot] = stamp;
        slots.push(slot);
      }
      for (const s of part.sensors) sensors.set(s.index, s);
      for (const m of part.metrics) metrics.set(m.index, m);
      for (const r of part.removed) removed.add(r);
      for (const r of part.restarted) restarted.add(r);
      // What earlier ticks said of a sensor that then went or started over is not the new one's.
      if (part.removed.length + part.restarted.length > 0) {
        forgetSensors(new Set([...part.removed, ...part.restarted]), { windows, late, attention });
      }
      const w = part.windows;
      for (let i = 0; w && i < w.length; i++) {
        windows.set((w.sensor[i] * 65_536 + w.metric[i]) * 8 + w.size[i], [w, i]);
      }
      for (const a of part.aggregates) aggregates.set(`${a.group}|${a.size}|${a.metric}`, a);
      for (const [sensor, count] of part.late) late.set(sensor, count);
      for (const [sensor, code] of part.attention ?? []) attention.set(sensor, code);
    }
    const values = view.values;
    const updates = allocateStates(slots.length);
    slots.forEach((slot, i) => values.copyInto(updates, i, slot));
    const member = (s: number) => this.#isMember(s);
    // The client at `sinceSeq` holds the sensor before it started over, or before it left and
    // came back (a removal then an entry, ticks apart): either way it must drop that first.
    const startedOver = [...new Set([...restarted, ...removed])].filter(member);
    const kept = [...windows.values()].filter(([w, i]) => member(w.sensor[i]));
    const windowStates = this.spec.windows ? allocateWindowStates(kept.length) : undefined;
    if (windowStates) {
      kept.forEach(([w, i], j) => {
        for (const column of WINDOW_COLUMNS) windowStates[column][j] = w[column][i];
      });
    }
    return {
      epoch: this.epoch,
      seq: this.seq,
      serverTimeMs: o.now,
      sensors: [...sensors.values()].filter((s) => member(s.index)),
      metrics: [...metrics.values()],
      updates,
      removed: [...removed].filter((s) => !member(s)),
      restarted: startedOver,
      windows: windowStates,
      aggregates: [...aggregates.values()],
      late: [...late].filter(([s]) => member(s)),
      attention: [...attention].filter(([s]) => member(s)),
      coalesced: true,
      sinceSeq: o.sinceSeq,
      intervalMs: o.intervalMs,
    };
  }

  /**
   * The frames after `seq` in `encoding`, in order, if its ring still holds
   * all of them; null when any is gone (the client then needs a snapshot).
   */
  replay(seq: number, encoding: Encoding = "full"): Uint8Array[] | null {
    return this.#rings[encoding].replay(seq, this.seq);
  }

  /** The topic's full state at the current seq, encoded once per seq (compressed for compact sessions). */
  snapshot(
    view: FeedView,
    now: number,
    o: { catchUp?: boolean; encoding?: Encoding } = {},
  ): Uint8Array {
    const catchUp = o.catchUp ?? false;
    const encoding = o.encoding ?? "full";
    const cached = this.#snapshots.get(encoding);
    if (!catchUp && cached?.seq === this.seq) return cached.bytes;
    const state = view.snapshot();
    const sensors = this.#everything
      ? state.sensors
      : state.sensors.filter((s) => this.#isMember(s.index));
    const values = this.#everything ? state.values : this.#filter(state.values, null).updates;
    const aggregates = this.#windowSizesMs.flatMap((_, size) =>
      this.aggregatePrefixes.flatMap((prefix) =>
        groupAggregates(view, prefix, size, { scope: this.spec.scope })
      )
    );
    for (const a of aggregates) this.#heldAggregates.add(aggregateKey(a));
    const full = encodeSnapshot({
      windowSizesMs: this.#windowSizesMs,
      windows: this.spec.windows ? this.#filterWindows(view.windows(), 0) : undefined,
      aggregates,
      late: view.lateCounts().filter(([s]) => this.#isMember(s)),
      attention: sensors.map((s) => [s.index, view.attention.code(s.index)] as const),
      epoch: this.epoch,
      seq: this.seq,
      serverTimeMs: now,
      sensors,
      metrics: state.metrics,
      values,
      catchUp,
      countWindow: this.#countWindow,
    });
    const bytes = encoding === "compact" ? compressFrame(full) : full;
    if (!catchUp) this.#snapshots.set(encoding, { seq: this.seq, bytes });
    return bytes;
  }

  /**
   * The updates of member sensors, with their previous values alongside
   * (none when `previous` is null). Every topic filters every tick: its
   * rows (split among the topics by the hub, or found by a membership pass
   * here, noted in a scratch list) are copied into scratch columns
   * shared by every topic, valid until the next call: the caller encodes
   * them at once and copies what it keeps. A fresh buffer per topic per
   * tick was most of the hub's ArrayBuffer churn at a modest load, and
   * that churn, not the JS heap, set how often V8 ran a full collection.
   */
  #filter(
    from: MetricStates,
    previous: PreviousColumns | null,
  ): { updates: MetricStates; previous: PreviousColumns } {
    const split = this.#split?.taken(this.#slot, from) ?? -1;
    const n = split >= 0 ? split : memberRows(from, this.#member);
    const rows = split >= 0 ? this.#split!.rows(this.#slot) : scratchRows;
    const out = filteredStates.next(n);
    const before = filteredPrevious.next(previous ? n : 0);
    for (let at = 0; at < n; at++) {
      const i = rows[at];
      out.sensor[at] = from.sensor[i];
      out.metric[at] = from.metric[i];
      out.last[at] = from.last[i];
      out.avg[at] = from.avg[i];
      out.min[at] = from.min[i];
      out.max[at] = from.max[i];
      out.timeMs[at] = from.timeMs[i];
    }
    if (previous) {
      for (let at = 0; at < n; at++) {
        const i = rows[at];
        before.has[at] = previous.has[i];
        before.last[at] = previous.last[i];
        before.avg[at] = previous.avg[i];
        before.min[at] = previous.min[i];
        before.max[at] = previous.max[i];
      }
    }
    return { updates: out, previous: before };
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
      for (const column of WINDOW_COLUMNS) out[column][at] = from[column][i];
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
    if (this.#slot >= 0) this.#split!.set(index, this.#slot, member);
  }

  /** Frees everything the rings hold (when the topic is dropped). */
  release(): void {
    this.#rings.full.release();
    this.#rings.compact.release();
    if (this.#slot >= 0) this.#split!.release(this.#slot);
    this.#slot = -1;
  }
}

/** Rows of the tick's updates that belong to a topic (`#filter`'s scratch; nothing awaits in between). */
let scratchRows = new Int32Array(1024);
/** Notes the rows of `from` whose sensor is a member in `scratchRows`; returns how many. */
function memberRows(from: MetricStates, member: Uint8Array): number {
  if (scratchRows.length < from.length) {
    scratchRows = new Int32Array(Math.max(from.length, scratchRows.length * 2));
  }
  const rows = scratchRows;
  let n = 0;
  for (let i = 0; i < from.length; i++) {
    const sensor = from.sensor[i];
    if (sensor < member.length && member[sensor] === 1) rows[n++] = i;
  }
  return n;
}

/** What a tick changed of a topic's membership (see `TopicStream.admit`). */
interface MemberChanges {
  sensors: SensorEntry[];
  removed: number[];
  entered: number[];
  restarted: number[];
}
/** `#filter`'s output columns, reused call after call (see there). */
const filteredStates = statesBuffer();
const filteredPrevious = previousBuffer();

const STATE_COLUMNS = [
  "sensor",
  "metric",
  "last",
  "avg",
  "min",
  "max",
  "timeMs",
] as const satisfies readonly (keyof Omit<MetricStates, "length">)[];

const WINDOW_COLUMNS = [
  "sensor",
  "metric",
  "size",
  "flags",
  "startMs",
  "count",
  "sum",
  "min",
  "max",
  "std",
] as const satisfies readonly (keyof Omit<WindowStates, "length">)[];

/** Drops what a coalesced frame gathered so far of `gone` sensors (rare: removals and restarts). */
function forgetSensors(
  gone: ReadonlySet<number>,
  o: {
    windows: Map<number, [WindowStates, number]>;
    late: Map<number, number>;
    attention: Map<number, number>;
  },
): void {
  for (const [key, [w, i]] of o.windows) if (gone.has(w.sensor[i])) o.windows.delete(key);
  for (const s of gone) {
    o.late.delete(s);
    o.attention.delete(s);
  }
}

/** A copy of `w` in one buffer. */
function copiedWindows(w: WindowStates): WindowStates {
  const out = packedWindows(w.length);
  copyWindowStates(w, out, w.length);
  return out;
}

/** An aggregate's key among those a topic's clients hold. */
function aggregateKey(a: GroupAggregateEntry): string {
  return `${a.group}|${a.size}|${a.metric}`;
}

function splitAggregateKey(key: string): [string, number, number] {
  // The group may hold "|": size and metric are the last two fields.
  const metricAt = key.lastIndexOf("|");
  const sizeAt = key.lastIndexOf("|", metricAt - 1);
  return [
    key.slice(0, sizeAt),
    Number(key.slice(sizeAt + 1, metricAt)),
    Number(key.slice(metricAt + 1)),
  ];
}
