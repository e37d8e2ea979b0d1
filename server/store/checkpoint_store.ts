import { KEYS } from "./keys.ts";
import type { ReleasePages } from "./page_release.ts";

/** The source a checkpoint's cursor belongs to. */
export type CheckpointSource = "log" | "mongo";

/**
 * One shard's state as the store keeps it: a JSON header and pages of bytes.
 * In a save, a null page is unchanged since the checkpoint the store holds
 * (unless `full`); a loaded shard has every page. The store does not look inside.
 */
export interface StoredShard {
  header: unknown;
  pages: (Uint8Array | null)[];
  /** Every page is given: pages the stored checkpoint has beyond these are dropped. */
  full?: boolean;
}

/** The router's indexes: ids and names in index order; `epoch` changes when it starts over. */
export interface StoredRouter {
  sensors: string[];
  metrics: string[];
  epoch?: number;
}

/** Everything needed to resume: the source's cursor and the state as of it. */
export interface Checkpoint<S extends StoredShard = StoredShard> {
  /**
   * Where the state was read up to: the versionstamp of the last log chunk
   * (source "log"), or the change stream's resume token as canonical EJSON
   * (source "mongo").
   */
  cursor: string;
  /**
   * Each shard's own cursor (a round asks the shards one by one, the source
   * moving on between them): shard `s` holds the log up to `shardCursors[s]`,
   * none past `cursor`. Absent (older checkpoints, the MongoDB source): every
   * shard is at `cursor`.
   */
  shardCursors?: string[];
  /** Absent in checkpoints from before there was a choice: "log". */
  source?: CheckpointSource;
  /** What the source keeps with its cursor (the Mongo source's document ids); JSON. */
  sourceState?: unknown;
  router: StoredRouter;
  shards: S[];
  /** Other stages' parts, by name (e.g. the rollups not yet written), each saved whole. */
  extras?: Record<string, Uint8Array>;
  /** The generation that saved it (set by `load` and `save`). */
  seq?: number;
}

const CURRENT = [KEYS.checkpoint, "current"];
/**
 * `[..., <seq>]` → a `Garbage` record: what generation `seq`'s save made garbage (its
 * list, or itself when given up), deleted right after (also after a crash). One key per
 * generation, not one list: a list of every part a million-sensor save supersedes,
 * with one left over, outgrew a Deno KV value (64 KiB).
 */
const GARBAGE = [KEYS.checkpoint, "garbage"];
const PIECES = KEYS.checkpointPieces;
/** Pause after each commit of deletes: Deno KV's writer is the log's too (see `KeyDeletes`). */
const DELETE_PAUSE_MS = 10;
/** The part of a generation holding its garbage list's piece counts. */
const GARBAGE_COUNTS = "garbage_pieces";
/** Bytes per stored piece (Deno KV values are capped at 64 KiB). */
const PIECE_BYTES = 60_000;
/** Pieces per atomic commit: about 0.6 ms of the caller's thread each, so saving never holds it long. */
const PIECES_PER_COMMIT = 12;
/** Router ids per stored page (ids are only ever appended: old pages stay as they are). */
const ROUTER_PAGE = 4096;
/**
 * 3: the meta may hold per-shard cursors. A binary that knows only 2 would
 * take `cursor` as every shard's and skip the log between a shard's cursor
 * and it; it refuses a 3 and rebuilds from the log instead. 2 still loads.
 */
const FORMAT = 3;
const LOADABLE = new Set([2, 3]);

/** Where each part of a checkpoint lives: the generation that last wrote it. */
interface Meta {
  cursor: string;
  /** Per shard (absent: all at `cursor`). */
  shardCursors?: string[];
  source: CheckpointSource;
  router: { count: number; metrics: string[]; epoch: number; pages: number[]; pieces?: number[] };
  shards: { header: unknown; pages: number[]; pieces?: number[] }[];
  /** The generation holding the source's state, or -1 for none. */
  sourceState: number;
  /** Name → the generation holding that extra part. */
  extras?: Record<string, number>;
  /**
   * Pieces of each part where it was written (`pieces` beside `pages`, and these), so
   * that collecting a superseded part deletes its keys without listing them; 0 or
   * absent where not known (parts a checkpoint before them kept).
   */
  sourcePieces?: number;
  extraPieces?: Record<string, number>;
}

interface Pointer {
  format: number;
  seq: number;
  cursor: string;
  savedAt: number;
  /** Pieces of the meta (under this generation). */
  metaPieces: number;
}

/** A part's key prefix under a generation: ["checkpoint_pieces", seq, ...part]. */
type Part = (string | number)[];

/**
 * What a generation's save made garbage: the parts listed in its own part
 * `["garbage"]` (JSON, in `pieces` pieces, written before the pointer moved),
 * or, for a save given up, the whole generation.
 */
type Garbage = { pieces: number; counts?: number } | { whole: true };

/**
 * A superseded part and its piece count (0: not known, its pieces are listed to
 * delete them). Deno KV's `list` returns every value: listing a part only for its
 * keys read it back whole (about 11 MB a round at 5,000 sensors).
 */
interface GarbagePart {
  part: Part;
  pieces: number;
}

/**
 * Saves checkpoints to Deno KV, incrementally. A checkpoint is parts: the
 * router's id pages, each shard's pages, the source's state, and a meta
 * record that says which generation holds each part. A save writes only the
 * parts given (changed since the stored checkpoint) under a fresh
 * generation, in small commits, then lists the parts it supersedes (a part
 * of that generation) and makes it current by one atomic write of the
 * pointer and a record that the list counts; they are deleted right after.
 * A crash mid-save leaves the previous checkpoint intact.
 */
export class CheckpointStore {
  readonly #kv: Deno.Kv;
  /** What the current checkpoint is made of, once loaded or saved. */
  #meta: Meta | null = null;
  #seq = -1;
  #nextSeq = 0;
  /** Generations a crashed process began and never made current (see `#findOrphans`). */
  #orphans: number[] = [];
  /** Bytes written by the last save (for health and the bench). */
  lastSaveBytes = 0;
  readonly #release: ReleasePages;
  readonly #deletePauseMs: number;

  /**
   * `releasePages`: how a shard page's memory is given back once Deno KV has
   * committed it (`pageRelease`, section Checkpoints of ARCHITECTURE.md);
   * by default the buffer is detached (`transfer(0)`).
   */
  constructor(
    kv: Deno.Kv,
    options: {
      releasePages?: ReleasePages;
      /** Pause after each commit of the collection's deletes (default 10 ms; see `KeyDeletes`). */
      deletePauseMs?: number;
    } = {},
  ) {
    this.#kv = kv;
    this.#release = options.releasePages ?? ((buffer) => void buffer.transfer(0));
    this.#deletePauseMs = options.deletePauseMs ?? DELETE_PAUSE_MS;
  }

  /** The generation of the current checkpoint (-1 for none): saves give only what changed after it. */
  get seq(): number {
    return this.#seq;
  }

  /** The generation the next save gets. */
  nextSeq(): number {
    return Math.max(this.#nextSeq, this.#seq + 1);
  }

  /**
   * Saves a checkpoint (only the parts given) and makes it current. It takes
   * the shards' pages (each entry is set to null once handed to Deno KV, and
   * its buffer's memory released once committed: nothing else may hold one) and lets go
   * of the extras (each deleted once handed over). With
   * `collect` false (a stop's final save) the superseded pieces are only
   * listed, not deleted: the next save deletes them with its own. With
   * `after`, the checkpoint is made current only once it resolves (what it
   * derived from the state is durable elsewhere): its pieces are written
   * meanwhile, and deleted if it rejects (which the save then throws).
   * `fresh` as in `begin`.
   */
  async save(
    checkpoint: Checkpoint<StoredShard>,
    options: { seq?: number; collect?: boolean; after?: Promise<unknown>; fresh?: boolean } = {},
  ): Promise<void> {
    const save = this.begin({ seq: options.seq, fresh: options.fresh });
    // The extras first, each let go once Deno KV has it: the rollups not yet
    // written are ~30 MB at 100,000 sensors and were held for the whole save.
    await save.extras(checkpoint.extras ?? {});
    for (const [s, shard] of checkpoint.shards.entries()) await save.shard(s, shard);
    const { shards: _, ...rest } = checkpoint;
    await save.finish(rest, options);
    checkpoint.seq = save.seq;
  }

  /**
   * Starts a save of generation `seq` (default `nextSeq()`) whose parts are
   * given one at a time (`CheckpointSave`): a round hands each shard's pages
   * over as it is asked, so only one shard's are held at once. Nothing counts
   * until `finish` moves the pointer; one save at a time. `fresh`: the state
   * did not start from the stored checkpoint (nor from a save since), so its
   * router is not that one's continued even in the same epoch (a fresh
   * router's is 0 too): none of its id pages is reused.
   */
  begin(options: { seq?: number; fresh?: boolean } = {}): CheckpointSave {
    const seq = options.seq ?? this.nextSeq();
    this.#nextSeq = seq + 1;
    const writer = new PieceWriter(this.#kv, seq, this.#release);
    return new CheckpointSave(seq, this.#meta, writer, {
      commit: (meta, metaPieces, bytes, options) =>
        this.#commit(seq, meta, metaPieces, bytes, options),
      abandon: (options) => this.#abandon(seq, options),
    }, { reuseRouter: !options.fresh });
  }

  /**
   * Makes generation `seq` (its pieces written) current: the pointer's one
   * atomic write, with the record that lists what it supersedes.
   */
  async #commit(
    seq: number,
    meta: Meta,
    metaPieces: number,
    bytes: number,
    options: { collect?: boolean; base: Meta | null },
  ): Promise<void> {
    const previous = await this.#kv.get<Pointer>(CURRENT);
    const garbage = [
      ...superseded(previous.value, options.base, meta),
      // Generations a crashed process began and never made current.
      ...this.#orphans.filter((s) => s !== seq).map((s) => ({ part: [s], pieces: 0 })),
    ];
    const pointer: Pointer = {
      format: FORMAT,
      seq,
      cursor: meta.cursor,
      savedAt: Date.now(),
      metaPieces,
    };
    const op = this.#kv.atomic().check(previous).set(CURRENT, pointer);
    if (garbage.length > 0) {
      // The list is a part of this generation, in pieces like the meta: it counts only once
      // the record (with the pointer) says so, and a save that never moves the pointer
      // leaves it among its own pieces. Earlier saves' records (not collected yet) stay
      // as they are: nothing is read back and rewritten, so no value grows with them.
      // The list stays a `Part[]`, as older binaries read it; the counts are a part beside it
      // (an older binary collects the list and leaves that small part behind).
      const writer = new PieceWriter(this.#kv, seq, this.#release);
      const pieces = await writer.put(
        ["garbage"],
        new TextEncoder().encode(JSON.stringify(garbage.map((g) => g.part))),
      );
      const counts = await writer.put(
        [GARBAGE_COUNTS],
        new TextEncoder().encode(JSON.stringify(garbage.map((g) => g.pieces))),
      );
      await writer.flush();
      op.set([...GARBAGE, seq], { pieces, counts } satisfies Garbage);
    }
    const result = await op.commit();
    if (!result.ok) throw new Error("Cannot save checkpoint: another writer moved it");
    this.#orphans = [];
    this.#meta = meta;
    this.#seq = seq;
    this.lastSaveBytes = bytes;
    if (options.collect ?? true) await this.collectGarbage();
  }

  /**
   * The current checkpoint, or null when there is none (or, with `source`,
   * when it holds another source's cursor, or it was saved in an older
   * layout). Its shards have every page; their headers are as saved.
   */
  async load<S extends StoredShard = StoredShard>(
    options: {
      source?: CheckpointSource;
      /** Only these shards' pages (the others come with their header only) and no router ids. */
      shards?: readonly number[];
      /**
       * False: every shard comes with its header only (router ids, extras and
       * the source's state are read); `loadShard` reads the pages after.
       */
      pages?: boolean;
    } = {},
  ): Promise<Checkpoint<S> | null> {
    const { value: pointer } = await this.#kv.get<Pointer>(CURRENT);
    // Only a process's first load: later ones (a worker's replay) may overlap its own saves.
    if (this.#seq < 0 && this.#nextSeq === 0) await this.#findOrphans(pointer?.seq ?? -1);
    if (!pointer || !LOADABLE.has(pointer.format)) return null;
    const meta = JSON.parse(
      new TextDecoder().decode(await this.#read([pointer.seq, "meta"], pointer.metaPieces)),
    ) as Meta;
    // A load that read the pointer before a save of this store moved it must not take it back.
    if (pointer.seq >= this.#seq) {
      this.#meta = meta;
      this.#seq = pointer.seq;
    }
    if (options.source && meta.source !== options.source) return null;
    const only = options.shards ? new Set(options.shards) : null;
    const sensors: string[] = [];
    if (!only) {
      const routerPages = await Promise.all(
        meta.router.pages.map((gen, p) => this.#part([gen, "router", p])),
      );
      for (const page of routerPages) sensors.push(...JSON.parse(new TextDecoder().decode(page)));
      if (sensors.length !== meta.router.count) {
        throw new Error(
          `Cannot load checkpoint ${pointer.seq}: ${sensors.length} of ${meta.router.count} ids`,
        );
      }
    }
    const shards = await Promise.all(meta.shards.map(async (shard, s) => ({
      header: shard.header,
      pages: options.pages === false || (only && !only.has(s))
        ? []
        : await Promise.all(shard.pages.map((gen, p) => this.#part([gen, "shard", s, p]))),
      full: true,
    })));
    const extras: Record<string, Uint8Array> = {};
    if (!only) {
      for (const [name, gen] of Object.entries(meta.extras ?? {})) {
        extras[name] = await this.#part([gen, "extra", name]);
      }
    }
    const sourceState = meta.sourceState >= 0
      ? JSON.parse(new TextDecoder().decode(await this.#part([meta.sourceState, "source"])))
      : undefined;
    return {
      cursor: meta.cursor,
      ...(meta.shardCursors ? { shardCursors: meta.shardCursors } : {}),
      source: meta.source,
      sourceState,
      router: { sensors, metrics: meta.router.metrics, epoch: meta.router.epoch },
      shards: shards as unknown as S[],
      extras,
      seq: pointer.seq,
    };
  }

  /**
   * Shard `shard` of the checkpoint the last `load` read, with every page
   * (after `load({ pages: false })`: a caller can restore one shard while
   * the next is read). Throws if there is none or it changed since.
   */
  async loadShard<S extends StoredShard = StoredShard>(shard: number, seq: number): Promise<S> {
    const meta = this.#meta;
    const saved = meta?.shards[shard];
    if (!saved || this.#seq !== seq) {
      throw new Error(`Cannot load shard ${shard} of checkpoint ${seq}: it is not the current one`);
    }
    const pages = await Promise.all(
      saved.pages.map((gen, p) => this.#part([gen, "shard", shard, p])),
    );
    return { header: saved.header, pages, full: true } as unknown as S;
  }

  /**
   * Generations past the current one that have pieces: a process that died
   * mid-save (or mid-round) left them. The next save must not write under
   * one (a part with fewer pieces would be read back with the stale ones
   * after it), and lists them as garbage when it moves the pointer.
   */
  async #findOrphans(current: number): Promise<void> {
    let last = current;
    for await (const entry of this.#kv.list({ prefix: [PIECES] }, { reverse: true, limit: 1 })) {
      const seq = entry.key[1];
      if (typeof seq === "number" && seq > last) last = seq;
    }
    this.#orphans = [];
    for (let seq = current + 1; seq <= last; seq++) this.#orphans.push(seq);
    this.#nextSeq = Math.max(this.#nextSeq, last + 1);
  }

  /**
   * Lists every piece of generation `seq` (never made current) as garbage,
   * and collects it unless `collect` is false (a stop: the next save does).
   */
  async #abandon(seq: number, options: { collect?: boolean } = {}): Promise<void> {
    // Its own key: never the list its pieces may hold (that names the current checkpoint's parts).
    await this.#kv.set([...GARBAGE, seq], { whole: true } satisfies Garbage);
    if (options.collect ?? true) await this.collectGarbage();
  }

  /**
   * Deletes what earlier saves superseded or gave up (left by a crash or a
   * stop too), one generation's record at a time, in small commits; then the
   * older layout's one list, if an older binary left it.
   */
  async collectGarbage(): Promise<void> {
    for await (const record of this.#kv.list<Garbage>({ prefix: GARBAGE })) {
      const seq = record.key[GARBAGE.length] as number;
      if ("whole" in record.value) {
        await this.#deleteUnder([seq]);
      } else {
        // Not whole: its deletion had begun (the list goes only after every part it names).
        const list = (await this.#readWhole([seq, "garbage"], record.value.pieces)).bytes;
        const listed = list ? JSON.parse(new TextDecoder().decode(list)) as Part[] : [];
        const counts = record.value.counts === undefined
          ? null
          : (await this.#readWhole([seq, GARBAGE_COUNTS], record.value.counts)).bytes;
        const pieces = counts ? JSON.parse(new TextDecoder().decode(counts)) as number[] : [];
        const deletes = new KeyDeletes(this.#kv, this.#deletePauseMs);
        for (const [k, part] of listed.entries()) {
          const count = pieces[k] ?? 0;
          if (count > 0) {
            for (let i = 0; i < count; i++) await deletes.add([PIECES, ...part, i]);
          } else {
            await this.#listInto(deletes, part);
          }
        }
        await deletes.flush();
        // The list last: a crash before this point collects it again from the start.
        await this.#deleteUnder([seq, GARBAGE_COUNTS]);
        await this.#deleteUnder([seq, "garbage"]);
      }
      await this.#kv.atomic().check(record).delete(record.key).commit();
    }
    // The older layout's one list: a `Part[]` at `GARBAGE` itself (not under it, so not listed above).
    const old = await this.#kv.get<Part[]>(GARBAGE);
    if (!old.value) return;
    for (const part of old.value) await this.#deleteUnder(part);
    await this.#kv.atomic().check(old).delete(GARBAGE).commit();
  }

  /** Deletes every piece under a part's (or a generation's) prefix, found by listing. */
  async #deleteUnder(part: Part): Promise<void> {
    const deletes = new KeyDeletes(this.#kv, this.#deletePauseMs);
    await this.#listInto(deletes, part);
    await deletes.flush();
  }

  /** Adds every piece under a part's prefix to `deletes` (listing reads their values too). */
  async #listInto(deletes: KeyDeletes, part: Part): Promise<void> {
    for await (const entry of this.#kv.list({ prefix: [PIECES, ...part] })) {
      await deletes.add(entry.key);
    }
  }

  /** The pieces of one part, joined; `pieces` when known, else as listed. */
  async #read(part: Part, pieces?: number): Promise<Uint8Array> {
    const read = await this.#readWhole(part, pieces);
    if (read.bytes === null) {
      throw new Error(
        `Cannot load checkpoint part ${part.join("/")}: ${read.found} of ${pieces} pieces`,
      );
    }
    return read.bytes;
  }

  /**
   * The pieces of one part, joined, or null bytes when `pieces` is given and not
   * that many are there (errors of the store throw).
   */
  async #readWhole(
    part: Part,
    pieces?: number,
  ): Promise<{ bytes: Uint8Array | null; found: number }> {
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    for await (const entry of this.#kv.list<Uint8Array>({ prefix: [PIECES, ...part] })) {
      chunks.push(entry.value);
      bytes += entry.value.byteLength;
    }
    if (pieces !== undefined && chunks.length !== pieces) {
      return { bytes: null, found: chunks.length };
    }
    if (chunks.length === 1) return { bytes: chunks[0], found: 1 };
    const out = new Uint8Array(bytes);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return { bytes: out, found: chunks.length };
  }

  /** A part that must exist. */
  async #part(part: Part): Promise<Uint8Array> {
    const bytes = await this.#read(part);
    if (bytes.byteLength === 0) {
      throw new Error(`Cannot load checkpoint: part ${part.join("/")} is missing`);
    }
    return bytes;
  }
}

/** How a save reaches its store: the pointer's write, or the pieces listed as garbage. */
interface SaveEnds {
  commit(
    meta: Meta,
    metaPieces: number,
    bytes: number,
    options: { collect?: boolean; base: Meta | null },
  ): Promise<void>;
  abandon(options: { collect?: boolean }): Promise<void>;
}

/**
 * One save under way (`CheckpointStore.begin`): parts are written as they
 * are given, each shard's pages released once committed, and `finish` makes
 * it current. Parts not given keep the stored checkpoint's generation.
 */
export class CheckpointSave {
  readonly seq: number;
  readonly #base: Meta | null;
  readonly #writer: PieceWriter;
  readonly #ends: SaveEnds;
  /** Whether the stored checkpoint's router id pages may stand for this one's (see `begin`). */
  readonly #reuseRouter: boolean;
  readonly #shards: Meta["shards"] = [];
  #extras: Record<string, number> = {};
  #extraPieces: Record<string, number> = {};
  #ended = false;

  constructor(
    seq: number,
    base: Meta | null,
    writer: PieceWriter,
    ends: SaveEnds,
    options: { reuseRouter?: boolean } = {},
  ) {
    this.seq = seq;
    this.#reuseRouter = options.reuseRouter ?? true;
    this.#base = base;
    this.#writer = writer;
    this.#ends = ends;
  }

  /** Writes parts saved whole by name, each deleted from `extras` once handed to Deno KV. */
  async extras(extras: Record<string, Uint8Array>): Promise<void> {
    for (const [name, bytes] of Object.entries(extras)) {
      // Not freed: an extra may be its stage's to keep (the hub's id order is reused).
      this.#extraPieces[name] = await this.#writer.put(["extra", name], bytes);
      delete extras[name];
      this.#extras[name] = this.seq;
    }
  }

  /**
   * Writes shard `s`'s pages (a null page: unchanged since the stored
   * checkpoint, unless `full`), setting each entry to null once handed to
   * Deno KV; resolves once they are committed and their memory released.
   */
  async shard(s: number, shard: StoredShard): Promise<void> {
    const before = this.#base?.shards[s];
    const pages: number[] = [];
    const pieces: number[] = [];
    for (const [p, page] of shard.pages.entries()) {
      if (page === null) {
        const kept = shard.full ? undefined : before?.pages[p];
        if (kept === undefined) {
          throw new RangeError(
            `Cannot save checkpoint: page ${p} of shard ${s} is neither given nor stored`,
          );
        }
        pages.push(kept);
        pieces.push(before?.pieces?.[p] ?? 0);
        continue;
      }
      pieces.push(await this.#writer.put(["shard", s, p], page, { free: true }));
      // Let go of it: Deno KV has its pieces (at 100k sensors the pages are ~100-200 MB,
      // so they drain as they are written instead of all staying until the pointer moves).
      shard.pages[p] = null;
      pages.push(this.seq);
    }
    this.#shards[s] = { header: shard.header, pages, pieces };
    await this.#writer.flush();
  }

  /**
   * Writes the router, the source's state and the meta, then (once `after`
   * resolves) moves the pointer. Every shard must have been given. With
   * `collect` false the superseded pieces are only listed (see `save`).
   */
  async finish(
    checkpoint: Omit<Checkpoint<StoredShard>, "shards">,
    options: { collect?: boolean; after?: Promise<unknown> } = {},
  ): Promise<void> {
    const base = this.#base;
    const writer = this.#writer;
    const seq = this.seq;
    for (let s = 0; s < this.#shards.length; s++) {
      if (!this.#shards[s]) throw new RangeError(`Cannot save checkpoint: shard ${s} not given`);
    }
    await this.extras(checkpoint.extras ?? {});
    const router = checkpoint.router;
    const epoch = router.epoch ?? 0;
    // Router pages: those past the stored ones' full pages (ids are only appended within an epoch).
    const sameRouter = this.#reuseRouter && base !== null && base.router.epoch === epoch &&
      base.router.count <= router.sensors.length;
    const routerPages: number[] = [];
    const routerPieces: number[] = [];
    const pageCount = Math.ceil(router.sensors.length / ROUTER_PAGE);
    for (let p = 0; p < pageCount; p++) {
      if (sameRouter && (p + 1) * ROUTER_PAGE <= base!.router.count) {
        routerPages.push(base!.router.pages[p]);
        routerPieces.push(base!.router.pieces?.[p] ?? 0);
        continue;
      }
      const ids = router.sensors.slice(p * ROUTER_PAGE, (p + 1) * ROUTER_PAGE);
      routerPieces.push(
        await writer.put(["router", p], new TextEncoder().encode(JSON.stringify(ids))),
      );
      routerPages.push(seq);
    }
    let sourceState = -1;
    let sourcePieces = 0;
    if (checkpoint.sourceState !== undefined) {
      sourcePieces = await writer.put(
        ["source"],
        new TextEncoder().encode(JSON.stringify(checkpoint.sourceState)),
      );
      sourceState = seq;
    }
    const cursors = checkpoint.shardCursors;
    const meta: Meta = {
      cursor: checkpoint.cursor,
      // Kept only when they differ: all at `cursor` is what an absent list means.
      ...(cursors?.some((c) => c !== checkpoint.cursor) ? { shardCursors: [...cursors] } : {}),
      source: checkpoint.source ?? "log",
      router: {
        count: router.sensors.length,
        metrics: router.metrics,
        epoch,
        pages: routerPages,
        pieces: routerPieces,
      },
      shards: this.#shards,
      sourceState,
      extras: this.#extras,
      sourcePieces,
      extraPieces: this.#extraPieces,
    };
    const metaPieces = await writer.put(["meta"], new TextEncoder().encode(JSON.stringify(meta)));
    await writer.flush();
    if (options.after) {
      try {
        await options.after;
      } catch (error) {
        await this.abandon().catch(() => {});
        throw error;
      }
    }
    this.#ended = true;
    await this.#ends.commit(meta, metaPieces, writer.bytes, { collect: options.collect, base });
  }

  /**
   * Gives the save up (a shard had no state, a hook failed, a stop): its
   * pieces are listed as garbage, and collected unless `collect` is false.
   */
  async abandon(options: { collect?: boolean } = {}): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#writer.flush().catch(() => {});
    await this.#ends.abandon(options);
  }
}

/** The parts of the previous checkpoint that the new meta no longer uses (key prefixes). */
function superseded(previous: Pointer | null, base: Meta | null, meta: Meta): GarbagePart[] {
  if (!previous) return [];
  // A checkpoint of the older layout: everything under its generation goes.
  if (!LOADABLE.has(previous.format)) {
    const generation = (previous as unknown as { generation?: string }).generation;
    return generation === undefined ? [] : [{ part: [generation], pieces: 0 }];
  }
  const out: GarbagePart[] = [{ part: [previous.seq, "meta"], pieces: previous.metaPieces }];
  if (!base) return out;
  base.router.pages.forEach((gen, p) => {
    if (meta.router.pages[p] !== gen) {
      out.push({ part: [gen, "router", p], pieces: base.router.pieces?.[p] ?? 0 });
    }
  });
  base.shards.forEach((shard, s) =>
    shard.pages.forEach((gen, p) => {
      if (meta.shards[s]?.pages[p] !== gen) {
        out.push({ part: [gen, "shard", s, p], pieces: shard.pieces?.[p] ?? 0 });
      }
    })
  );
  if (base.sourceState >= 0 && base.sourceState !== meta.sourceState) {
    out.push({ part: [base.sourceState, "source"], pieces: base.sourcePieces ?? 0 });
  }
  for (const [name, gen] of Object.entries(base.extras ?? {})) {
    if (meta.extras?.[name] !== gen) {
      out.push({ part: [gen, "extra", name], pieces: base.extraPieces?.[name] ?? 0 });
    }
  }
  return out;
}

/**
 * Deletes pieces in commits of at most `PIECES_PER_COMMIT`, as they are added, pausing
 * after each: freeing a piece makes SQLite read its overflow pages on Deno KV's writer,
 * which is the log's too. Deleted back to back (in commits of 200 or of 12), a round's
 * pieces took the log's ingest at 100,000 readings/s down to 72–78% for a second; with
 * the pause, 99.5% (listing them back had paced it, at the cost of reading them).
 */
class KeyDeletes {
  readonly #kv: Deno.Kv;
  readonly #pauseMs: number;
  #op: Deno.AtomicOperation | null = null;
  #count = 0;

  constructor(kv: Deno.Kv, pauseMs: number) {
    this.#kv = kv;
    this.#pauseMs = pauseMs;
  }

  async add(key: Deno.KvKey): Promise<void> {
    (this.#op ??= this.#kv.atomic()).delete(key);
    if (++this.#count === PIECES_PER_COMMIT) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.#op) return;
    await this.#op.commit();
    this.#op = null;
    this.#count = 0;
    if (this.#pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#pauseMs));
  }
}

/** Commits of pieces in flight at once: the KV writer thread is never idle waiting for this one. */
const COMMITS_IN_FLIGHT = 4;

/**
 * Writes parts in pieces of at most `PIECE_BYTES`, gathering pieces into
 * commits of at most `PIECES_PER_COMMIT`: each commit is short, and other
 * writers (the log) get their turn between them. Up to `COMMITS_IN_FLIGHT`
 * commits are handed to Deno KV at once (they are independent: only the
 * pointer, written after all of them, makes them count).
 */
class PieceWriter {
  readonly #kv: Deno.Kv;
  readonly #seq: number;
  readonly #release: ReleasePages;
  #op: Deno.AtomicOperation | null = null;
  #pending = 0;
  readonly #inFlight: Promise<void>[] = [];
  /** Every commit made, by index; the one being gathered is index `#commits.length`. */
  readonly #commits: Promise<void>[] = [];
  /** Buffers to free once the commits from `first` to `last` (their pieces') are done. */
  #toFree: { buffer: ArrayBuffer; first: number; last: number }[] = [];
  bytes = 0;

  constructor(kv: Deno.Kv, seq: number, release: ReleasePages) {
    this.#kv = kv;
    this.#seq = seq;
    this.#release = release;
  }

  /**
   * Writes one part; returns its piece count. With `free`, the part is the
   * save's (nothing else reads it): its buffer's memory is released as soon
   * as Deno KV has committed its pieces, rather than whenever V8 next
   * collects (at 100,000 sensors a checkpoint is ~65 MB of such buffers,
   * made at once).
   */
  async put(part: Part, bytes: Uint8Array, options: { free?: boolean } = {}): Promise<number> {
    const pieces = Math.max(1, Math.ceil(bytes.byteLength / PIECE_BYTES));
    const first = this.#commits.length;
    const buffer = bytes.buffer;
    if (
      options.free && buffer instanceof ArrayBuffer && bytes.byteOffset === 0 &&
      bytes.byteLength === buffer.byteLength
    ) {
      // Known before the pieces are gathered: the commit that takes the last one frees it.
      this.#toFree.push({
        buffer,
        first,
        last: first + Math.floor((this.#pending + pieces - 1) / PIECES_PER_COMMIT),
      });
    }
    for (let i = 0; i < pieces; i++) {
      this.#op ??= this.#kv.atomic();
      // Deno KV stores a view's range only: pieces are views of the part, not copies of
      // it (a copy was another allocation of every checkpoint byte). The part is not
      // written to again, and stays referenced until the commits holding its pieces are done.
      const piece = pieces === 1 ? bytes : bytes.subarray(i * PIECE_BYTES, (i + 1) * PIECE_BYTES);
      this.#op.set([PIECES, this.#seq, ...part, i], piece);
      if (++this.#pending === PIECES_PER_COMMIT) await this.#commit();
    }
    this.bytes += bytes.byteLength;
    return pieces;
  }

  /** Commits what is gathered and waits until every commit is durable. */
  async flush(): Promise<void> {
    await this.#commit();
    // allSettled first: a failure must not leave commits running unobserved.
    const results = await Promise.allSettled(this.#inFlight.splice(0));
    for (const r of results) if (r.status === "rejected") throw r.reason;
  }

  /** Hands the gathered pieces to Deno KV; waits for the oldest commit when too many run. */
  async #commit(): Promise<void> {
    if (this.#op) {
      const op = this.#op;
      this.#op = null;
      this.#pending = 0;
      const done = op.commit().then((result) => {
        if (!result.ok) throw new Error("Cannot save checkpoint: a commit was refused");
      });
      done.catch(() => {}); // observed in flush or below
      this.#inFlight.push(done);
      const index = this.#commits.push(done) - 1;
      const due = this.#toFree.filter((f) => f.last === index);
      if (due.length > 0) {
        this.#toFree = this.#toFree.filter((f) => f.last !== index);
        for (const { buffer, first } of due) {
          // Its memory goes back now (a failed save releases nothing).
          Promise.all(this.#commits.slice(first, index + 1)).then(
            () => this.#release(buffer),
            () => {},
          );
        }
      }
    }
    if (this.#inFlight.length >= COMMITS_IN_FLIGHT) await this.#inFlight.shift();
  }
}
