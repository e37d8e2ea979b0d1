import { CloseCode } from "../../protocol/close_codes.ts";

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

export interface SessionPolicy {
  /** Unsent bytes above which deltas are skipped. Default 1 MiB. */
  maxBufferedBytes: number;
  /** How long a client may stay above the cap before it is closed as slow. Default 10 000 ms. */
  slowCloseMs: number;
  /** How long a client may stay silent (no Pong) before it is dropped. Default 45 000 ms. */
  silenceLimitMs: number;
}

export const DEFAULT_SESSION_POLICY: Readonly<SessionPolicy> = Object.freeze({
  maxBufferedBytes: 1 << 20,
  slowCloseMs: 10_000,
  silenceLimitMs: 45_000,
});

/**
 * The hub's side of one connected client: it applies the slow-client
 * policy. While its unsent bytes are over the cap it skips deltas; once
 * drained it gets a fresh snapshot instead of stale frames; if it stays over
 * the cap too long it is closed. It never buffers without bound. Owned and
 * changed by the hub only; time is passed in.
 */
export class Session {
  readonly #sink: FrameSink;
  readonly #policy: SessionPolicy;
  #laggingSince: number | null = null;
  #missed = false;
  #closed = false;
  /** Deltas skipped while over the cap. */
  skipped = 0;
  /** Snapshots sent to catch up after lagging. */
  resyncs = 0;
  /** The code the hub closed it with, or 0. */
  closeCode = 0;
  /** Most unsent bytes seen queued for this client. */
  peakBuffered = 0;

  constructor(sink: FrameSink, policy: Partial<SessionPolicy> = {}) {
    this.#sink = sink;
    this.#policy = { ...DEFAULT_SESSION_POLICY, ...policy };
  }

  /** Closed by the hub, by the client, or because a send failed. */
  get closed(): boolean {
    return this.#closed || this.#sink.closed;
  }

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
   * Offers this tick's delta (or null when none). Returns false once the
   * session is closed, so the hub can forget it.
   */
  deliver(delta: Uint8Array | null, now: number, snapshot: () => Uint8Array): boolean {
    if (this.closed) return false;
    const buffered = this.#sink.bufferedAmount;
    if (buffered > this.peakBuffered) this.peakBuffered = buffered;
    if (buffered > this.#policy.maxBufferedBytes) {
      this.#laggingSince ??= now;
      if (delta) {
        this.skipped++;
        this.#missed = true;
      }
      if (now - this.#laggingSince >= this.#policy.slowCloseMs) {
        this.close(CloseCode.Slow, "slow consumer: unsent bytes stayed over the cap");
        return false;
      }
      return true;
    }
    this.#laggingSince = null;
    if (this.#missed) {
      this.#missed = false;
      this.resyncs++;
      return this.send(snapshot());
    }
    return delta ? this.send(delta) : true;
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
