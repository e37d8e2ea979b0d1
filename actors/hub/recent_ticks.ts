// What a stream sent in its last few ticks, so that a session sent less
// often than every tick gets one frame covering every tick since its last:
// the parts of each tick with news, with the seq after it. Pure.
import type {
  GroupAggregateEntry,
  MetricEntry,
  SensorEntry,
  WindowStates,
} from "../../protocol/columns.ts";

/** One tick's changes as a stream sent them. */
export interface TickParts {
  tickNo: number;
  /** The stream's seq after this tick. */
  seqAfter: number;
  sensors: readonly SensorEntry[];
  metrics: readonly MetricEntry[];
  /** Only `sensor` and `metric` are read: the values are the newest, from the view. */
  updates: UpdateKeys;
  removed: readonly number[];
  /** Members that started over in the tick (removed and re-added). */
  restarted: readonly number[];
  windows?: WindowStates;
  aggregates: readonly GroupAggregateEntry[];
  late: readonly (readonly [number, number])[];
  /** `[sensor, attention code]` that changed in the tick; absent: none. */
  attention?: readonly (readonly [number, number])[];
}

/** The (sensor, metric) of a tick's updates. */
export interface UpdateKeys {
  readonly length: number;
  readonly sensor: Uint32Array;
  readonly metric: Uint16Array;
}

/** Key columns of a tick dropped, for a later tick to copy its keys into. */
interface KeyBuffers {
  sensor: Uint32Array;
  metric: Uint16Array;
}

export class RecentTicks {
  /** How many ticks back a frame may cover. */
  readonly span: number;
  #parts: TickParts[] = [];
  /**
   * Columns of dropped ticks, reused by the next ones: a fresh pair of
   * ArrayBuffers per stream per tick was churn V8 answered with full
   * collections (external memory), for keys that live ten ticks.
   */
  #spare: KeyBuffers[] = [];
  /** Every tick from this one on is covered (its parts kept, or it had no news). */
  #from = Infinity;
  /** The seq before the oldest kept tick. */
  #seqBefore = 0;

  constructor(span = 10) {
    this.span = span;
  }

  /** Whether the ticks after `since` are all covered. */
  covers(since: number): boolean {
    return since + 1 >= this.#from;
  }

  /** Covers ticks from `tickNo` on; the stream's seq before it is `seq`. */
  start(tickNo: number, seq: number): void {
    this.#recycle(this.#parts);
    this.#parts = [];
    this.#from = tickNo;
    this.#seqBefore = seq;
  }

  /** Covers nothing (the stream skipped a tick with news). */
  stop(): void {
    this.#recycle(this.#parts);
    this.#parts = [];
    this.#from = Infinity;
  }

  get recording(): boolean {
    return this.#from !== Infinity;
  }

  /**
   * Keeps a tick with news (call `start` first), with a copy of its update
   * keys: `updates` (read only below `length`) may be written again after.
   */
  record(parts: Omit<TickParts, "updates">, updates: UpdateKeys): void {
    if (!this.recording) return;
    const n = updates.length;
    let keys = this.#spare.pop();
    if (keys === undefined || keys.sensor.length < n) {
      // Room to grow into, so a slightly busier tick still reuses them.
      const size = Math.max(64, n + (n >>> 2));
      keys = { sensor: new Uint32Array(size), metric: new Uint16Array(size) };
    }
    keys.sensor.set(updates.sensor.subarray(0, n));
    keys.metric.set(updates.metric.subarray(0, n));
    this.#parts.push({
      ...parts,
      updates: { length: n, sensor: keys.sensor, metric: keys.metric },
    });
  }

  #recycle(parts: readonly TickParts[]): void {
    for (const part of parts) {
      if (this.#spare.length > this.span) return;
      const { sensor, metric } = part.updates;
      this.#spare.push({ sensor, metric });
    }
  }

  /** Drops what is older than `span` ticks before `tickNo`. */
  prune(tickNo: number): void {
    if (!this.recording) return;
    const oldest = tickNo - this.span + 1;
    while (this.#parts.length > 0 && this.#parts[0].tickNo < oldest) {
      const dropped = this.#parts.shift()!;
      this.#seqBefore = dropped.seqAfter;
      this.#recycle([dropped]);
    }
    if (this.#from < oldest) this.#from = oldest;
  }

  /**
   * Drops the ticks at or before `through`, which no session will ask for
   * again: every one has had them. Coverage (`covers`) and `seqAt` for any
   * later `since` are as before. Without it each tick's parts lived `span`
   * ticks (a second) even when every session was sent every tick.
   */
  release(through: number): void {
    const parts = this.#parts;
    let n = 0;
    while (n < parts.length && parts[n].tickNo <= through) n++;
    if (n === 0) return;
    this.#seqBefore = parts[n - 1].seqAfter;
    this.#recycle(parts.length === n ? parts : parts.slice(0, n));
    if (parts.length === n) parts.length = 0;
    else parts.splice(0, n);
  }

  /** The stream's seq after tick `since` (covered or just before). */
  seqAt(since: number): number {
    let seq = this.#seqBefore;
    for (const part of this.#parts) {
      if (part.tickNo > since) break;
      seq = part.seqAfter;
    }
    return seq;
  }

  /** The parts of the ticks after `since`, oldest first. */
  after(since: number): TickParts[] {
    return this.#parts.filter((p) => p.tickNo > since);
  }
}
