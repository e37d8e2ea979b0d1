/**
 * Open connections per key (a client address, a token subject), at most
 * `limit` each. Keys with none open are forgotten, so memory follows the
 * connections that are open.
 */
export class ConnectionQuota {
  readonly limit: number;
  readonly #open = new Map<string, number>();

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Takes a slot for `key`; false when it already has `limit` open. */
  take(key: string): boolean {
    const open = this.#open.get(key) ?? 0;
    if (open >= this.limit) return false;
    this.#open.set(key, open + 1);
    return true;
  }

  /** Gives back a slot taken for `key`. */
  give(key: string): void {
    const left = (this.#open.get(key) ?? 1) - 1;
    if (left > 0) this.#open.set(key, left);
    else this.#open.delete(key);
  }

  /** Connections open for `key`. */
  count(key: string): number {
    return this.#open.get(key) ?? 0;
  }

  /** Keys with a connection open. */
  get keys(): number {
    return this.#open.size;
  }
}
