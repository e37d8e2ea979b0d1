import { BSON } from "bson";
import type { ChangeStream, Collection, Document, MongoClient } from "mongodb";
import type { ShardSet } from "../../../actors/shards/mod.ts";
import type { Checkpointer, CheckpointHook } from "../checkpointer.ts";
import type { Source, SourceHealth } from "../source.ts";
import { MongoSink } from "./mongo_sink.ts";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";
import type { ReadingLimits } from "../../ingest/readings/limits.ts";
import { logger } from "../../ops/logger.ts";
import { Backoff } from "./backoff.ts";
import type { BackoffOptions } from "./backoff.ts";
import { ChangeBatch, idKey } from "./change_batch.ts";
import type { TakenBatch } from "./change_batch.ts";
import { DocumentIds } from "./document_ids.ts";
import { ChangeStreamInvalidated, classifyMongoError, STANDALONE_HINT } from "./errors.ts";

/** Most document ids a rebuild remembers to skip their insert events (about 100 MB). */
const MAX_SCANNED_IDS = 1_000_000;

/** Where the source stands; /healthz reports it. */
export type MongoSourceState = "starting" | "streaming" | "degraded" | "resyncing" | "failed";

/** One batch handed to the shards. */
export interface HandOff {
  events: number;
  readings: number;
  blocks: readonly ReadingBlock[];
  /** performance.now() when the driver returned the batch's first event, and when the shards had it all. */
  receivedAt: number;
  handedAt: number;
}

export interface MongoSourceOptions {
  client: MongoClient;
  db: string;
  collection: string;
  checkpointer: Checkpointer;
  /** The instance's store, where ingest keeps idempotency records (keyed batches need it). */
  kv?: Deno.Kv;
  /** Resume token of the checkpoint the state was restored from; null rebuilds from the collection. */
  startToken?: unknown;
  /** `_id` → sensor map restored with that checkpoint. */
  documentIds?: DocumentIds;
  limits: ReadingLimits;
  /** Most events handed to the shards at once. Default 5000. */
  maxBatch?: number;
  /** Longest a getMore waits on the server for new events. Default 1000 ms. */
  maxAwaitMs?: number;
  backoff?: BackoffOptions;
  /** Change streams cannot work (a standalone server): the source has stopped. */
  onFatal?: (error: Error) => void;
  onHandOff?: (handOff: HandOff) => void;
  /** The servers, as the start-up log names them (never the URI: it may hold a password). */
  hosts?: string;
}

/**
 * Watches a MongoDB collection through a change stream and hands the
 * readings to the shards in batches: whatever the driver has buffered
 * (up to `maxBatch`) becomes columnar blocks routed in one go. The resume
 * token is checkpointed with the shard state (Checkpointer), so a restart
 * resumes exactly there. Resumable errors are resumed by the driver from
 * its cached token; outages keep the last state, back off and reopen from
 * the token; a lost history rebuilds the state from the collection in a new
 * epoch. Only this class talks to the driver's change stream.
 */
export class MongoSource implements Source {
  readonly kind = "mongo";
  /** Ingest inserts into the collection this source watches. */
  readonly sink: MongoSink;
  /** There is no raw log in this mode: history comes from rollups only. */
  readonly log = null;
  readonly #fatal = Promise.withResolvers<Error>();
  readonly #handOffListeners: ((handOff: HandOff) => void)[] = [];
  readonly #hosts: string;
  readonly #client: MongoClient;
  readonly #collection: Collection<Document>;
  readonly #shards: ShardSet;
  readonly #checkpointer: Checkpointer;
  readonly #ids: DocumentIds;
  readonly #batch: ChangeBatch;
  readonly #maxBatch: number;
  readonly #maxAwaitMs: number;
  readonly #backoff: Backoff;
  readonly #onFatal?: (error: Error) => void;
  readonly #namespace: string;
  #token: unknown = null;
  #stream: ChangeStream | null = null;
  #needResync: boolean;
  /** The next rebuild is the first start's, not a lost history's. */
  #initialScan: boolean;
  #stopped = false;
  /**
   * Connect the driver's client again before the next try. A client whose
   * connection failed (MongoDB down when the server started, or a failed
   * reconnect) keeps its closed topology, and every operation then fails
   * with "Topology is closed" for good: the source never came back.
   */
  #reconnect = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;

  state: MongoSourceState = "starting";
  /** Why the source is degraded or failed. */
  lastError: string | null = null;
  /** True when the last read found nothing new. */
  caughtUp = false;
  /** Change events by operation type; documents skipped as invalid; rebuilds; resumes. */
  readonly events: Record<string, number> = {};
  invalidDocuments = 0;
  resyncs = 0;
  resumes = 0;
  /** Events and readings handed to the shards (scans included). */
  eventsRead = 0;
  readingsRead = 0;
  /** Batches handed to the shards. */
  chunksRead = 0;
  /** There is no start-up replay of a log here (kept for the shared metrics). */
  readonly replayedReadings = 0;
  readonly startCursor: string | null;

  constructor(shards: ShardSet, options: MongoSourceOptions) {
    this.#client = options.client;
    this.#collection = options.client.db(options.db).collection(options.collection);
    this.sink = new MongoSink(this.#collection, options.kv ?? null);
    this.#hosts = options.hosts ?? "";
    this.#namespace = `${options.db}.${options.collection}`;
    this.#shards = shards;
    this.#checkpointer = options.checkpointer;
    this.#ids = options.documentIds ?? new DocumentIds();
    this.#batch = new ChangeBatch(this.#ids, options.limits);
    this.#maxBatch = options.maxBatch ?? 5_000;
    this.#maxAwaitMs = options.maxAwaitMs ?? 1_000;
    this.#backoff = new Backoff(options.backoff);
    this.#onFatal = options.onFatal;
    if (options.onHandOff) this.#handOffListeners.push(options.onHandOff);
    this.#token = options.startToken ?? null;
    this.startCursor = this.#token === null ? null : tokenCursor(this.#token);
    this.#needResync = this.#initialScan = this.#token === null;
    // Until the first load, the shards and router hold none of the collection.
    if (this.#initialScan) shards.rebuildDue();
    shards.onRestart((shard) => this.requestReplay(shard));
  }

  get fatal(): Promise<Error> {
    return this.#fatal.promise;
  }

  beforeCheckpoint(hook: CheckpointHook): void {
    this.#checkpointer.before(hook);
  }

  observeHandOffs(listener: (handOff: HandOff) => void): void {
    this.#handOffListeners.push(listener);
  }

  get checkpointedCursor(): string | null {
    return this.#checkpointer.checkpointedCursor;
  }

  /** Its checkpoints keep one cursor for every shard (`Checkpointer.take`). */
  get replayFrom(): string | null {
    return this.#checkpointer.replayFrom;
  }

  health(): SourceHealth {
    return {
      caughtUp: this.caughtUp,
      chunksRead: this.chunksRead,
      readingsRead: this.readingsRead,
      replayedReadings: this.replayedReadings,
      startCursor: this.startCursor,
      ...this.#checkpointer.progress(this.cursor),
      pendingReadings: 0,
      readingsCommitted: 0,
      connected: this.connected,
      problem: this.connected ? null : `MongoDB change stream is ${this.state}`,
      // Ingest writes go to MongoDB, not to the store: an outage shows as the state.
      writeError: null,
      details: {
        mongo: {
          state: this.state,
          connected: this.connected,
          lastError: this.lastError,
          caughtUp: this.caughtUp,
          events: { ...this.events },
          eventsRead: this.eventsRead,
          readingsRead: this.readingsRead,
          invalidDocuments: this.invalidDocuments,
          resumes: this.resumes,
          resyncs: this.resyncs,
          resumeToken: this.cursor,
          checkpointsSaved: this.checkpointsSaved,
          lastCheckpointAt: this.lastCheckpointAt,
          checkpointBehind: this.checkpointBehind,
        },
      },
      changeStream: {
        events: this.events,
        invalidDocuments: this.invalidDocuments,
        resumes: this.resumes,
        resyncs: this.resyncs,
      },
    };
  }

  describe(): Record<string, unknown> {
    return { mongo: `${this.#hosts}/${this.#namespace}` };
  }

  /** Closes the driver's client (after `stop`). */
  async close(): Promise<void> {
    await this.#client.close().catch(() => {});
  }

  start(): void {
    // Resumes by the driver (after a resumable error) and by us both open a
    // stream with a resume point: count them where the command goes out.
    this.#client.on("commandStarted", (event) => {
      if (event.commandName !== "aggregate") return;
      const stage = (event.command.pipeline as Document[] | undefined)?.[0]?.$changeStream;
      if (stage && (stage.resumeAfter || stage.startAfter || stage.startAtOperationTime)) {
        this.resumes++;
      }
    });
    this.#loop = this.#run();
  }

  /** The resume token the shards' state is up to, as canonical EJSON (the checkpoint cursor). */
  get cursor(): string | null {
    return this.#token === null ? null : tokenCursor(this.#token);
  }

  get connected(): boolean {
    return this.state === "streaming";
  }

  get checkpointsSaved(): number {
    return this.#checkpointer.checkpointsSaved;
  }

  get lastCheckpointAt(): number {
    return this.#checkpointer.lastCheckpointAt;
  }

  get checkpointBehind(): boolean {
    return this.cursor !== this.#checkpointer.checkpointedCursor;
  }

  /**
   * A shard restarted: the change stream cannot be replayed for it from
   * the checkpoint, so the state is rebuilt from the collection.
   */
  requestReplay(_shard: number): void {
    this.#needResync = true;
    void this.#stream?.close().catch(() => {});
  }

  /** Stops reading and saves a last checkpoint, so a restart resumes exactly here. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#stream?.close().catch(() => {});
    await this.#loop;
    await this.#checkpointer.settled();
    if (!this.#needResync) await this.#checkpoint();
    await this.#checkpointer.settled();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let connecting = false;
      try {
        if (this.#reconnect) {
          connecting = true;
          await this.#client.connect();
          connecting = false;
          this.#reconnect = false;
        }
        if (this.#needResync) await this.#resync();
        this.#open();
        await this.#follow();
      } catch (error) {
        await this.#closeStream();
        if (this.#stopped) break;
        // Only a closed topology: connecting an open one would leave it behind, unclosed.
        if (connecting || isClosedTopology(error)) this.#reconnect = true;
        const kind = classifyMongoError(error);
        if (kind === "standalone") {
          this.#setState("failed", STANDALONE_HINT);
          const fatal = new Error(STANDALONE_HINT);
          this.#onFatal?.(fatal);
          this.#fatal.resolve(fatal);
          return;
        }
        if (kind === "history-lost") {
          logger.warn("mongo change stream cannot resume; rebuilding from the collection", {
            error: message(error),
          });
          this.#needResync = true;
          continue;
        }
        // An outage, also in the middle of a rebuild: that is retried after the backoff.
        this.#setState("degraded", message(error));
        await this.#sleep(this.#backoff.next());
      }
    }
  }

  #open(maxAwaitMs = this.#maxAwaitMs): ChangeStream {
    const options: Document = {
      fullDocument: "updateLookup",
      maxAwaitTimeMS: maxAwaitMs,
      batchSize: this.#maxBatch,
    };
    if (this.#token !== null) options.resumeAfter = this.#token;
    this.#stream = this.#collection.watch([], options);
    return this.#stream;
  }

  /** Reads the stream until stopped (or it fails): batches of what the driver buffered. */
  async #follow(): Promise<void> {
    const stream = this.#stream!;
    while (!this.#stopped) {
      const first = await stream.tryNext();
      this.#healthy();
      if (first === null) {
        this.caughtUp = true;
        this.#batch.skipInsertsOf(null);
        // The post-batch token moves on even when nothing of ours changed.
        if (stream.resumeToken) this.#token = stream.resumeToken;
        if (this.#checkpointer.due) await this.#checkpoint();
        continue;
      }
      // Less than a full batch buffered: the server had nothing more just now. (Under
      // steady load a getMore seldom comes back empty, so that alone is no sign.)
      this.caughtUp = (await this.#readBatch(stream, first)) < this.#maxBatch;
      if (this.#checkpointer.due) await this.#checkpoint();
    }
  }

  /** Takes the first event and whatever else is buffered, then hands them over in one go. */
  async #readBatch(stream: ChangeStream, first: Document): Promise<number> {
    const receivedAt = performance.now();
    this.#batch.add(first);
    let last: unknown = first._id;
    try {
      while (this.#batch.size < this.#maxBatch && stream.bufferedCount() > 0) {
        const next = await stream.tryNext();
        if (next === null) break;
        this.#batch.add(next);
        last = next._id;
      }
    } catch (error) {
      // Hand over what was read, up to the last event's own token, then fail.
      await this.#handOff(this.#batch.take(), receivedAt);
      this.#token = last;
      throw error;
    }
    const taken = this.#batch.take();
    await this.#handOff(taken, receivedAt);
    this.#token = stream.bufferedCount() === 0 && stream.resumeToken ? stream.resumeToken : last;
    if (taken.invalidated) throw new ChangeStreamInvalidated(taken.invalidated);
    return taken.events;
  }

  async #handOff(taken: TakenBatch, receivedAt: number): Promise<void> {
    for (const [op, n] of Object.entries(taken.ops)) this.events[op] = (this.events[op] ?? 0) + n;
    this.invalidDocuments += taken.invalid.length;
    for (const { id, reason } of taken.invalid.slice(0, 10)) {
      logger.warn("skipped an invalid document", { ns: this.#namespace, _id: id, reason });
    }
    if (taken.invalid.length > 10) {
      logger.warn("skipped more invalid documents", { count: taken.invalid.length - 10 });
    }
    const blocks: ReadingBlock[] = [];
    for (const part of taken.parts) {
      if (part.kind === "readings") {
        blocks.push(part.block);
        await this.#shards.deliver(part.block);
      } else {
        await this.#shards.remove(part.sensorId);
      }
    }
    this.chunksRead++;
    this.eventsRead += taken.events;
    this.readingsRead += taken.readings;
    const handOff = {
      events: taken.events,
      readings: taken.readings,
      blocks,
      receivedAt,
      handedAt: performance.now(),
    };
    for (const listener of this.#handOffListeners) listener(handOff);
  }

  /**
   * Rebuilds the state from the collection (`ShardSet.rebuild`: the hub
   * holds its ticks, the shards and router start empty): a new stream pins
   * the point to go on from, the scan of the collection refills the shards,
   * then the hub starts a new epoch.
   * Documents written during the scan may be both scanned and streamed
   * (counted twice); a rebuild is rare and says "continuity lost" anyway.
   */
  async #resync(): Promise<void> {
    const initial = this.#initialScan;
    if (this.state === "streaming") this.#setState("resyncing");
    this.#token = null;
    const scanned = new Set<string>();
    const { pin, early, startToken } = await this.#shards.rebuild(async () => {
      // A short-lived stream pins where to go on from, without waiting for events.
      const pin = this.#open(1);
      const early = await pin.tryNext();
      const startToken = pin.resumeToken;
      this.#ids.clear();
      const receivedAt = performance.now();
      const cursor = this.#collection.find({}, { batchSize: this.#maxBatch });
      for await (const doc of cursor) {
        // Bounded: past this many, documents inserted during the scan may count twice.
        if (scanned.size < MAX_SCANNED_IDS) scanned.add(idKey(doc._id));
        this.#batch.addDocument(doc);
        if (this.#batch.size >= this.#maxBatch) await this.#handOff(this.#batch.take(), receivedAt);
      }
      await this.#handOff(this.#batch.take(), receivedAt);
      return { pin, early, startToken };
    });
    this.#token = startToken ?? null;
    this.#batch.skipInsertsOf(scanned);
    // Events that came in while pinning follow the scan.
    if (early) await this.#readBatch(pin, early);
    await this.#closeStream();
    this.#needResync = this.#initialScan = false;
    if (!initial) this.resyncs++;
    logger.info(initial ? "mongo collection loaded" : "mongo state rebuilt in a new epoch", {
      ns: this.#namespace,
      sensors: this.#shards.sensorCount,
    });
    this.#healthy();
    await this.#checkpoint(true);
  }

  async #checkpoint(force = false): Promise<void> {
    // After a rebuild the scan is ahead of the stream's token, and only the
    // in-memory skip list keeps its inserts from counting twice: a checkpoint
    // of that state at that token would double them on restart. Wait until
    // the stream has caught up (the list is dropped then).
    if (this.#batch.skipping) return;
    if (!force && !this.#checkpointer.due) return;
    await this.#checkpointer.take(this.cursor, () => this.#ids.save());
  }

  #healthy(): void {
    this.#backoff.reset();
    this.#setState("streaming");
  }

  /** Logs once per change of state, not per attempt. */
  #setState(next: MongoSourceState, error?: string): void {
    if (error !== undefined) this.lastError = error;
    if (next === this.state) return;
    const previous = this.state;
    this.state = next;
    if (next === "streaming") {
      this.lastError = null;
      logger.info(
        previous === "degraded" ? "mongo change stream is back" : "mongo change stream open",
        { ns: this.#namespace },
      );
    } else if (next === "degraded") {
      logger.warn("mongo unreachable: serving the last state, retrying with backoff", {
        ns: this.#namespace,
        error,
      });
    } else if (next === "failed") logger.error(error ?? "mongo source failed");
  }

  async #closeStream(): Promise<void> {
    const stream = this.#stream;
    this.#stream = null;
    this.#batch.take();
    await stream?.close().catch(() => {});
  }

  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = null;
  }
}

/** A resume token as the checkpoint's cursor: canonical EJSON keeps every BSON type. */
export function tokenCursor(token: unknown): string {
  return BSON.EJSON.stringify(token as Document, { relaxed: false });
}

/** The resume token stored by `tokenCursor`. */
export function cursorToken(cursor: string): unknown {
  return BSON.EJSON.parse(cursor, { relaxed: false });
}

/** The driver's error for an operation on a client whose topology was closed. */
function isClosedTopology(error: unknown): boolean {
  return error instanceof Error && error.name === "MongoTopologyClosedError";
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
