const PREFIX = "mqtt_retry";

/**
 * What the retry lookup needs from the store: a persistent session's
 * committed publishes by packet id, each with its fingerprint.
 */
export interface RetryStore {
  key(scope: string, clientId: string, packetId: number): Deno.KvKey;
  /** The mutation that records a publish; it commits with the publish's readings. */
  record(key: Deno.KvKey, fingerprint: number): Deno.KvMutation;
  /** The fingerprint committed under `key`, or null. */
  committed(key: Deno.KvKey): Promise<number | null>;
  /** Whether a session has any record (a fresh session needs no lookups). */
  any(scope: string, clientId: string): Promise<boolean>;
  /** Forgets a session's records (its client started clean, or disconnected cleanly). */
  forget(scope: string, clientId: string): Promise<number>;
}

/**
 * Retry records in Deno KV: `["mqtt_retry", scope, clientId, packetId]` →
 * fingerprint, written in the same atomic commit as the publish's readings
 * (`GroupCommit`, `KvLog` records) and expiring after `ttlMs`. At most one
 * per packet id and session (65,536), and only for sessions that may resume.
 */
export class KvRetryRecords implements RetryStore {
  readonly #kv: Deno.Kv;
  readonly #ttlMs: number;
  /** Lookups asked for in this turn: read together, ten keys a read (Deno KV's getMany cap). */
  #asked: { key: Deno.KvKey; resolve: (v: number | null) => void; reject: (e: unknown) => void }[] =
    [];

  constructor(kv: Deno.Kv, options: { ttlMs: number }) {
    this.#kv = kv;
    this.#ttlMs = options.ttlMs;
  }

  key(scope: string, clientId: string, packetId: number): Deno.KvKey {
    return [PREFIX, scope, clientId, packetId];
  }

  record(key: Deno.KvKey, fingerprint: number): Deno.KvMutation {
    return { type: "set", key, value: fingerprint, expireIn: this.#ttlMs };
  }

  committed(key: Deno.KvKey): Promise<number | null> {
    return new Promise((resolve, reject) => {
      if (this.#asked.push({ key, resolve, reject }) === 1) queueMicrotask(() => this.#read());
    });
  }

  async any(scope: string, clientId: string): Promise<boolean> {
    for await (const _ of this.#kv.list({ prefix: [PREFIX, scope, clientId] }, { limit: 1 })) {
      return true;
    }
    return false;
  }

  #read(): void {
    const asked = this.#asked;
    this.#asked = [];
    for (let i = 0; i < asked.length; i += 10) {
      const group = asked.slice(i, i + 10);
      this.#kv.getMany<number[]>(group.map((a) => a.key)).then(
        (found) => group.forEach((a, k) => a.resolve(found[k].value)),
        (error) => group.forEach((a) => a.reject(error)),
      );
    }
  }

  async forget(scope: string, clientId: string): Promise<number> {
    let deleted = 0;
    let op = this.#kv.atomic();
    let size = 0;
    for await (const entry of this.#kv.list({ prefix: [PREFIX, scope, clientId] })) {
      op.delete(entry.key);
      if (++size === 500) {
        await op.commit();
        deleted += size;
        op = this.#kv.atomic();
        size = 0;
      }
    }
    if (size > 0) await op.commit();
    return deleted + size;
  }
}
