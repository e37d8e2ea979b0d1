/**
 * A bounded FIFO queue between senders and one actor. Senders that find it
 * full wait in `put` (backpressure) or are refused by `offer`; memory stays
 * bounded by `capacity` messages plus one waiting sender per producer.
 */
export class Mailbox<M> {
  readonly capacity: number;
  #items: (M | undefined)[];
  #head = 0;
  #size = 0;
  #takers: { resolve: (message: M) => void; reject: (error: Error) => void }[] = [];
  #putters: (() => void)[] = [];
  #closed = false;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create mailbox: capacity ${capacity} is not a positive integer`);
    }
    this.capacity = capacity;
    this.#items = new Array(capacity);
  }

  /** Messages waiting to be taken. */
  get size(): number {
    return this.#size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a message if there is room; returns false when full or closed. */
  offer(message: M): boolean {
    if (this.#closed) return false;
    const taker = this.#takers.shift();
    if (taker) {
      taker.resolve(message);
      return true;
    }
    if (this.#size === this.capacity) return false;
    this.#items[(this.#head + this.#size) % this.capacity] = message;
    this.#size++;
    return true;
  }

  /** Adds a message, waiting while the mailbox is full. */
  async put(message: M): Promise<void> {
    while (!this.offer(message)) {
      if (this.#closed) throw new Deno.errors.Interrupted("Cannot send: mailbox is closed");
      await new Promise<void>((resolve) => this.#putters.push(resolve));
    }
  }

  /** Takes the oldest message, waiting while the mailbox is empty. */
  take(): Promise<M> {
    if (this.#size > 0) {
      const message = this.#items[this.#head] as M;
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#size--;
      this.#putters.shift()?.();
      return Promise.resolve(message);
    }
    if (this.#closed) {
      return Promise.reject(new Deno.errors.Interrupted("Cannot receive: mailbox is closed"));
    }
    return new Promise<M>((resolve, reject) => this.#takers.push({ resolve, reject }));
  }

  /** Removes and returns every waiting message. */
  drain(): M[] {
    const drained: M[] = [];
    while (this.#size > 0) {
      drained.push(this.#items[this.#head] as M);
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#size--;
    }
    for (const wake of this.#putters.splice(0)) wake();
    return drained;
  }

  /** Refuses further messages and wakes every waiter. */
  close(): void {
    this.#closed = true;
    for (const wake of this.#putters.splice(0)) wake();
    for (const taker of this.#takers.splice(0)) {
      taker.reject(new Deno.errors.Interrupted("Cannot receive: mailbox is closed"));
    }
  }
}
