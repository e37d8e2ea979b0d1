/** One publish's place in its connection's line of acknowledgements. */
export interface AckSlot {
  done: (error: Error | null) => void;
  settled: boolean;
  error: Error | null;
}

/**
 * Runs a connection's acknowledgement callbacks in the order its publishes
 * arrived, whatever order their work finishes in: PUBACKs must go out in
 * PUBLISH order [MQTT-4.6.0-2], and a retry lookup or a rate wait can make a
 * later publish ready first.
 */
export class OrderedAcks {
  #line: AckSlot[] = [];
  #head = 0;
  #idle: (() => void)[] = [];

  /** Reserves the next place in line for `done`. */
  push(done: (error: Error | null) => void): AckSlot {
    const slot: AckSlot = { done, settled: false, error: null };
    this.#line.push(slot);
    return slot;
  }

  /** Marks a place finished, then runs every finished callback at the head of the line. */
  settle(slot: AckSlot, error: Error | null = null): void {
    if (slot.settled) return;
    slot.settled = true;
    slot.error = error;
    const line = this.#line;
    while (this.#head < line.length && line[this.#head].settled) {
      const next = line[this.#head++];
      next.done(next.error);
    }
    if (this.#head === line.length) {
      line.length = 0;
      this.#head = 0;
      for (const resolve of this.#idle.splice(0)) resolve();
    } else if (this.#head > 1024 && this.#head * 2 > line.length) {
      line.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Places reserved and not yet run. */
  get pending(): number {
    return this.#line.length - this.#head;
  }

  /** Resolves once every place reserved so far has run. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
