import { RateBucket } from "./rate_bucket.ts";

export interface ConnectionLimitsOptions {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxConnectionsPerKey: number;
  /** New connections per second per address and per key (a burst of 5 s worth). */
  connectRate: number;
  /** Publishes per second per address and per key (a burst of 1 s worth). */
  publishRate: number;
}

interface Holder {
  open: number;
  connects: RateBucket;
  publishes: RateBucket;
}

/**
 * The listener's limits per client address and per API key: open
 * connections, connection attempts per second, and publishes per second (a
 * publish over the rate waits; it is not refused). An address's or key's
 * buckets outlive its connections until they are full again (`sweep`), so
 * reconnecting does not reset them. Pure: time is passed in.
 */
export class ConnectionLimits {
  readonly #options: ConnectionLimitsOptions;
  readonly #addresses = new Map<string, Holder>();
  readonly #keys = new Map<string, Holder>();
  #open = 0;

  constructor(options: ConnectionLimitsOptions) {
    this.#options = options;
  }

  /** Open connections admitted and not yet released. */
  get open(): number {
    return this.#open;
  }

  /** At accept: admits a connection from `address` (and counts it), or says which limit it is over. */
  admitAddress(address: string, now: number): "ok" | "over_connections" | "over_address" {
    if (this.#open >= this.#options.maxConnections) return "over_connections";
    const holder = this.#holder(this.#addresses, address, now);
    if (holder.open >= this.#options.maxConnectionsPerAddress || !holder.connects.take(now)) {
      return "over_address";
    }
    holder.open++;
    this.#open++;
    return "ok";
  }

  releaseAddress(address: string): void {
    const holder = this.#addresses.get(address);
    if (holder && holder.open > 0) {
      holder.open--;
      this.#open--;
    }
  }

  /** Once its key is known: admits the connection for `keyId` (and counts it), or refuses. */
  admitKey(keyId: string, now: number): boolean {
    const holder = this.#holder(this.#keys, keyId, now);
    if (holder.open >= this.#options.maxConnectionsPerKey || !holder.connects.take(now)) {
      return false;
    }
    holder.open++;
    return true;
  }

  releaseKey(keyId: string): void {
    const holder = this.#keys.get(keyId);
    if (holder && holder.open > 0) holder.open--;
  }

  /** How long a publish from `address` (with `keyId`) must wait for the rates: 0 for at once. */
  publishDelay(address: string, keyId: string | null, now: number): number {
    const byAddress = this.#addresses.get(address)?.publishes.reserve(now) ?? 0;
    const byKey = keyId === null ? 0 : this.#keys.get(keyId)?.publishes.reserve(now) ?? 0;
    return Math.max(byAddress, byKey);
  }

  /** Forgets addresses and keys with no connection whose buckets are full again. */
  sweep(now: number): void {
    for (const map of [this.#addresses, this.#keys]) {
      for (const [name, holder] of map) {
        if (holder.open === 0 && holder.connects.full(now) && holder.publishes.full(now)) {
          map.delete(name);
        }
      }
    }
  }

  /** Addresses and keys tracked (bounded by connections and recent activity). */
  get tracked(): number {
    return this.#addresses.size + this.#keys.size;
  }

  #holder(map: Map<string, Holder>, name: string, now: number): Holder {
    let holder = map.get(name);
    if (!holder) {
      const { connectRate, publishRate } = this.#options;
      holder = {
        open: 0,
        connects: new RateBucket({ capacity: connectRate * 5, perSecond: connectRate }, now),
        publishes: new RateBucket({ capacity: publishRate, perSecond: publishRate }, now),
      };
      map.set(name, holder);
    }
    return holder;
  }
}
