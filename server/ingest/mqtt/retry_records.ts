import { KEYS } from "../../store/mod.ts";

const PREFIX = KEYS.mqttRetry;
const EPOCH = KEYS.mqttSessionEpoch;
/**
 * How long a session's epoch is kept after it last moved: far longer than
 * its records live, so an epoch never falls back onto records still alive.
 * One small record per client id that disconnected cleanly in that time.
 */
const EPOCH_TTL_MS = 30 * 86_400_000;
/** Deno KV caps a commit at 1,000 mutations and 80 KiB of keys; kept well under both. */
const FORGETS_PER_COMMIT = 500;
const FORGET_KEY_BYTES = 64 * 1024;
const UTF8 = new TextEncoder();

interface PendingForget {
  key: Deno.KvKey;
  /** An upper bound of the key's encoded size. */
  bytes: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function waiter(): Pick<PendingForget, "done" | "resolve" | "reject"> {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  promise.catch(() => {}); // each caller gets the rejection through `done`
  return { done: promise, resolve, reject };
}

/** The epoch key's encoded size at most: a NUL byte is escaped to two, plus a tag and terminator each. */
function keyBytes(scope: string, clientId: string): number {
  return 2 *
      (UTF8.encode(EPOCH).length + UTF8.encode(scope).length + UTF8.encode(clientId).length) +
    6;
}

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
  /** Forgets not committed yet, by session, in the order asked. */
  #forgets = new Map<string, PendingForget>();
  #forgetting = false;

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

  /**
   * Forgets are committed together: while one commit runs, the next ones
   * gather. A connect storm of clean sessions is then a few commits, not one
   * fsync'd commit per device queued ahead of the log's appends and checkpoints.
   */
  forget(scope: string, clientId: string): Promise<void> {
    const id = JSON.stringify([scope, clientId]);
    let forget = this.#forgets.get(id);
    if (!forget) {
      forget = { key: [EPOCH, scope, clientId], bytes: keyBytes(scope, clientId), ...waiter() };
      this.#forgets.set(id, forget);
    }
    if (!this.#forgetting) {
      this.#forgetting = true;
      queueMicrotask(() => this.#forgetAll()); // the rest of this turn's forgets join it
    }
    return forget.done;
  }

  async #forgetAll(): Promise<void> {
    // No await between the last size check and clearing the flag: a forget never waits alone.
    try {
      while (this.#forgets.size > 0) {
        const batch: PendingForget[] = [];
        let bytes = 0;
        for (const [id, forget] of this.#forgets) {
          if (batch.length === FORGETS_PER_COMMIT || bytes + forget.bytes > FORGET_KEY_BYTES) break;
          batch.push(forget);
          bytes += forget.bytes;
          this.#forgets.delete(id);
        }
        try {
          await this.#moveEpochs(batch);
          for (const forget of batch) forget.resolve();
        } catch (error) {
          for (const forget of batch) forget.reject(error);
        }
      }
    } finally {
      this.#forgetting = false;
    }
  }

  async #moveEpochs(batch: PendingForget[]): Promise<void> {
    const reads = [];
    for (let i = 0; i < batch.length; i += 10) {
      reads.push(this.#kv.getMany<number[]>(batch.slice(i, i + 10).map((f) => f.key)));
    }
    const epochs = (await Promise.all(reads)).flat();
    const op = this.#kv.atomic();
    // Two forgets at once both move it on from the same epoch: the old records are out either way.
    batch.forEach((forget, i) =>
      op.set(forget.key, (epochs[i].value ?? 0) + 1, { expireIn: EPOCH_TTL_MS })
    );
    await op.commit();
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
