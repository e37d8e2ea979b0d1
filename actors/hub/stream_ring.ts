// A stream's recovery ring: its recent frames by seq, bounded by time, by
// bytes and by a budget all rings of a hub share. A reconnecting client
// that names a seq the ring still covers gets the frames after it; any
// other gets a snapshot. Pure: time is passed in.

export interface RingLimits {
  /** Frames older than this are dropped. Default 30 000 ms. */
  ringMs: number;
  /** Most bytes of frames kept per stream. Default 32 MiB. */
  ringBytes: number;
}

/** Bytes held by all rings together, shared by the streams of one hub. */
export class RingBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

interface RingFrame {
  seq: number;
  bytes: Uint8Array;
  at: number;
}

export class StreamRing {
  readonly #frames: RingFrame[] = [];
  #bytes = 0;
  readonly #limits: RingLimits;
  readonly #budget: RingBudget;

  constructor(limits: RingLimits, budget: RingBudget) {
    this.#limits = limits;
    this.#budget = budget;
  }

  get length(): number {
    return this.#frames.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps the frame with `seq` (one more than the last kept, or the ring was cut). */
  push(seq: number, bytes: Uint8Array, now: number): void {
    const last = this.#frames.at(-1);
    if (last && last.seq !== seq - 1) this.release(); // a gap: what it held no longer chains
    this.#frames.push({ seq, bytes, at: now });
    this.#bytes += bytes.byteLength;
    this.#budget.used += bytes.byteLength;
    this.expire(now);
  }

  /**
   * The frames after `seq` up to `current`, in order, if the ring holds all
   * of them; null when any is gone (the client then needs a snapshot).
   */
  replay(seq: number, current: number): Uint8Array[] | null {
    if (seq > current || seq < 0) return null;
    if (seq === current) return [];
    const first = this.#frames[0];
    const last = this.#frames.at(-1);
    if (!first || first.seq > seq + 1 || last!.seq !== current) return null;
    return this.#frames.filter((f) => f.seq > seq).map((f) => f.bytes);
  }

  /** Drops frames past the ring's time, its bytes, or the shared budget. */
  expire(now: number): void {
    const frames = this.#frames;
    while (
      frames.length > 0 &&
      (now - frames[0].at > this.#limits.ringMs || this.#bytes > this.#limits.ringBytes ||
        this.#budget.used > this.#budget.limit)
    ) {
      const dropped = frames.shift()!.bytes.byteLength;
      this.#bytes -= dropped;
      this.#budget.used -= dropped;
    }
  }

  /** Frees every frame (the stream is dropped, or its frames no longer chain). */
  release(): void {
    this.#budget.used -= this.#bytes;
    this.#bytes = 0;
    this.#frames.length = 0;
  }
}
