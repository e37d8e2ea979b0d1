import { KEYS } from "../../store/mod.ts";

const PREFIX = KEYS.mqttRetry;
const EPOCH = KEYS.mqttSessionEpoch;
/**
 * How long a session's epoch is kept after it last moved: far longer than
 * its records live, so an epoch never falls back onto records still alive.
 * One small record per client id that disconnected cleanly in that time.
 */
const EPOCH_TTL_MS = 30 * 86_400_000;

/** A persistent session's place in the store, read when it connects. */
export interface RetrySession {
  /** Bumped each time the session's records are forgotten: older records no longer count. */
  epoch: number;
  /** Records of this epoch exist: a retry of one of them may come (a fresh session has none). */
  resumed: boolean;
}

/**
 * What the retry lookup needs from the store: a persistent session's
 * committed publishes by packet id, each with its fingerprint.
 */
export interface RetryStore {
  /** The session's current epoch, and whether it left records in it. */
  open(scope: string, clientId: string): Promise<RetrySession>;
  key(scope: string, clientId: string, epoch: number, packetId: number): Deno.KvKey;
  /** The mutation that records a publish; it commits with the publish's readings. */
  record(key: Deno.KvKey, fingerprint: number): Deno.KvMutation;
  /** The fingerprint committed under `key`, or null. */
  committed(key: Deno.KvKey): Promise<number | null>;
  /** Forgets a session's records (its client started clean, or disconnected cleanly). */
  forget(scope: string, clientId: string): Promise<void>;
}

/**
 * Retry records in Deno KV: `["mqtt_retry", scope, clientId, epoch,
 * packetId]` → fingerprint, written in the same atomic commit as the
 * publish's readings (`GroupCommit`, `KvLog` records) and expiring after
 * `ttlMs`: at most one per packet id, and only for sessions that may
 * resume. Forgetting a session is one write, whatever it holds: its epoch
 * (`["mqtt_session_epoch", scope, clientId]`) moves on, and the old epoch's
 * records are left to expire.
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

  async open(scope: string, clientId: string): Promise<RetrySession> {
    const epoch = (await this.#kv.get<number>([EPOCH, scope, clientId])).value ?? 0;
    for await (
      const _ of this.#kv.list({ prefix: [PREFIX, scope, clientId, epoch] }, { limit: 1 })
    ) {
      return { epoch, resumed: true };
    }
    return { epoch, resumed: false };
  }

  key(scope: string, clientId: string, epoch: number, packetId: number): Deno.KvKey {
    return [PREFIX, scope, clientId, epoch, packetId];
  }

  record(key: Deno.KvKey, fingerprint: number): Deno.KvMutation {
    return { type: "set", key, value: fingerprint, expireIn: this.#ttlMs };
  }

  committed(key: Deno.KvKey): Promise<number | null> {
    return new Promise((resolve, reject) => {
      if (this.#asked.push({ key, resolve, reject }) === 1) queueMicrotask(() => this.#read());
    });
  }

  async forget(scope: string, clientId: string): Promise<void> {
    const key = [EPOCH, scope, clientId];
    const epoch = (await this.#kv.get<number>(key)).value ?? 0;
    // Two forgets at once both move it on from the same epoch: the old records are out either way.
    await this.#kv.set(key, epoch + 1, { expireIn: EPOCH_TTL_MS });
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
}
