import { CloseCode } from "../../protocol/close_codes.ts";
import { DEFAULT_RATE_POLICY, RateLadder } from "./rate_ladder.ts";
import type { RatePolicy } from "./rate_ladder.ts";

/**
 * The socket side of a session: where its frames go (a WebSocket, or a fake
 * in tests). The socket side owns it and alone changes it (it records what
 * it hears, and that the connection closed); the hub sends through it and
 * reads it.
 */
export interface FrameSink {
  send(frame: Uint8Array): void;
  /** Bytes queued but not yet handed to the network. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
  /** True once the connection is closing or closed, whichever side closed it. */
  readonly closed: boolean;
  /** When the client last sent a valid message (ms since epoch). */
  readonly heardAt: number;
}

export interface SessionPolicy extends RatePolicy {
  /** Unsent bytes above which frames are skipped. Default 1 MiB. */
  maxBufferedBytes: number;
  /** How long a client may stay above the cap before it is closed as slow. Default 10 000 ms. */
  slowCloseMs: number;
  /** How long a client may stay silent (no Pong) before it is dropped. Default 45 000 ms. */
  silenceLimitMs: number;
}

export const DEFAULT_SESSION_POLICY: Readonly<SessionPolicy> = Object.freeze({
  ...DEFAULT_RATE_POLICY,
  maxBufferedBytes: 1 << 20,
  slowCloseMs: 10_000,
  silenceLimitMs: 45_000,
});

/**
 * Every session made with the same policy object shares one resolved copy
 * (the hub passes its own for all of them): at 10,000 sessions a copy each
 * was an object and its properties per client. Read once per object: a
 * policy is not changed after sessions are made with it.
 */
const NO_POLICY: Partial<SessionPolicy> = Object.freeze({});
const resolved = new WeakMap<Partial<SessionPolicy>, Readonly<SessionPolicy>>();

/** `policy` over the defaults (the step-down bytes a quarter of the cap unless said), shared. */
export function sessionPolicy(policy: Partial<SessionPolicy> = NO_POLICY): Readonly<SessionPolicy> {
  let full = resolved.get(policy);
  if (full === undefined) {
    // Sent less often well before anything is skipped: a quarter of the cap unless said.
    const maxBufferedBytes = policy.maxBufferedBytes ?? DEFAULT_SESSION_POLICY.maxBufferedBytes;
    full = Object.freeze({
      ...DEFAULT_SESSION_POLICY,
      ...policy,
      stepDownBytes: policy.stepDownBytes ?? maxBufferedBytes / 4,
    });
    resolved.set(policy, full);
  }
  return full;
}

/**
 * Where one session stands in one of its streams (its topic, its window):
 * the tick up to which it has been sent the stream's changes, and whether it
 * skipped a frame (then it needs a catch-up snapshot, not the next frame).
 */
export interface StreamCursor {
  sentAt: number;
  missed: boolean;
}

/** A cursor for a session that has the stream's state as of tick `tickNo`. */
export function cursorAt(tickNo: number): StreamCursor {
  return { sentAt: tickNo, missed: false };
}

/**
 * The hub's side of one connected client: its rate and the slow-client
 * policy. Each tick it samples the unsent bytes: staying high moves its rate
 * down a step (`RateLadder`), and so does a client that reports frames
 * taking too long; clean for a while, it moves back up. A stream offers it
 * a frame only on the ticks its rate is due, covering everything since the
 * last one it was sent. Over the skip cap it skips frames and gets a
 * catch-up snapshot once drained (at the slowest rate by then); if it stays
 * over the cap too long it is closed. It never buffers without bound. Owned
 * and changed by the hub only; time is passed in.
 */
export class Session {
  readonly #sink: FrameSink;
  readonly #policy: Readonly<SessionPolicy>;
  readonly rate: RateLadder;
  #laggingSince: number | null = null;
  #closed = false;
  /** Frames skipped while over the cap. */
  skipped = 0;
  /** Snapshots sent to catch up after lagging. */
  resyncs = 0;
  /** The code the hub closed it with, or 0. */
  closeCode = 0;
  /** Most unsent bytes seen queued for this client. */
  peakBuffered = 0;

  constructor(
    sink: FrameSink,
    policy: Partial<SessionPolicy> = NO_POLICY,
    options: { tickMs?: number; now?: number } = {},
  ) {
    this.#sink = sink;
    this.#policy = sessionPolicy(policy);
    this.rate = new RateLadder(this.#policy, options);
  }

  /** Closed by the hub, by the client, or because a send failed. */
  get closed(): boolean {
    return this.#closed || this.#sink.closed;
  }

  /** Over the skip cap: frames are skipped. */
  get lagging(): boolean {
    return this.#laggingSince !== null;
  }

  /** Sends a frame unconditionally (the first snapshot, an error). */
  send(frame: Uint8Array): boolean {
    if (this.closed) return false;
    try {
      this.#sink.send(frame);
      return true;
    } catch {
      this.#closed = true;
      return false;
    }
  }

  /**
   * Once per tick, before any stream offers a frame: samples the unsent
   * bytes, moves the rate, and closes a client that stayed over the cap too
   * long. Returns false once the session is closed, so the hub can forget it.
   */
  tick(now: number): boolean {
    if (this.closed) return false;
    const buffered = this.#sink.bufferedAmount;
    if (buffered > this.peakBuffered) this.peakBuffered = buffered;
    if (buffered > this.#policy.maxBufferedBytes) {
      this.#laggingSince ??= now;
      // Sent less often from here: the catch-up snapshot, and what follows it, at the slowest rate.
      this.rate.slowest(now);
      if (now - this.#laggingSince >= this.#policy.slowCloseMs) {
        this.close(CloseCode.Slow, "slow consumer: unsent bytes stayed over the cap");
        return false;
      }
      return true;
    }
    this.#laggingSince = null;
    this.rate.sample(buffered, now);
    return true;
  }

  /** Whether this session is sent its streams' frames at tick `tickNo` (its rate is due). */
  due(tickNo: number): boolean {
    return tickNo % this.rate.period === 0;
  }

  /** Takes the client's report of its frame time (ms, 95th percentile). */
  report(frameMs: number, now: number): void {
    this.rate.report(frameMs, now);
  }

  /**
   * Offers one stream's frame at a tick the session is due (null: nothing
   * changed for it). While over the cap the frame is skipped; once drained
   * after a skip, `snapshot()` goes instead. Returns false once closed.
   */
  offer(
    cursor: StreamCursor,
    frame: Uint8Array | null,
    o: { tickNo: number; snapshot: () => Uint8Array },
  ): boolean {
    if (this.closed) return false;
    if (this.lagging) {
      if (frame || cursor.missed) {
        if (frame) this.skipped++;
        cursor.missed = true;
      }
      return true;
    }
    cursor.sentAt = o.tickNo;
    if (cursor.missed) {
      cursor.missed = false;
      this.resyncs++;
      return this.send(o.snapshot());
    }
    return frame ? this.send(frame) : true;
  }

  /** Pings the client, or drops it if it has been silent (nothing heard) too long. */
  ping(frame: Uint8Array, now: number): boolean {
    if (this.closed) return false;
    if (now - this.#sink.heardAt > this.#policy.silenceLimitMs) {
      this.close(CloseCode.PingTimeout, "no pong within the liveness limit");
      return false;
    }
    return this.lagging ? true : this.send(frame);
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeCode = code;
    try {
      this.#sink.close(code, reason);
    } catch {
      // Already closing; the hub forgets the session either way.
    }
  }
}
