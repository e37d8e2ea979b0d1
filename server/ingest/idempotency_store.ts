import { KEYS } from "../store/keys.ts";
import type { FencedAppend } from "../store/mod.ts";

const PREFIX = KEYS.ingestBatch;
const ANSWER_PREFIX = KEYS.ingestBatchAnswer;
/** A gzipped answer up to this size sits in the record itself (values max 64 KiB). */
const INLINE_ANSWER_BYTES = 32_000;
const PIECE_BYTES = 60_000;
/**
 * Pieces of one answer at most: with a 60 KB log chunk they stay under Deno
 * KV's 800 KiB per atomic commit, as they are written with the last chunk.
 */
export const MAX_ANSWER_PIECES = 10;

/** What is kept per idempotency key, under ["ingest_batch", scope, key]. */
export interface BatchRecord {
  state: "pending" | "done";
  /** SHA-256 of media type and body (`bodyFingerprint`). */
  fingerprint: string;
  /** The API key that sent it; null for open ingest. */
  keyId: string | null;
  /** When it was first received: readings are validated against this clock, also on a retry. */
  receivedAt: number;
  /** Random per claim: who may release the lease. */
  owner: string;
  /** A pending batch whose lease lapsed may be taken over by a retry. */
  leaseUntil: number;
  /** Every accepted reading before this batch index is in the log (readings go in order). */
  through: number;
  /** Readings of the batch in the log so far. */
  appended: number;
  /**
   * Readings may be stored that `appended` does not count: a sink that
   * cannot commit with this record (MongoDB) set it before writing, so a
   * failure keeps the key (absent in older records: false).
   */
  unrecorded?: boolean;
  completedAt: number | null;
  /** The first answer's counts (done only). */
  accepted: number | null;
  refused: number | null;
  status: number | null;
  /** The first answer's JSON, gzipped, when small; else in `answerPieces` pieces. */
  answer: Uint8Array | null;
  answerPieces: number;
}

/** A batch this request may apply: the record as claimed and its versionstamp. */
export interface Claim {
  key: Deno.KvKey;
  versionstamp: string;
  record: BatchRecord;
  /** A previous attempt died (its lease lapsed): some readings may be in the log already. */
  takenOver: boolean;
}

export type ClaimResult =
  | { kind: "claimed"; claim: Claim }
  | { kind: "replay"; status: number; body: string }
  | { kind: "mismatch" }
  | { kind: "in_progress"; retryAfterSeconds: number };

/** Which batch a request wants to apply. */
export interface BatchToClaim {
  /** The API key's id, "" for open ingest: records of different scopes never meet. */
  scope: string;
  /** The idempotency key. */
  id: string;
  /** `bodyFingerprint` of the request. */
  fingerprint: string;
  keyId: string | null;
}

/** Which readings a fenced append holds: `length` rows, in batch order. */
export interface FencedRows {
  length: number;
  /** Index in the batch of row `row`. */
  batchIndex: (row: number) => number;
  /** Readings in the whole batch. */
  batchLength: number;
}

/**
 * The fence of a claimed batch. The KV log commits `commitWith`'s records
 * with its chunks; a sink that cannot (MongoDB) commits `unrecorded()`
 * before writing, names each row by the batch's `scope`, `id`,
 * `fingerprint` and the row's `batchIndex` so a second write of it is
 * refused, then commits `commitWith(rows, true)`, each checked on the claim.
 */
export interface BatchFence extends FencedAppend {
  scope: string;
  id: string;
  fingerprint: string;
  batchIndex: (row: number) => number;
  /** Marks the record `unrecorded` (and renews the lease): rows may be stored from now on. */
  unrecorded(): Deno.KvMutation[];
}

/** An answer ready to be stored with the last chunk. */
export interface PreparedAnswer {
  status: number;
  accepted: number;
  refused: number;
  gzipped: Uint8Array;
}

export interface IdempotencyStoreOptions {
  /** How long records are kept after their last write. Default 24 h. */
  ttlMs?: number;
  /** How long a claim holds before a retry may take it over. Default 30 s. */
  leaseMs?: number;
  now?: () => number;
}

/**
 * Idempotency records in Deno KV. A request claims its key atomically (a
 * pending record with a lease); the log append is fenced by that record and
 * rewrites it with every chunk, and the chunk holding the last reading
 * commits the "done" record with the answer (see `KvLog` `FencedAppend`).
 */
export class IdempotencyStore {
  readonly #kv: Deno.Kv;
  readonly #ttlMs: number;
  readonly #leaseMs: number;
  readonly #now: () => number;

  constructor(kv: Deno.Kv, options: IdempotencyStoreOptions = {}) {
    this.#kv = kv;
    this.#ttlMs = options.ttlMs ?? 86_400_000;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Claims `id` in `scope` (the API key's id, "" for open ingest) for a body
   * with `fingerprint`: a new record, or a pending one whose lease lapsed;
   * else says why not.
   */
  async claim(batch: BatchToClaim): Promise<ClaimResult> {
    const { scope, id, fingerprint, keyId } = batch;
    const key = [PREFIX, scope, id];
    // Losing a race for a record is followed by seeing the winner's.
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.#now();
      const found = await this.#kv.get<BatchRecord>(key);
      const current = found.value;
      if (current === null) {
        const record: BatchRecord = {
          state: "pending",
          fingerprint,
          keyId,
          receivedAt: now,
          owner: crypto.randomUUID(),
          leaseUntil: now + this.#leaseMs,
          through: 0,
          appended: 0,
          completedAt: null,
          accepted: null,
          refused: null,
          status: null,
          answer: null,
          answerPieces: 0,
        };
        const result = await this.#kv.atomic().check({ key, versionstamp: null })
          .set(key, record, { expireIn: this.#ttlMs }).commit();
        if (result.ok) {
          return {
            kind: "claimed",
            claim: { key, versionstamp: result.versionstamp, record, takenOver: false },
          };
        }
        continue;
      }
      if (current.fingerprint !== fingerprint) return { kind: "mismatch" };
      if (current.state === "done") {
        return {
          kind: "replay",
          status: current.status ?? 200,
          body: await this.#answer(key, current),
        };
      }
      if (current.leaseUntil > now) {
        return {
          kind: "in_progress",
          retryAfterSeconds: Math.max(1, Math.min(5, Math.ceil((current.leaseUntil - now) / 1000))),
        };
      }
      // The first attempt's process died (or stalled past its lease): take over.
      const record = { ...current, owner: crypto.randomUUID(), leaseUntil: now + this.#leaseMs };
      const result = await this.#kv.atomic().check(found)
        .set(key, record, { expireIn: this.#ttlMs }).commit();
      if (result.ok) {
        return {
          kind: "claimed",
          claim: { key, versionstamp: result.versionstamp, record, takenOver: true },
        };
      }
    }
    return { kind: "in_progress", retryAfterSeconds: 1 };
  }

  /** Gzips an answer for storing; throws a RangeError when it is too large to store. */
  async prepare(
    body: string,
    summary: { status: number; accepted: number; refused: number },
  ): Promise<PreparedAnswer> {
    const stream = new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"));
    const gzipped = new Uint8Array(await new Response(stream).arrayBuffer());
    if (gzipped.byteLength > MAX_ANSWER_PIECES * PIECE_BYTES) {
      throw new RangeError(`An answer of ${gzipped.byteLength} gzipped bytes is too large to keep`);
    }
    return { ...summary, gzipped };
  }

  /**
   * The fence for appending a claimed batch's readings (`rows`). Each chunk
   * records the progress; the last one records the answer too.
   */
  fence(claim: Claim, options: { answer: PreparedAnswer; rows: FencedRows }): BatchFence {
    const { answer, rows } = options;
    const base = claim.record;
    return {
      key: claim.key,
      versionstamp: claim.versionstamp,
      scope: claim.key[1] as string,
      id: claim.key[2] as string,
      fingerprint: base.fingerprint,
      batchIndex: rows.batchIndex,
      unrecorded: () => {
        const record = { ...base, unrecorded: true, leaseUntil: this.#now() + this.#leaseMs };
        return [{ type: "set", key: claim.key, value: record, expireIn: this.#ttlMs }];
      },
      commitWith: (committed, last) => {
        const now = this.#now();
        const appended = base.appended + committed;
        if (!last) {
          const through = rows.batchIndex(committed - 1) + 1;
          const record = { ...base, through, appended, leaseUntil: now + this.#leaseMs };
          return [{ type: "set", key: claim.key, value: record, expireIn: this.#ttlMs }];
        }
        const inline = answer.gzipped.byteLength <= INLINE_ANSWER_BYTES;
        const pieces = inline ? 0 : Math.ceil(answer.gzipped.byteLength / PIECE_BYTES);
        const record: BatchRecord = {
          ...base,
          state: "done",
          through: rows.batchLength,
          appended,
          leaseUntil: 0,
          completedAt: now,
          accepted: answer.accepted,
          refused: answer.refused,
          status: answer.status,
          answer: inline ? answer.gzipped : null,
          answerPieces: pieces,
        };
        const mutations: Deno.KvMutation[] = [
          { type: "set", key: claim.key, value: record, expireIn: this.#ttlMs },
        ];
        for (let i = 0; i < pieces; i++) {
          mutations.push({
            type: "set",
            key: [ANSWER_PREFIX, ...claim.key.slice(1), i],
            value: answer.gzipped.subarray(i * PIECE_BYTES, (i + 1) * PIECE_BYTES),
            expireIn: this.#ttlMs,
          });
        }
        return mutations;
      },
    };
  }

  /**
   * Gives up a claim after a failure (only while this claim still holds it).
   * With nothing appended (nor maybe stored: `unrecorded`) the key is
   * forgotten, so a corrected body may use it; otherwise the lease ends, so a
   * retry takes over at once and appends the rest.
   */
  async release(claim: Claim): Promise<void> {
    const found = await this.#kv.get<BatchRecord>(claim.key);
    const current = found.value;
    if (!current || current.state !== "pending" || current.owner !== claim.record.owner) return;
    const op = this.#kv.atomic().check(found);
    if (current.appended === 0 && !current.unrecorded) op.delete(claim.key);
    else op.set(claim.key, { ...current, leaseUntil: 0 }, { expireIn: this.#ttlMs });
    await op.commit();
  }

  /** The record of `id` in `scope`, or null. */
  async status(scope: string, id: string): Promise<BatchRecord | null> {
    return (await this.#kv.get<BatchRecord>([PREFIX, scope, id])).value;
  }

  async #answer(key: Deno.KvKey, record: BatchRecord): Promise<string> {
    let gzipped = record.answer;
    if (gzipped === null) {
      const pieces = await this.#kv.getMany<Uint8Array[]>(
        Array.from({ length: record.answerPieces }, (_, i) => [ANSWER_PREFIX, ...key.slice(1), i]),
      );
      if (pieces.some((piece) => piece.value === null)) {
        throw new Deno.errors.NotFound("The stored answer of this batch has expired");
      }
      gzipped = new Uint8Array(pieces.reduce((n, piece) => n + piece.value!.byteLength, 0));
      let at = 0;
      for (const piece of pieces) {
        gzipped.set(piece.value!, at);
        at += piece.value!.byteLength;
      }
    }
    const stream = new Blob([gzipped as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).text();
  }
}
