// A small MongoDB wire-protocol server for tests and the benchmark only: no
// MongoDB server can be installed here, so the real driver talks to this.
// It speaks OP_MSG (and OP_QUERY for the legacy first hello), answers as a
// replica-set primary (or a standalone), keeps one in-memory "oplog" per
// server and serves change streams over it with realistic resume tokens,
// and can inject the failures the source must survive.
import { BSON, Long, ObjectId, Timestamp } from "bson";
import type { Document } from "bson";

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

export interface WireServerOptions {
  /** Answer as a standalone (change streams then fail with 40573). */
  standalone?: boolean;
  /** Replica set name. Default "rs0". */
  setName?: string;
  /** Largest getMore batch for change streams (the server's own cap). Default 1000. */
  maxBatch?: number;
  /** How long an empty change-stream getMore waits for events when the driver sends no maxTimeMS. Default 100 ms. */
  defaultAwaitMs?: number;
}

interface OplogEntry {
  seq: number;
  event: Document;
}

interface Cursor {
  kind: "change" | "find";
  ns: string;
  /** change: the last seq returned; find: the remaining documents. */
  after: number;
  docs: Document[];
}

interface ErrorReply {
  code: number;
  codeName: string;
  errmsg: string;
  errorLabels?: string[];
}

/** Encodes a sequence number as a resume token the way servers do: opaque hex. */
export function tokenFor(seq: number): { _data: string } {
  return { _data: "8265" + seq.toString(16).toUpperCase().padStart(16, "0") + "0004" };
}

function seqOf(token: unknown): number | null {
  const data = (token as { _data?: unknown } | null)?._data;
  if (typeof data !== "string" || !/^8265[0-9A-F]{16}0004$/.test(data)) return null;
  return parseInt(data.slice(4, 20), 16);
}

/** What the server can be told to do wrong, once each. */
export interface Faults {
  /** Errors the next getMore commands of change streams answer with, in order. */
  getMoreErrors: ErrorReply[];
  /** Close the connection instead of answering the next change-stream getMore. */
  closeOnGetMore: number;
  /** Runs once before the next `find` is answered (e.g. writes that race a scan). */
  beforeFind: (() => void) | null;
  /**
   * Runs once after the next insert command is applied and before it is
   * answered (e.g. a test kills the inserting process there); the answer waits for it.
   */
  afterInsert: (() => void | Promise<void>) | null;
  /** While set, a scan's later batches (a `find` cursor's getMore) wait for it: a scan held half way. */
  findGate: Promise<void> | null;
}

export class MongoWireServer {
  readonly options: Required<WireServerOptions>;
  /** Collections: "db.coll" → documents by their EJSON _id. */
  readonly collections = new Map<string, Map<string, Document>>();
  readonly #oplog: OplogEntry[] = [];
  /** Entries before this seq are gone (history lost). */
  #oldest = 1;
  #seq = 0;
  readonly #cursors = new Map<number, Cursor>();
  #cursorId = 1000;
  #listener: Deno.Listener | null = null;
  readonly #connections = new Set<Deno.Conn>();
  #waiters: (() => void)[] = [];
  port = 0;
  readonly faults: Faults = {
    getMoreErrors: [],
    closeOnGetMore: 0,
    beforeFind: null,
    afterInsert: null,
    findGate: null,
  };
  /** Commands received, by name (for assertions). */
  readonly commands: Record<string, number> = {};
  /** Change-stream aggregates received, with the resume option they carried. */
  readonly changeStreams: { resumeAfter: number | null; startAfter: number | null }[] = [];

  constructor(options: WireServerOptions = {}) {
    this.options = {
      standalone: false,
      setName: "rs0",
      maxBatch: 1000,
      defaultAwaitMs: 100,
      ...options,
    };
  }

  /** Listens (on the same port after a stop, else on a free one). */
  start(): this {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    void this.#accept(this.#listener);
    return this;
  }

  /** Comes back on the same port after `stop` (retrying while the port is still held). */
  async restart(): Promise<void> {
    for (let attempt = 0;; attempt++) {
      try {
        this.start();
        return;
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse) || attempt > 100) throw error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** `mongodb://` URI for the driver, with short timeouts for tests. */
  uri(extra = ""): string {
    const rs = this.options.standalone
      ? "directConnection=true"
      : `replicaSet=${this.options.setName}`;
    return `mongodb://127.0.0.1:${this.port}/?${rs}&serverSelectionTimeoutMS=1000&heartbeatFrequencyMS=500${extra}`;
  }

  /** Goes down: stops listening and drops every connection. */
  stop(): void {
    this.#listener?.close();
    this.#listener = null;
    this.dropConnections();
  }

  /** Closes every open connection (a network blip). */
  dropConnections(): void {
    for (const conn of this.#connections) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    this.#connections.clear();
  }

  /** Forgets all change history so far: old resume tokens fail with 286. */
  truncateHistory(): void {
    this.#oldest = this.#seq + 1;
    this.#oplog.length = 0;
  }

  /** Every document of a collection. */
  documents(db: string, coll: string): Document[] {
    return [...(this.collections.get(`${db}.${coll}`)?.values() ?? [])];
  }

  /**
   * Inserts documents directly (as another writer would). As MongoDB's
   * insert does, a document whose `_id` is already stored is refused with a
   * duplicate key error (E11000, no event): ordered stops at the first
   * error, unordered goes on with the rest. Returns how many were inserted
   * and the errors, by index in `docs`.
   */
  insert(
    db: string,
    coll: string,
    docs: Document[],
    options: { ordered?: boolean } = {},
  ): { n: number; writeErrors: Document[] } {
    const ordered = options.ordered ?? true;
    const collection = this.#collection(`${db}.${coll}`);
    const writeErrors: Document[] = [];
    let n = 0;
    for (const [index, doc] of docs.entries()) {
      const full = { _id: doc._id ?? new ObjectId(), ...doc };
      const id = key(full._id);
      if (collection.has(id)) {
        writeErrors.push({
          index,
          code: 11000,
          errmsg:
            `E11000 duplicate key error collection: ${db}.${coll} index: _id_ dup key: { _id: ${
              BSON.EJSON.stringify(full._id)
            } }`,
          keyPattern: { _id: 1 },
          keyValue: { _id: full._id },
        });
        if (ordered) break;
        continue;
      }
      collection.set(id, full);
      n++;
      this.#record({
        operationType: "insert",
        ns: { db, coll },
        documentKey: { _id: full._id },
        fullDocument: full,
      });
    }
    this.#wake();
    return { n, writeErrors };
  }

  /** Replaces a document by _id (or inserts it). */
  replace(db: string, coll: string, doc: Document): void {
    this.#collection(`${db}.${coll}`).set(key(doc._id), doc);
    this.#record({
      operationType: "replace",
      ns: { db, coll },
      documentKey: { _id: doc._id },
      fullDocument: doc,
    });
    this.#wake();
  }

  /** Applies `$set` to a document by _id. */
  update(db: string, coll: string, id: unknown, set: Document): void {
    const docs = this.#collection(`${db}.${coll}`);
    const doc = docs.get(key(id));
    if (!doc) return;
    for (const [path, value] of Object.entries(set)) setPath(doc, path, value);
    this.#record({
      operationType: "update",
      ns: { db, coll },
      documentKey: { _id: id },
      updateDescription: { updatedFields: set, removedFields: [], truncatedArrays: [] },
    });
    this.#wake();
  }

  delete(db: string, coll: string, id: unknown): void {
    if (!this.#collection(`${db}.${coll}`).delete(key(id))) return;
    this.#record({ operationType: "delete", ns: { db, coll }, documentKey: { _id: id } });
    this.#wake();
  }

  #collection(ns: string): Map<string, Document> {
    let docs = this.collections.get(ns);
    if (!docs) this.collections.set(ns, docs = new Map());
    return docs;
  }

  #record(event: Document): void {
    const seq = ++this.#seq;
    this.#oplog.push({
      seq,
      event: {
        _id: tokenFor(seq),
        ...event,
        clusterTime: new Timestamp({ t: Math.floor(Date.now() / 1000), i: seq }),
        wallTime: new Date(),
      },
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        this.#connections.add(conn);
        void this.#serve(conn).finally(() => this.#connections.delete(conn));
      }
    } catch { /* listener closed */ }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    let buffer = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        while (buffer.byteLength >= 4) {
          const length = new DataView(buffer.buffer, buffer.byteOffset).getInt32(0, true);
          if (buffer.byteLength < length) break;
          const message = buffer.slice(0, length);
          buffer = buffer.slice(length);
          const reply = await this.#handle(message);
          if (reply === "close") {
            conn.close();
            return;
          }
          await writeAll(conn, reply);
        }
        const n = await conn.read(chunk);
        if (n === null) return;
        const grown = new Uint8Array(buffer.byteLength + n);
        grown.set(buffer);
        grown.set(chunk.subarray(0, n), buffer.byteLength);
        buffer = grown;
      }
    } catch {
      // The connection was closed (by the peer or a fault).
    } finally {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  async #handle(message: Uint8Array): Promise<Uint8Array | "close"> {
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    const requestId = view.getInt32(4, true);
    const opCode = view.getInt32(12, true);
    if (opCode === OP_QUERY) {
      // Legacy first hello: flags, cstring ns, skip, limit, query.
      let at = 20;
      while (message[at] !== 0) at++;
      at += 9;
      const query = BSON.deserialize(message.subarray(at));
      return opReply(requestId, this.#hello(query));
    }
    if (opCode !== OP_MSG) throw new Error(`unsupported opCode ${opCode}`);
    let at = 20;
    let command: Document = {};
    while (at < message.byteLength) {
      const kind = message[at++];
      if (kind === 0) {
        const size = new DataView(message.buffer, message.byteOffset + at).getInt32(0, true);
        command = BSON.deserialize(message.subarray(at, at + size), { promoteLongs: false });
        at += size;
      } else if (kind === 1) {
        const size = new DataView(message.buffer, message.byteOffset + at).getInt32(0, true);
        const end = at + size;
        let p = at + 4;
        const start = p;
        while (message[p] !== 0) p++;
        const identifier = new TextDecoder().decode(message.subarray(start, p));
        p++;
        const docs: Document[] = [];
        while (p < end) {
          const docSize = new DataView(message.buffer, message.byteOffset + p).getInt32(0, true);
          docs.push(BSON.deserialize(message.subarray(p, p + docSize), { promoteLongs: false }));
          p += docSize;
        }
        command[identifier] = docs;
        at = end;
      } else throw new Error(`unsupported section kind ${kind}`);
    }
    const reply = await this.#command(command);
    if (reply === "close") return "close";
    return opMsg(requestId, reply);
  }

  async #command(cmd: Document): Promise<Document | "close"> {
    const name = Object.keys(cmd)[0];
    this.commands[name] = (this.commands[name] ?? 0) + 1;
    const db = cmd.$db as string;
    switch (name) {
      case "hello":
      case "isMaster":
      case "ismaster":
        return this.#hello(cmd);
      case "ping":
      case "endSessions":
        return { ok: 1 };
      case "buildInfo":
      case "buildinfo":
        return { version: "7.0.14", versionArray: [7, 0, 14, 0], ok: 1 };
      case "aggregate":
        return this.#aggregate(db, cmd);
      case "getMore":
        return await this.#getMore(cmd);
      case "killCursors": {
        const ids = (cmd.cursors as Long[]).map((id) => Number(id));
        for (const id of ids) this.#cursors.delete(id);
        return { cursorsKilled: ids.map((id) => Long.fromNumber(id)), ok: 1 };
      }
      case "insert": {
        const hook = this.faults.afterInsert;
        this.faults.afterInsert = null;
        const { n, writeErrors } = this.insert(db, cmd.insert, cmd.documents ?? [], {
          ordered: cmd.ordered ?? true,
        });
        // Write errors come in an ok reply, as MongoDB sends them.
        const reply = writeErrors.length > 0 ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
        await hook?.();
        return reply;
      }
      case "delete": {
        let n = 0;
        for (const d of cmd.deletes ?? []) {
          const docs = this.#collection(`${db}.${cmd.delete}`);
          for (const doc of [...docs.values()]) {
            if (!matches(doc, d.q)) continue;
            this.delete(db, cmd.delete, doc._id);
            n++;
            if (d.limit === 1) break;
          }
        }
        return { n, ok: 1 };
      }
      case "update": {
        let n = 0;
        for (const u of cmd.updates ?? []) {
          const docs = this.#collection(`${db}.${cmd.update}`);
          const doc = [...docs.values()].find((d) => matches(d, u.q));
          const isSet = Object.keys(u.u).some((k) => k.startsWith("$"));
          if (doc) {
            if (isSet) this.update(db, cmd.update, doc._id, u.u.$set ?? {});
            else this.replace(db, cmd.update, { ...u.u, _id: doc._id });
            n++;
          } else if (u.upsert) {
            const base = { ...(u.q ?? {}), _id: u.q?._id ?? new ObjectId() };
            this.insert(db, cmd.update, [
              isSet ? { ...base, ...(u.u.$set ?? {}) } : { ...u.u, ...base },
            ]);
            n++;
          }
        }
        return { n, nModified: n, ok: 1 };
      }
      case "find": {
        const hook = this.faults.beforeFind;
        this.faults.beforeFind = null;
        hook?.();
        const ns = `${db}.${cmd.find}`;
        const docs = [...this.#collection(ns).values()].filter((d) => matches(d, cmd.filter));
        const batch = Number(cmd.batchSize ?? 101);
        return this.#cursorReply(ns, "firstBatch", docs, batch);
      }
      default:
        return {
          ok: 0,
          errmsg: `no such command: '${name}'`,
          code: 59,
          codeName: "CommandNotFound",
        };
    }
  }

  #hello(cmd: Document): Document {
    const me = `127.0.0.1:${this.port}`;
    const base = {
      helloOk: true,
      ismaster: true,
      isWritablePrimary: true,
      maxBsonObjectSize: 16 * 1024 * 1024,
      maxMessageSizeBytes: 48_000_000,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: 1,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
      ok: 1,
    };
    void cmd;
    if (this.options.standalone) return base;
    return {
      ...base,
      setName: this.options.setName,
      setVersion: 1,
      hosts: [me],
      primary: me,
      me,
      electionId: new ObjectId("7fffffff0000000000000001"),
      lastWrite: { lastWriteDate: new Date(), opTime: { ts: new Timestamp({ t: 1, i: 1 }), t: 1 } },
    };
  }

  #aggregate(db: string, cmd: Document): Document {
    const pipeline = cmd.pipeline as Document[];
    const stage = pipeline[0]?.$changeStream as Document | undefined;
    const ns = `${db}.${cmd.aggregate}`;
    if (!stage) return { ok: 0, errmsg: "only $changeStream pipelines are served", code: 2 };
    if (this.options.standalone) {
      return {
        ok: 0,
        errmsg: "The $changeStream stage is only supported on replica sets",
        code: 40573,
        codeName: "Location40573",
      };
    }
    const resumeAfter = stage.resumeAfter ?? stage.startAfter;
    this.changeStreams.push({
      resumeAfter: stage.resumeAfter ? seqOf(stage.resumeAfter) : null,
      startAfter: stage.startAfter ? seqOf(stage.startAfter) : null,
    });
    let after = this.#seq;
    if (resumeAfter !== undefined) {
      const seq = seqOf(resumeAfter);
      if (seq === null) {
        return { ok: 0, errmsg: "malformed resume token", code: 50811, codeName: "Location50811" };
      }
      if (seq < this.#oldest - 1) {
        return {
          ok: 0,
          errmsg:
            "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
          code: 286,
          codeName: "ChangeStreamHistoryLost",
        };
      }
      after = seq;
    } else if (stage.startAtOperationTime) {
      after = Math.max(this.#oldest - 1, (stage.startAtOperationTime as Timestamp).i - 1);
    }
    const id = ++this.#cursorId;
    this.#cursors.set(id, { kind: "change", ns, after, docs: [] });
    return {
      cursor: {
        id: Long.fromNumber(id),
        ns,
        firstBatch: [],
        postBatchResumeToken: tokenFor(after),
      },
      operationTime: new Timestamp({ t: Math.floor(Date.now() / 1000), i: after + 1 }),
      ok: 1,
    };
  }

  async #getMore(cmd: Document): Promise<Document | "close"> {
    const id = Number(cmd.getMore);
    const cursor = this.#cursors.get(id);
    if (!cursor) {
      return { ok: 0, errmsg: `cursor id ${id} not found`, code: 43, codeName: "CursorNotFound" };
    }
    const batch = Math.min(Number(cmd.batchSize ?? this.options.maxBatch), this.options.maxBatch);
    if (cursor.kind === "find") {
      if (this.faults.findGate) await this.faults.findGate;
      const docs = cursor.docs.splice(0, batch);
      const done = cursor.docs.length === 0;
      if (done) this.#cursors.delete(id);
      return {
        cursor: { id: Long.fromNumber(done ? 0 : id), ns: cursor.ns, nextBatch: docs },
        ok: 1,
      };
    }
    if (this.faults.closeOnGetMore > 0) {
      this.faults.closeOnGetMore--;
      return "close";
    }
    const fault = this.faults.getMoreErrors.shift();
    if (fault) return { ok: 0, ...fault };
    if (cursor.after < this.#oldest - 1) {
      return {
        ok: 0,
        errmsg:
          "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
        code: 286,
        codeName: "ChangeStreamHistoryLost",
      };
    }
    const waitMs = cmd.maxTimeMS !== undefined
      ? Number(cmd.maxTimeMS)
      : this.options.defaultAwaitMs;
    if (this.#seq <= cursor.after && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (!this.#cursors.has(id)) {
      return { ok: 0, errmsg: `cursor id ${id} not found`, code: 43, codeName: "CursorNotFound" };
    }
    const [db, ...rest] = cursor.ns.split(".");
    const coll = rest.join(".");
    const events: Document[] = [];
    let last = cursor.after;
    // Entries are in seq order with no holes: start right after the cursor.
    const first = this.#oplog.length === 0 ? 0 : Math.max(0, cursor.after + 1 - this.#oplog[0].seq);
    for (let i = first; i < this.#oplog.length; i++) {
      const entry = this.#oplog[i];
      if (events.length >= batch) break;
      last = entry.seq;
      if (entry.event.ns.db !== db || entry.event.ns.coll !== coll) continue;
      events.push(this.#withLookup(cursor.ns, entry.event));
    }
    if (events.length < batch) last = Math.max(last, this.#seq);
    cursor.after = last;
    return {
      cursor: {
        id: Long.fromNumber(id),
        ns: cursor.ns,
        nextBatch: events,
        postBatchResumeToken: tokenFor(last),
      },
      ok: 1,
    };
  }

  /** `fullDocument: "updateLookup"`: the document's current version for updates. */
  #withLookup(ns: string, event: Document): Document {
    if (event.operationType !== "update") return event;
    const doc = this.#collection(ns).get(key(event.documentKey._id));
    return { ...event, fullDocument: doc ? BSON.deserialize(BSON.serialize(doc)) : null };
  }

  #cursorReply(ns: string, field: string, docs: Document[], batch: number): Document {
    const first = docs.slice(0, batch);
    const rest = docs.slice(batch);
    let id = 0;
    if (rest.length > 0) {
      id = ++this.#cursorId;
      this.#cursors.set(id, { kind: "find", ns, after: 0, docs: rest });
    }
    return { cursor: { id: Long.fromNumber(id), ns, [field]: first }, ok: 1 };
  }
}

function key(id: unknown): string {
  return BSON.EJSON.stringify({ id }, { relaxed: false });
}

/** Equality on top-level fields; an empty or missing filter matches everything. */
function matches(doc: Document, filter: Document | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([k, v]) => key(doc[k]) === key(v));
}

function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split(".");
  let at = doc;
  for (const part of parts.slice(0, -1)) at = at[part] ??= {};
  at[parts[parts.length - 1]] = value;
}

let nextId = 1;

function header(length: number, responseTo: number, opCode: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, length, true);
  view.setInt32(4, nextId++, true);
  view.setInt32(8, responseTo, true);
  view.setInt32(12, opCode, true);
  return bytes;
}

function opMsg(responseTo: number, body: Document): Uint8Array {
  const doc = BSON.serialize(body);
  const out = new Uint8Array(16 + 4 + 1 + doc.byteLength);
  out.set(header(out.byteLength, responseTo, OP_MSG));
  out[20] = 0;
  out.set(doc, 21);
  return out;
}

function opReply(responseTo: number, body: Document): Uint8Array {
  const doc = BSON.serialize(body);
  const out = new Uint8Array(16 + 20 + doc.byteLength);
  out.set(header(out.byteLength, responseTo, OP_REPLY));
  const view = new DataView(out.buffer);
  view.setInt32(16, 0, true); // responseFlags
  view.setBigInt64(20, 0n, true); // cursorID
  view.setInt32(28, 0, true); // startingFrom
  view.setInt32(32, 1, true); // numberReturned
  out.set(doc, 36);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
}
