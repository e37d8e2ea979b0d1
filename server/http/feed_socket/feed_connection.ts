import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ConnectionQuota } from "./connection_quota.ts";
import type { TransportStats } from "../transport_stats.ts";

/**
 * One feed connection's slots and its end: it holds a slot of its client
 * address (and, once authenticated, of its token subject) until the
 * connection is gone, and a close that the client does not take in within
 * `closeGraceMs` (it stopped reading) ends in an abort, which drops the
 * frames still queued for it.
 */
export class FeedConnection {
  readonly #socket: Duplex;
  readonly #address: string;
  readonly #addresses: ConnectionQuota;
  readonly #subjects: ConnectionQuota;
  readonly #stats: TransportStats;
  readonly #closeGraceMs: number;
  #counted = true;
  #subject: string | null = null;
  #abortTimer: ReturnType<typeof setTimeout> | undefined;
  /** Runs once when the connection is released (e.g. to stop its timers). */
  onRelease: (() => void) | null = null;

  /** For a connection whose address slot was taken. */
  constructor(
    socket: Duplex,
    deps: {
      address: string;
      addresses: ConnectionQuota;
      subjects: ConnectionQuota;
      stats: TransportStats;
      closeGraceMs: number;
    },
  ) {
    this.#socket = socket;
    this.#address = deps.address;
    this.#addresses = deps.addresses;
    this.#subjects = deps.subjects;
    this.#stats = deps.stats;
    this.#closeGraceMs = deps.closeGraceMs;
    this.#stats.feedSockets++;
  }

  /** Counts the connection against a token subject too; false when that is at its limit. */
  takeSubject(subject: string): boolean {
    if (!this.#subjects.take(subject)) return false;
    this.#subject = subject;
    return true;
  }

  /** Frees the connection's slots; called once it is gone (or being aborted). */
  release(): void {
    clearTimeout(this.#abortTimer);
    if (this.#subject !== null) {
      this.#subjects.give(this.#subject);
      this.#subject = null;
    }
    if (!this.#counted) return;
    this.#counted = false;
    this.onRelease?.();
    this.#stats.feedSockets--;
    this.#addresses.give(this.#address);
  }

  /** Ends the connection at once (RST where possible), dropping whatever is still queued. */
  abort(): void {
    if (!this.#counted) return;
    this.#stats.feedAborted++;
    this.release();
    try {
      (this.#socket as Socket).resetAndDestroy();
    } catch {
      this.#socket.destroy(); // a TLS socket, or one already gone
    }
  }

  /** A close frame went out: unless the connection is gone within the grace, abort it. */
  abortUnlessClosed(): void {
    clearTimeout(this.#abortTimer);
    if (this.#counted) this.#abortTimer = setTimeout(() => this.abort(), this.#closeGraceMs);
  }
}
