import { ReadingBlockBuilder } from "../readings/block.ts";
import type { ReadingBlock } from "../readings/block.ts";
import { encodeReadingBlock } from "../protocol/ingest_codec.ts";

/** One encoded chunk and the readings in it. */
export interface Chunk {
  bytes: Uint8Array;
  block: ReadingBlock;
}

/** Deno KV refuses values over 64 KiB. */
export const KV_VALUE_LIMIT = 65_536;

/**
 * Packs readings from many blocks into encoded log chunks of at most
 * `maxBytes`. A verified batch that fits is stored as it arrived; a block
 * that fits alone is encoded as it is, without copying;
 * otherwise rows are copied into a builder until the size estimate is full.
 */
export class Chunker {
  readonly #maxBytes: number;
  readonly #builder = new ReadingBlockBuilder({ capacity: 2048 });
  readonly #chunks: Chunk[] = [];

  constructor(options: { maxBytes?: number } = {}) {
    this.#maxBytes = Math.min(options.maxBytes ?? 60_000, KV_VALUE_LIMIT);
  }

  /** Adds a block's readings. */
  add(block: ReadingBlock): void {
    if (block.length === 0) return;
    // A verified batch that is small enough is stored as it arrived: no re-encoding.
    if (this.#builder.length === 0 && block.encoded && block.encoded.byteLength <= this.#maxBytes) {
      const { encoded } = block;
      // A view would store its whole backing buffer: copy it out.
      const bytes = encoded.byteLength === encoded.buffer.byteLength ? encoded : encoded.slice();
      this.#chunks.push({ bytes, block });
      return;
    }
    if (this.#builder.length === 0 && estimateBytes(block) <= this.#maxBytes) {
      this.#seal(block);
      return;
    }
    for (let row = 0; row < block.length; row++) {
      this.#builder.copyRow(block, row);
      if (this.#estimateBuilder() > this.#maxBytes) {
        this.#builder.dropLast();
        this.#flushBuilder();
        this.#builder.copyRow(block, row);
      }
    }
  }

  /** Seals what is pending and returns every chunk, emptying the chunker. */
  finish(): Uint8Array[] {
    return this.finishChunks().map((chunk) => chunk.bytes);
  }

  /** Like `finish`, with the readings each chunk holds. */
  finishChunks(): Chunk[] {
    this.#flushBuilder();
    return this.#chunks.splice(0);
  }

  /** Chunks sealed so far plus one if rows are pending. */
  get pendingChunks(): number {
    return this.#chunks.length + (this.#builder.length > 0 ? 1 : 0);
  }

  #flushBuilder(): void {
    if (this.#builder.length === 0) return;
    const block = this.#builder.build();
    this.#builder.reset();
    this.#seal(block);
  }

  #seal(block: ReadingBlock): void {
    const bytes = encodeReadingBlock(block);
    if (bytes.byteLength <= this.#maxBytes || block.length === 1) {
      if (bytes.byteLength > KV_VALUE_LIMIT) {
        throw new RangeError(
          `Cannot store a reading of ${bytes.byteLength} bytes in one log chunk`,
        );
      }
      this.#chunks.push({ bytes, block });
      return;
    }
    // The estimate was short: split in halves.
    const half = Math.floor(block.length / 2);
    for (const [from, to] of [[0, half], [half, block.length]]) {
      const part = new ReadingBlockBuilder({ capacity: to - from });
      for (let row = from; row < to; row++) part.copyRow(block, row);
      this.#seal(part.build());
    }
  }

  #estimateBuilder(): number {
    const b = this.#builder;
    return sizeEstimate(b.length, b.valueCount, b.stringCount, b.stringChars);
  }
}

/** An upper estimate of a block's encoded size. */
export function estimateBytes(block: ReadingBlock): number {
  let chars = 0;
  for (const s of block.strings) chars += s.length;
  return sizeEstimate(block.length, block.value.length, block.strings.length, chars);
}

// Columns per reading and value, plus UTF-8 (at most 3 bytes a UTF-16 unit) and
// per-string overhead (offset, length, terminator, padding).
function sizeEstimate(readings: number, values: number, strings: number, chars: number): number {
  return 96 + readings * 24 + values * 12 + strings * 12 + chars * 3;
}
