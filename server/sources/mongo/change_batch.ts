import { BSON, ObjectId, Timestamp } from "bson";
import { ReadingBlockBuilder } from "../../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";
import { addDocument } from "../../ingest/readings/json.ts";
import type { ReadingLimits } from "../../ingest/readings/limits.ts";
import type { DocumentIds } from "./document_ids.ts";
import { withPlainNumbers } from "./bson_numbers.ts";
import { overMetricLimit } from "./metric_count.ts";

/** In stream order: readings by column, or the removal of a sensor. */
export type BatchPart =
  | { kind: "readings"; block: ReadingBlock }
  | { kind: "remove"; sensorId: string };

/** A document the source skipped, with its `_id` (canonical EJSON) and why. */
export interface InvalidDocument {
  id: string;
  reason: string;
}

export interface TakenBatch {
  parts: BatchPart[];
  /** Change events (or scanned documents) taken in. */
  events: number;
  /** Readings among them. */
  readings: number;
  /** Events by operation type. */
  ops: Record<string, number>;
  invalid: InvalidDocument[];
  /** Set when the stream was invalidated (collection dropped or renamed). */
  invalidated: string | null;
}

/**
 * The longest `_id` kept, in characters of canonical EJSON (an ObjectId is
 * 35, a keyed batch's row about 45). The newest `_id` of every sensor is kept
 * in memory and in each checkpoint (`DocumentIds`); unbounded, one writer's
 * megabyte-long `_id`s grew both by that much per sensor.
 */
export const MAX_DOCUMENT_ID_CHARS = 512;

/** Operations whose event carries the document as it is now. */
const WITH_DOCUMENT = new Set(["insert", "replace", "update"]);
/** Operations after which the stream is closed by the server. */
const ENDING = new Set(["invalidate", "drop", "rename", "dropDatabase"]);

/**
 * Turns change events into what the router takes: consecutive readings go
 * column by column into one ReadingBlock (like a log chunk), a delete ends
 * the block and becomes a removal, so order is kept. A block carries when
 * its readings were written (`acceptedAt`), which bounds the watermark as a
 * log chunk's acceptance time does. Every field of an event
 * and of its document is untrusted input. Pure apart from `ids`, the
 * `_id` → sensor mapping it keeps up to date.
 */
export class ChangeBatch {
  readonly #ids: DocumentIds;
  readonly #limits: ReadingLimits;
  readonly #now: () => number;
  #builder = new ReadingBlockBuilder({ capacity: 1024 });
  #parts: BatchPart[] = [];
  #events = 0;
  #readings = 0;
  #ops: Record<string, number> = {};
  #invalid: InvalidDocument[] = [];
  #invalidated: string | null = null;
  /** Ids read by a rebuild's scan whose insert events may still come (see `skipInsertsOf`). */
  #scanned: Set<string> | null = null;
  /** The latest acceptance time of the readings in the block being built (`acceptedAt`). */
  #acceptedMs = -Infinity;

  constructor(ids: DocumentIds, limits: ReadingLimits, options: { now?: () => number } = {}) {
    this.#ids = ids;
    this.#limits = limits;
    this.#now = options.now ?? Date.now;
  }

  /** Events taken in since the last `take`. */
  get size(): number {
    return this.#events;
  }

  /**
   * After a rebuild, the stream starts from before the scan, so documents
   * inserted during the scan arrive twice: insert events of these ids are
   * skipped until the stream has caught up (then call with null).
   */
  skipInsertsOf(ids: Set<string> | null): void {
    this.#scanned = ids;
  }

  /** True while a rebuild's scanned ids are skipped: the state is ahead of the stream. */
  get skipping(): boolean {
    return this.#scanned !== null;
  }

  /** Adds one change event. */
  add(event: unknown): void {
    this.#events++;
    if (!isObject(event) || typeof event.operationType !== "string") {
      this.#ops.unknown = (this.#ops.unknown ?? 0) + 1;
      this.#invalid.push({
        id: idKey((event as { _id?: unknown })?._id),
        reason: "not a change event",
      });
      return;
    }
    const op = event.operationType;
    this.#ops[op] = (this.#ops[op] ?? 0) + 1;
    const key = isObject(event.documentKey) ? event.documentKey._id : undefined;
    if (op === "insert" && this.#scanned !== null && this.#scanned.has(idKey(key))) return;
    if (WITH_DOCUMENT.has(op)) {
      // An update whose document is gone by the lookup: its delete event follows.
      if (op === "update" && event.fullDocument === null) return;
      this.#document(event.fullDocument, key, acceptedAt(event));
    } else if (op === "delete") {
      const sensorId = key === undefined ? undefined : this.#ids.deleted(idKey(key));
      if (sensorId !== undefined) {
        this.#endBlock();
        this.#parts.push({ kind: "remove", sensorId });
      }
    } else if (ENDING.has(op)) {
      this.#invalidated ??= op;
    }
    // Other operations (e.g. createIndexes with showExpandedEvents) carry no readings.
  }

  /** Adds a document read by a collection scan (a rebuild): accepted by now, at the latest. */
  addDocument(doc: unknown): void {
    this.#events++;
    this.#document(doc, isObject(doc) ? doc._id : undefined, this.#now());
  }

  #document(doc: unknown, key: unknown, acceptedMs: number): void {
    const id = idKey(isObject(doc) && doc._id !== undefined ? doc._id : key);
    if (id.length > MAX_DOCUMENT_ID_CHARS) {
      this.#invalid.push({
        id: `${id.slice(0, MAX_DOCUMENT_ID_CHARS)}…`,
        reason: `_id too long (${id.length} characters of EJSON > ${MAX_DOCUMENT_ID_CHARS})`,
      });
      return;
    }
    if (!isObject(doc)) {
      this.#invalid.push({ id, reason: "the event has no document" });
      return;
    }
    // Stopped at the limit: the JSON rules would check every key first.
    if (overMetricLimit(doc.reading, this.#limits.maxMetrics)) {
      this.#invalid.push({ id, reason: `too many metrics (more than ${this.#limits.maxMetrics})` });
      return;
    }
    // BSON dates are the natural timestamp type in Mongo; the JSON rules take epoch ms.
    // BSON's Decimal128 and Long are numbers too (`withPlainNumbers`).
    const plain = withPlainNumbers(doc);
    const normalized = plain.timestamp instanceof Date
      ? { ...plain, timestamp: plain.timestamp.getTime() }
      : plain;
    const reason = addDocument(this.#builder, normalized, this.#limits, this.#now());
    if (reason !== null) {
      this.#invalid.push({ id, reason });
      return;
    }
    this.#readings++;
    if (acceptedMs > this.#acceptedMs) this.#acceptedMs = acceptedMs;
    this.#ids.note(id, doc.sensorId as string);
  }

  #endBlock(): void {
    if (this.#builder.length === 0) return;
    const block = this.#builder.build();
    const acceptedMs = this.#acceptedMs;
    this.#parts.push({
      kind: "readings",
      block: Number.isFinite(acceptedMs) ? { ...block, acceptedMs } : block,
    });
    this.#acceptedMs = -Infinity;
    this.#builder.reset();
  }

  /** Hands over everything added since the last call and starts empty. */
  take(): TakenBatch {
    this.#endBlock();
    const taken: TakenBatch = {
      parts: this.#parts,
      events: this.#events,
      readings: this.#readings,
      ops: this.#ops,
      invalid: this.#invalid,
      invalidated: this.#invalidated,
    };
    this.#parts = [];
    this.#events = 0;
    this.#readings = 0;
    this.#ops = {};
    this.#invalid = [];
    this.#invalidated = null;
    return taken;
  }
}

/**
 * When MongoDB applied a change event's write, in ms since the epoch: its
 * `wallTime` (MongoDB 6.0 on), else the end of its `clusterTime`'s second
 * (a Timestamp counts whole seconds); -Infinity when it has neither. A
 * block's readings are bounded by the latest of theirs
 * (`ReadingBlock.acceptedMs`; no bound when none had one). Like a log
 * chunk's acceptance time it comes with the events, so a resumed stream
 * gives the same bounds again.
 */
export function acceptedAt(event: Record<string, unknown>): number {
  const wall = event.wallTime;
  if (wall instanceof Date && Number.isFinite(wall.getTime())) return wall.getTime();
  const cluster = event.clusterTime;
  if (cluster instanceof Timestamp) return (cluster.t + 1) * 1000;
  return -Infinity;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A document `_id` as canonical EJSON: equal ids give equal keys, whatever their BSON type. */
export function idKey(id: unknown): string {
  if (id === undefined) return "(no _id)";
  // The common case, without EJSON's cost: the same text EJSON gives an ObjectId.
  if (id instanceof ObjectId) return `{"$oid":"${id.toHexString()}"}`;
  try {
    return BSON.EJSON.stringify(id as BSON.Document, { relaxed: false });
  } catch {
    return String(id);
  }
}
