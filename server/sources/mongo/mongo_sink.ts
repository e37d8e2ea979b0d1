import type { Collection, Document } from "mongodb";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";
import type { BatchFence } from "../../ingest/idempotency_store.ts";
import { FenceLost } from "../../store/mod.ts";
import { keyedRowIds, onlyDuplicateIds } from "./keyed_rows.ts";

/** Readings of a block as documents in the ingest shape, `timestamp` as a BSON date. */
export function blockDocuments(block: ReadingBlock): Document[] {
  const s = block.strings;
  const docs: Document[] = new Array(block.length);
  for (let row = 0; row < block.length; row++) {
    const reading: Record<string, number> = {};
    for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) {
      reading[s[block.metric[v]]] = block.value[v];
    }
    const doc: Document = {
      sensorId: s[block.sensor[row]],
      timestamp: new Date(block.timeMs[row]),
      reading,
    };
    const group = s[block.group[row]];
    const status = s[block.status[row]];
    if (group !== "") doc.group = group;
    if (status !== "") doc.status = status;
    docs[row] = doc;
  }
  return docs;
}

/**
 * The ingest sink in mongo mode: accepted readings are inserted into the
 * collection (unordered, majority write concern) and the request is answered
 * only after MongoDB acknowledged them. They come back to the dashboards
 * through the change stream, like any other writer's documents.
 *
 * A keyed batch (a fence) cannot commit its idempotency record with the
 * insert, as the KV log does: its record is marked `unrecorded` first, its
 * rows get `_id`s that name them (`keyedRowIds`), so a row inserted again
 * is refused as a duplicate and counts as stored, and the record is
 * completed with the answer once all rows are stored. A crash in between
 * leaves the batch pending; the retry that takes it over inserts again
 * and stores only what is missing.
 */
export class MongoSink {
  readonly #collection: Collection<Document>;
  readonly #kv: Deno.Kv | null;

  /** `kv` holds the idempotency records (the instance's store), needed for keyed batches. */
  constructor(collection: Collection<Document>, kv: Deno.Kv | null = null) {
    this.#collection = collection;
    this.#kv = kv;
  }

  async append(block: ReadingBlock, options: { fence?: BatchFence } = {}): Promise<void> {
    if (options.fence) return await this.#appendFenced(block, options.fence);
    if (block.length === 0) return;
    await this.#insert(blockDocuments(block));
  }

  async #appendFenced(block: ReadingBlock, fence: BatchFence): Promise<void> {
    if (this.#kv === null) {
      throw new TypeError("Cannot ingest a keyed batch: this sink has no idempotency store");
    }
    let versionstamp = fence.versionstamp;
    if (block.length > 0) {
      versionstamp = await this.#commit(fence, versionstamp, fence.unrecorded());
      const indexes = Array.from({ length: block.length }, (_, row) => fence.batchIndex(row));
      const ids = await keyedRowIds(fence, indexes);
      const docs = blockDocuments(block);
      for (let row = 0; row < docs.length; row++) docs[row] = { _id: ids[row], ...docs[row] };
      await this.#insert(docs, { duplicatesStored: true });
    }
    await this.#commit(fence, versionstamp, fence.commitWith(block.length, true));
  }

  /** Commits the fence's mutations while the claim is still this request's; its new versionstamp. */
  async #commit(
    fence: BatchFence,
    versionstamp: string,
    mutations: Deno.KvMutation[],
  ): Promise<string> {
    const result = await this.#kv!.atomic().check({ key: fence.key, versionstamp })
      .mutate(...mutations).commit();
    if (!result.ok) {
      throw new FenceLost("Cannot ingest: another request took over this batch's claim meanwhile");
    }
    return result.versionstamp;
  }

  async #insert(docs: Document[], options: { duplicatesStored?: boolean } = {}): Promise<void> {
    try {
      await this.#collection.insertMany(docs, {
        ordered: false,
        writeConcern: { w: "majority" },
      });
    } catch (error) {
      // A keyed batch's rows refused as duplicates were stored by an earlier attempt.
      if (options.duplicatesStored && onlyDuplicateIds(error)) return;
      // Unreachable: 503 with Retry-After, so writers back off and retry.
      if (isNetwork(error)) {
        throw new Deno.errors.Busy(
          `Cannot ingest: MongoDB is unreachable (${(error as Error).message})`,
        );
      }
      throw error;
    }
  }
}

/** Nothing reached the server: selection or the connection failed (also wrapped in a bulk write error). */
function isNetwork(error: unknown): boolean {
  const e = error as { name?: unknown; errorResponse?: { name?: unknown } };
  return [e?.name, e?.errorResponse?.name].some((name) =>
    typeof name === "string" &&
    /MongoServerSelectionError|MongoNetwork|MongoTopologyClosed|MongoNotConnected/.test(name)
  );
}
