/**
 * The QoS 2 publishes the listener answered with PUBREC and has not yet had
 * a PUBREL for, by connection: their packet ids only. aedes keeps these in
 * its persistence (the whole packet, per client id, until PUBREL or a clean
 * session) to recognise a resent PUBLISH; here its readings are durable
 * before the PUBREC and retries are recognised by the retry records, so the
 * packet id is all that is needed, and only while its connection lasts.
 *
 * Bounded: a connection holds at most aedes's `maxInflightInbound` (1,000;
 * aedes closes it past that), a connection's ids go when it closes, and all
 * connections together hold at most `max`: past it the oldest ids go first
 * (`onForget`; a PUBREL for one still gets its PUBCOMP, a resend of it is
 * recognised by its retry record, or for a clean session stored again).
 */
export class Qos2Receipts<C extends object> {
  readonly #max: number;
  readonly #onForget: (client: C, messageId: number) => void;
  /** Connections in the order they first held an id, each with its ids in arrival order. */
  readonly #held = new Map<C, Set<number>>();
  #size = 0;
  /** Ids forgotten because `max` was reached. */
  forgotten = 0;

  constructor(options: { max: number; onForget?: (client: C, messageId: number) => void }) {
    this.#max = options.max;
    this.#onForget = options.onForget ?? (() => {});
  }

  /** Ids held now, over every connection. */
  get size(): number {
    return this.#size;
  }

  add(client: C, messageId: number): void {
    let ids = this.#held.get(client);
    if (!ids) this.#held.set(client, ids = new Set());
    if (ids.has(messageId)) return;
    ids.add(messageId);
    this.#size++;
    while (this.#size > this.#max) this.#forgetOldest();
  }

  has(client: C, messageId: number): boolean {
    return this.#held.get(client)?.has(messageId) ?? false;
  }

  /** The PUBREL came: true when the id was held. */
  delete(client: C, messageId: number): boolean {
    const ids = this.#held.get(client);
    if (!ids?.delete(messageId)) return false;
    this.#size--;
    if (ids.size === 0) this.#held.delete(client);
    return true;
  }

  /** The connection ended (or starts a clean session): its ids go. */
  drop(client: C): void {
    const ids = this.#held.get(client);
    if (!ids) return;
    this.#size -= ids.size;
    this.#held.delete(client);
  }

  #forgetOldest(): void {
    const [client, ids] = this.#held.entries().next().value!;
    const [messageId] = ids;
    this.delete(client, messageId);
    this.forgotten++;
    this.#onForget(client, messageId);
  }
}
