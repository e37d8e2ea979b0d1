import { KEYS } from "./keys.ts";

/** The source a checkpoint's cursor belongs to. */
export type CheckpointSource = "log" | "mongo";

/**
 * One shard's state as the store keeps it: its packed numbers go into the
 * buffer as raw float64s, every other field into the JSON header (where
 * -Infinity becomes null). The store does not look inside.
 */
export interface StoredShard {
  windows: Float64Array;
}

/** Everything needed to resume: the source's cursor and the state as of it. */
export interface Checkpoint<S extends StoredShard = StoredShard> {
  /**
   * Where the state was read up to: the versionstamp of the last log chunk
   * (source "log"), or the change stream's resume token as canonical EJSON
   * (source "mongo").
   */
  cursor: string;
  /** Absent in checkpoints from before there was a choice: "log". */
  source?: CheckpointSource;
  /** What the source keeps with its cursor (the Mongo source's document ids); JSON. */
  sourceState?: unknown;
  router: { sensors: string[]; metrics: string[] };
  shards: S[];
}

const CURRENT = [KEYS.checkpoint, "current"];
const PIECES = KEYS.checkpointPieces;
/** Bytes per stored piece (Deno KV values are capped at 64 KiB). */
const PIECE_BYTES = 60_000;
/** Pieces per atomic commit (commits are capped at 800 KiB). */
const PIECES_PER_COMMIT = 12;

interface Pointer {
  generation: string;
  pieces: number;
  bytes: number;
  cursor: string;
  savedAt: number;
}

/**
 * Saves checkpoints to Deno KV. A checkpoint is serialized to one buffer,
 * stored in pieces under a fresh generation, and only then made current by
 * one atomic write of the pointer, so a crash mid-save leaves the previous
 * checkpoint intact. The previous generation is deleted afterwards.
 */
export class CheckpointStore {
  readonly #kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  async save(checkpoint: Checkpoint<StoredShard>): Promise<void> {
    const bytes = serialize(checkpoint);
    const generation = `${Date.now().toString(36)}-${crypto.randomUUID()}`;
    const pieces = Math.ceil(bytes.byteLength / PIECE_BYTES);
    for (let first = 0; first < pieces; first += PIECES_PER_COMMIT) {
      const op = this.#kv.atomic();
      for (let i = first; i < Math.min(pieces, first + PIECES_PER_COMMIT); i++) {
        op.set([PIECES, generation, i], bytes.slice(i * PIECE_BYTES, (i + 1) * PIECE_BYTES));
      }
      if (!(await op.commit()).ok) throw new Error("Cannot save checkpoint: a commit was refused");
    }
    const previous = await this.#kv.get<Pointer>(CURRENT);
    const pointer: Pointer = {
      generation,
      pieces,
      bytes: bytes.byteLength,
      cursor: checkpoint.cursor,
      savedAt: Date.now(),
    };
    const result = await this.#kv.atomic().check(previous).set(CURRENT, pointer).commit();
    if (!result.ok) throw new Error("Cannot save checkpoint: another writer moved it");
    if (previous.value) await this.#deleteGeneration(previous.value.generation);
  }

  /**
   * The current checkpoint, or null when there is none (or, with `source`,
   * when it holds another source's cursor). Its shards have the fields they
   * were saved with; `S` names that shape.
   */
  async load<S extends StoredShard = StoredShard>(
    options: { source?: CheckpointSource } = {},
  ): Promise<Checkpoint<S> | null> {
    const { value: pointer } = await this.#kv.get<Pointer>(CURRENT);
    if (!pointer) return null;
    const bytes = new Uint8Array(pointer.bytes);
    let at = 0;
    for await (const entry of this.#kv.list<Uint8Array>({ prefix: [PIECES, pointer.generation] })) {
      bytes.set(entry.value, at);
      at += entry.value.byteLength;
    }
    if (at !== pointer.bytes) {
      throw new Error(
        `Cannot load checkpoint ${pointer.generation}: ${at} of ${pointer.bytes} bytes found`,
      );
    }
    const checkpoint = deserialize(bytes) as Checkpoint<S>;
    if (options.source && checkpoint.source !== options.source) return null;
    return checkpoint;
  }

  async #deleteGeneration(generation: string): Promise<void> {
    let op = this.#kv.atomic();
    let count = 0;
    for await (const entry of this.#kv.list({ prefix: [PIECES, generation] })) {
      op.delete(entry.key);
      if (++count % 500 === 0) {
        await op.commit();
        op = this.#kv.atomic();
      }
    }
    await op.commit();
  }
}

// Layout: u32 header length, header JSON, zero padding to 8 bytes, then every
// shard's window numbers back to back (lengths in the header).
function serialize(checkpoint: Checkpoint<StoredShard>): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({
    cursor: checkpoint.cursor,
    source: checkpoint.source ?? "log",
    sourceState: checkpoint.sourceState,
    router: checkpoint.router,
    shards: checkpoint.shards.map(({ windows, ...fields }) => ({
      ...fields,
      numbers: windows.length,
    })),
  }));
  const start = align8(4 + header.byteLength);
  const numbers = checkpoint.shards.reduce((n, s) => n + s.windows.length, 0);
  const bytes = new Uint8Array(start + numbers * 8);
  new DataView(bytes.buffer).setUint32(0, header.byteLength, true);
  bytes.set(header, 4);
  const floats = new Float64Array(bytes.buffer, start, numbers);
  let at = 0;
  for (const shard of checkpoint.shards) {
    floats.set(shard.windows, at);
    at += shard.windows.length;
  }
  return bytes;
}

function deserialize(bytes: Uint8Array): Checkpoint<StoredShard> {
  const length = new DataView(bytes.buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
  let at = align8(4 + length);
  const shards = (header.shards as { numbers: number }[]).map(({ numbers, ...fields }) => {
    const windows = new Float64Array(bytes.buffer, at, numbers).slice();
    at += numbers * 8;
    return { ...fields, windows };
  });
  return {
    cursor: header.cursor,
    source: header.source ?? "log",
    sourceState: header.sourceState,
    router: header.router,
    shards,
  };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
