/**
 * Which publishes of one connection may be retries of publishes committed
 * before it (whose PUBACK was lost in a crash or a dropped connection): only
 * those are looked up. A client resends its unacknowledged publishes first
 * after it reconnects, each with its old packet id, so a retry is among the
 * connection's first publishes and is the first use of its id on it. mqtt.js
 * resends without the DUP flag, so the flag alone does not tell; a publish
 * with DUP set is always looked up. Clients resend in the order they first
 * sent, and a connection's publishes commit in order, so the retries already
 * committed come first: once a lookup finds nothing, the rest are new.
 */
export class RetryWindow {
  #left: number;
  #seen: Set<number> | null;
  readonly #dupOnly: boolean;

  /**
   * `firstPublishes`: how many of the connection's first publishes may be
   * retries (the most a client keeps in flight). `dupOnly`: only DUP
   * publishes are (a broker such as Mosquitto sets the flag on redelivery).
   */
  constructor(options: { firstPublishes: number; dupOnly?: boolean }) {
    this.#dupOnly = options.dupOnly ?? false;
    this.#left = this.#dupOnly ? 0 : options.firstPublishes;
    this.#seen = this.#left > 0 ? new Set() : null;
  }

  /** A lookup found no committed publish: later ones are not retries (unless DUP). */
  miss(): void {
    this.#left = 0;
    this.#seen = null;
  }

  /** Whether the publish with this packet id may be a retry; counts it. */
  mayBeRetry(packetId: number, dup: boolean): boolean {
    const seen = this.#seen;
    let first = false;
    if (seen !== null) {
      first = !seen.has(packetId);
      if (first) seen.add(packetId);
      if (--this.#left === 0) this.#seen = null;
    }
    return dup || first;
  }
}
