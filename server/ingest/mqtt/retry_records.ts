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

  async committed(key: Deno.KvKey): Promise<number | null> {
    return (await this.#kv.get<number>(key)).value;
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
