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

export class RecentTicks {
  /** How many ticks back a frame may cover. */
  readonly span: number;
  #parts: TickParts[] = [];
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
    this.#parts = [];
    this.#from = tickNo;
    this.#seqBefore = seq;
  }

  /** Covers nothing (the stream skipped a tick with news). */
  stop(): void {
    this.#parts = [];
    this.#from = Infinity;
  }

  get recording(): boolean {
    return this.#from !== Infinity;
  }

  /** Keeps a tick with news (call `start` first). */
  record(parts: TickParts): void {
    if (this.recording) this.#parts.push(parts);
  }

  /** Drops what is older than `span` ticks before `tickNo`. */
  prune(tickNo: number): void {
    if (!this.recording) return;
    const oldest = tickNo - this.span + 1;
    while (this.#parts.length > 0 && this.#parts[0].tickNo < oldest) {
      this.#seqBefore = this.#parts.shift()!.seqAfter;
    }
    if (this.#from < oldest) this.#from = oldest;
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
